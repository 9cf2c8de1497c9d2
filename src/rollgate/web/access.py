"""Who is looking at the dashboard, what they may do there, and the CSRF check of forms.

The visitor is the API's principal (``rollgate.api.auth``): a browser session (cookie
``rollgate_session``), an API token, or, in open mode (no users in the store), the local
admin. Every page needs viewer somewhere (and on the environment it shows); what a page
offers depends on the roles held per environment, and every action checks the role again
on the server, whatever the page showed.

CSRF: a session's form carries the session's token (checked by the principal dependency
and again here). Open mode has no session, so its forms carry a double-submit token: a
random ``rollgate_csrf`` cookie (HttpOnly, SameSite=Strict) repeated in the form.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from rollgate.api.auth import CSRF_FIELD, CSRF_HEADER, OptionalPrincipalDep
from rollgate.api.common import get_project
from rollgate.auth.principal import Principal
from rollgate.errors import CsrfError
from rollgate.web.forms import Form

CSRF_COOKIE = "rollgate_csrf"
OPEN_ACTOR = "dashboard"


class LoginRequired(Exception):
    """No credentials: the visitor is sent to the login form."""


@dataclass(frozen=True)
class Visitor:
    """The person behind a request, as far as the dashboard is concerned."""

    principal: Principal
    csrf_token: str
    environments: tuple[str, ...] = ()
    new_csrf_cookie: bool = False

    @property
    def name(self) -> str:
        """The user's name."""
        return self.principal.name

    @property
    def open_mode(self) -> bool:
        """No users exist: everyone is the local admin."""
        return self.principal.via == "local"

    @property
    def signed_in(self) -> bool:
        """A browser session (the page shows a log-out button)."""
        return self.principal.via == "session"

    @property
    def actor(self) -> str:
        """The name recorded on runs and in the audit log."""
        return OPEN_ACTOR if self.open_mode else self.principal.name

    @property
    def via(self) -> str | None:
        """How the visitor signed in, for audit events (``session``; None in open mode)."""
        return self.principal.audit_via

    def can(self, role: str, environment: str) -> bool:
        """The visitor holds ``role`` (or a higher one) in ``environment``."""
        return self.principal.can(role, environment)

    def require(self, role: str, environment: str) -> None:
        """Raise Forbidden (403) unless the visitor holds ``role`` in ``environment``."""
        self.principal.check(role, environment)

    def visible(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """The environments among ``names`` the visitor may view."""
        return [env for env in names if self.can("viewer", env)]

    @property
    def can_deploy_somewhere(self) -> bool:
        """Deployer in at least one environment of the spec."""
        return any(self.can("deployer", env) for env in self.environments)


def double_submit_token(request: Request) -> tuple[str, bool]:
    """The browser's ``rollgate_csrf`` token, or a new one (True: set the cookie)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) >= 32:
        return token, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    """Give the browser its double-submit token."""
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")


def check_double_submit(request: Request, form: Form) -> None:
    """Refuse a form whose token does not match the browser's ``rollgate_csrf`` cookie."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    if len(expected) < 32 or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("the form's CSRF token is missing or stale: reload the page and "
                        "try again")


def _csrf(request: Request, principal: Principal) -> tuple[str, bool]:
    """The visitor's CSRF token, and whether it is a new double-submit cookie to set."""
    if principal.via == "session":
        return principal.csrf_token or "", False
    if principal.via != "local":
        return "", False  # an API token is not sent by browsers on their own: no CSRF
    return double_submit_token(request)


def resolve_visitor(request: Request, principal: OptionalPrincipalDep) -> Visitor:
    """The visitor of a request (kept on ``request.state``); viewer somewhere at least."""
    if principal is None:
        raise LoginRequired
    token, fresh = _csrf(request, principal)
    environments = tuple(get_project(request).spec.environments)
    visitor = Visitor(principal, token, environments, fresh)
    request.state.visitor = visitor
    principal.check_somewhere("viewer")
    return visitor


def finish_response(request: Request, response: Response) -> None:
    """Set the cookie the visitor needs (the open-mode CSRF cookie)."""
    visitor = getattr(request.state, "visitor", None)
    if isinstance(visitor, Visitor) and visitor.new_csrf_cookie:
        set_csrf_cookie(request, response, visitor.csrf_token)


def check_csrf(request: Request, visitor: Visitor, form: Form | None) -> None:
    """Refuse a state-changing request without the visitor's CSRF token."""
    if visitor.principal.via == "token":
        return
    if visitor.open_mode:
        check_double_submit(request, form or Form())
        return
    sent = (form or Form()).get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    expected = visitor.csrf_token
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("the form's CSRF token is missing or stale: reload the page and "
                        "try again")


VisitorDep = Annotated[Visitor, Depends(resolve_visitor)]
