"""Roles, grants and the principal: who is calling, and what they may do where.

Roles are ordered viewer < deployer < approver < admin; each includes the ones below. A
grant gives a role in one environment, or in every environment (``*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rollgate.errors import Forbidden, UsageError

ROLES = ("viewer", "deployer", "approver", "admin")
ANY_ENV = "*"
Via = Literal["token", "session", "local"]


def role_rank(role: str) -> int:
    """The position of a role (higher includes lower); UsageError for an unknown role."""
    try:
        return ROLES.index(role)
    except ValueError:
        raise UsageError(f"unknown role {role!r}; roles are {', '.join(ROLES)}") from None


def where(environment: str) -> str:
    """An environment as a message says it."""
    return "every environment (*)" if environment == ANY_ENV else environment


@dataclass(frozen=True)
class Grant:
    """A role in one environment, or in every environment (``*``)."""

    role: str
    environment: str

    def covers(self, role: str, environment: str) -> bool:
        """True when this grant gives ``role`` (or more) in ``environment``."""
        if role_rank(self.role) < role_rank(role):
            return False
        return self.environment in (ANY_ENV, environment)

    def __str__(self) -> str:
        return f"{self.role} on {self.environment}"


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user by token or session, or the local open-mode admin."""

    name: str
    grants: tuple[Grant, ...]
    via: Via
    token_id: str | None = None
    csrf_token: str | None = None  # a session's CSRF token, for pages that render forms

    def can(self, role: str, environment: str) -> bool:
        """True when a grant gives ``role`` (or more) in ``environment``."""
        return any(g.covers(role, environment) for g in self.grants)

    def check(self, role: str, environment: str) -> None:
        """Raise Forbidden saying which role on which environment is needed."""
        if not self.can(role, environment):
            raise Forbidden(f"this needs {role} on {where(environment)}; {self.has()}. "
                            f"{_ASK}")

    def environments(self, role: str = "viewer") -> frozenset[str] | None:
        """Environments where the principal has ``role``; None means every one."""
        if any(g.environment == ANY_ENV and g.covers(role, ANY_ENV) for g in self.grants):
            return None
        return frozenset(g.environment for g in self.grants if g.covers(role, g.environment))

    def check_somewhere(self, role: str = "viewer") -> None:
        """Raise Forbidden unless the principal has ``role`` in at least one environment."""
        if self.environments(role) == frozenset():
            raise Forbidden(f"this needs {role} on at least one environment; {self.has()}. "
                            f"{_ASK}")

    def has(self) -> str:
        """What the principal holds, as a message says it."""
        held = ", ".join(str(g) for g in self.grants) or "no role on any environment"
        return f"{self.name} has {held}"

    @property
    def audit_via(self) -> str | None:
        """How the caller signed in, for audit details: ``token:<id>``, ``session`` or None."""
        if self.via == "token":
            return f"token:{self.token_id}"
        return "session" if self.via == "session" else None


_ASK = "An admin can grant it with `rollgate users grant NAME ROLE --env ENV`"

LOCAL = Principal(name="local", grants=(Grant("admin", ANY_ENV),), via="local")
