"""Accounts, sign-in, browser sessions and API tokens: the functions behind the API and CLI.

Every change is appended to the audit log; no password, token or session id ever is. Open
mode: while the store has no user at all, callers are the local admin (``LOCAL``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from rollgate.auth import credentials, passwords
from rollgate.auth.principal import ANY_ENV, Grant, Principal, Via, role_rank
from rollgate.errors import RateLimited, RefusedError, Unauthenticated, UsageError
from rollgate.store import accounts, audit
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.store.tables import ApiToken, User

SESSION_TTL = timedelta(hours=12)
LOGIN_WINDOW = timedelta(minutes=5)
MAX_FAILURES = 5
DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 3650
TOUCH_EVERY = timedelta(minutes=1)  # how often a token's last_used_at is written

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
HOW_TO_SIGN_IN = ("send `Authorization: Bearer rg_…` (get a token with `rollgate login "
                  "--server URL`, `rollgate tokens create` or POST /api/auth/token) or log in "
                  "with POST /api/auth/session")


def is_open(db: Database) -> bool:
    """True while the store has no user: the server acts for the local admin."""
    with db.session() as s:
        return not accounts.any_user(session=s)


# -- users -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserInfo:
    """A user as lists show it (never the password hash)."""

    name: str
    created_at: datetime
    disabled_at: datetime | None
    grants: tuple[Grant, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"name": self.name, "created_at": self.created_at,
                "disabled_at": self.disabled_at,
                "grants": [{"role": g.role, "environment": g.environment}
                           for g in self.grants]}


def check_name(name: str) -> None:
    """Refuse a user name that would be awkward in logs, URLs and the audit log."""
    if not NAME.fullmatch(name):
        raise UsageError(f"user name {name!r} is not valid: use 1-64 letters, digits and "
                         ". _ @ -, starting with a letter or digit")


def check_grant(role: str, environment: str, known: Collection[str] | None) -> None:
    """Refuse an unknown role, or an environment the spec does not have (when known)."""
    role_rank(role)
    if environment != ANY_ENV and known is not None and environment not in known:
        raise UsageError(f"unknown environment {environment!r}; the spec has: "
                         f"{', '.join(known)} (or * for every environment)")


def _info(s: Session, user: User) -> UserInfo:
    grants = tuple(Grant(g.role, g.environment)
                   for g in accounts.grants_of(session=s, user_id=user.id))
    return UserInfo(user.name, user.created_at, user.disabled_at, grants)


def _record(s: Session, actor: str, action: str, target: str, via: str | None,
            **detail: Any) -> None:
    audit.record(session=s, actor=actor, action=action, target=target,
                 detail={**detail, **({"via": via} if via else {})})


def add_user(db: Database, *, name: str, password: str, role: str, environment: str,
             actor: str, via: str | None = None,
             known_envs: Collection[str] | None = None) -> UserInfo:
    """Create a user with one grant."""
    check_name(name)
    check_grant(role, environment, known_envs)
    passwords.check_strength(password)
    hashed = passwords.hash_password(password)
    with db.session() as s:
        user = accounts.add_user(session=s, name=name, password_hash=hashed)
        accounts.add_grant(session=s, user_id=user.id, role=role, environment=environment)
        _record(s, actor, "user.created", f"user:{name}", via, role=role,
                environment=environment)
        return _info(s, user)


def list_users(db: Database) -> list[UserInfo]:
    """Every user with their grants."""
    with db.session() as s:
        grants = accounts.all_grants(session=s)
        return [UserInfo(u.name, u.created_at, u.disabled_at,
                         tuple(Grant(g.role, g.environment) for g in grants.get(u.id, [])))
                for u in accounts.list_users(session=s)]


def get_user(db: Database, name: str) -> UserInfo:
    """One user with their grants."""
    with db.session() as s:
        return _info(s, accounts.get_user(session=s, name=name))


def grant(db: Database, *, name: str, role: str, environment: str, actor: str,
          via: str | None = None, known_envs: Collection[str] | None = None) -> UserInfo:
    """Give a user a role in an environment (``*``: every one); a no-op when they have it."""
    check_grant(role, environment, known_envs)
    with db.session() as s:
        user = accounts.get_user(session=s, name=name)
        if accounts.add_grant(session=s, user_id=user.id, role=role, environment=environment):
            _record(s, actor, "user.granted", f"user:{name}", via, role=role,
                    environment=environment)
        return _info(s, user)


def revoke(db: Database, *, name: str, role: str, environment: str, actor: str,
           via: str | None = None) -> UserInfo:
    """Take a grant away; UsageError naming what the user has when there is no such grant."""
    role_rank(role)
    with db.session() as s:
        user = accounts.get_user(session=s, name=name)
        if (role, environment) == ("admin", ANY_ENV) and user.disabled_at is None:
            _keep_an_admin(s, user, f"taking admin on * from {name}")
        if not accounts.remove_grant(session=s, user_id=user.id, role=role,
                                     environment=environment):
            held = ", ".join(str(g) for g in _info(s, user).grants) or "no grants"
            raise UsageError(f"{name} has no grant {role} on {environment} (grants are "
                             f"removed exactly as given); they have: {held}")
        _record(s, actor, "user.revoked", f"user:{name}", via, role=role,
                environment=environment)
        return _info(s, user)


def disable(db: Database, *, name: str, actor: str, via: str | None = None) -> UserInfo:
    """Disable a user: their sessions end and their tokens are refused from now on."""
    with db.session() as s:
        user = accounts.get_user(session=s, name=name)
        if user.disabled_at is None:
            _keep_an_admin(s, user, f"disabling {name}")
            accounts.disable_user(session=s, user=user)
            _record(s, actor, "user.disabled", f"user:{name}", via)
        return _info(s, user)


def enable(db: Database, *, name: str, actor: str, via: str | None = None) -> UserInfo:
    """Enable a disabled user again: they can log in, and their unrevoked, unexpired
    tokens are accepted again (revoke those first if they may have leaked)."""
    with db.session() as s:
        user = accounts.get_user(session=s, name=name)
        if user.disabled_at is not None:
            user.disabled_at = None
            _record(s, actor, "user.enabled", f"user:{name}", via)
        return _info(s, user)


def _keep_an_admin(s: Session, user: User, doing: str) -> None:
    """Refuse to leave the server without an active admin on every environment."""
    admins = accounts.active_admins(session=s)
    if user.id not in admins or admins - {user.id}:
        return
    raise RefusedError(f"{doing} would leave no active admin on every environment (*): grant "
                       "admin to someone else first (`rollgate users grant NAME admin --env "
                       "'*'`)")


def _principal(s: Session, user: User, via: Via, *, token_id: str | None = None,
               csrf_token: str | None = None) -> Principal:
    return Principal(name=user.name, grants=_info(s, user).grants, via=via,
                     token_id=token_id, csrf_token=csrf_token)


# -- signing in --------------------------------------------------------------------------


def _throttle(db: Database, username: str, client: str) -> None:
    """RateLimited after MAX_FAILURES failed logins of this user from this client."""
    at = now()
    with db.session() as s:
        failures = accounts.recent_failures(session=s, username=username, client=client,
                                            since=at - LOGIN_WINDOW)
    if len(failures) < MAX_FAILURES:
        return
    free_at = failures[len(failures) - MAX_FAILURES] + LOGIN_WINDOW
    wait = max(1, math.ceil((free_at - at).total_seconds()))
    raise RateLimited(f"too many failed logins for {username} from {client}: try again in "
                      f"{wait} s (or ask an admin to check the account)", retry_after=wait)


def _fail(db: Database, username: str, client: str, reason: str, message: str) -> None:
    with db.session() as s:
        accounts.add_failure(session=s, username=username, client=client,
                             before=now() - LOGIN_WINDOW)
        audit.record(session=s, actor=username, action="login.failed",
                     target=f"user:{username}", detail={"client": client, "reason": reason})
    raise Unauthenticated(message)


def authenticate(db: Database, *, username: str, password: str, client: str,
                 purpose: str) -> None:
    """Check a user name and password, with the login rate limit; audit either way.

    ``purpose`` (session or token) is recorded with the login event.
    """
    username = "".join(c if c.isprintable() else "?" for c in username[:64])
    _throttle(db, username, client)
    with db.session() as s:
        user = accounts.find_user(session=s, name=username)
        stored = user.password_hash if user else passwords.dummy_hash()
        disabled = user is not None and user.disabled_at is not None
    good = passwords.verify_password(password, stored) and user is not None
    if not good:
        reason = "wrong password" if user is not None else "unknown user"
        _fail(db, username, client, reason, "wrong user name or password; check both and try "
              f"again (after {MAX_FAILURES} failures logins are refused for a while)")
    if disabled:
        _fail(db, username, client, "user disabled",
              f"user {username} is disabled; ask an admin for a new account")
    with db.session() as s:
        accounts.clear_failures(session=s, username=username, client=client)
        audit.record(session=s, actor=username, action="login.succeeded",
                     target=f"user:{username}", detail={"client": client, "for": purpose})


# -- browser sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    """A browser session just opened: the cookie value and its CSRF token."""

    session_id: str
    principal: Principal
    expires_at: datetime

    @property
    def csrf_token(self) -> str:
        """The token to send back with every state-changing request."""
        return credentials.csrf_token(self.session_id)


def start_session(db: Database, *, username: str, password: str, client: str) -> NewSession:
    """Log in with a password and open a browser session."""
    authenticate(db, username=username, password=password, client=client, purpose="session")
    session_id = credentials.new_session_id()
    csrf = credentials.csrf_token(session_id)
    expires_at = now() + SESSION_TTL
    with db.session() as s:
        user = accounts.get_user(session=s, name=username)
        accounts.prune_sessions(session=s)
        accounts.add_session(session=s, id_sha256=credentials.sha256(session_id),
                             user_id=user.id, csrf_sha256=credentials.sha256(csrf),
                             expires_at=expires_at)
        principal = _principal(s, user, "session", csrf_token=csrf)
    return NewSession(session_id, principal, expires_at)


def session_principal(db: Database, session_id: str) -> Principal:
    """The principal of a browser session; Unauthenticated when it ended or expired."""
    csrf = credentials.csrf_token(session_id)
    with db.read() as s:
        row = accounts.find_session(session=s, id_sha256=credentials.sha256(session_id))
        if (row is None or row.expires_at <= now()
                or not credentials.same_secret(csrf, row.csrf_sha256)):
            raise Unauthenticated("your session ended or expired; log in again (POST "
                                  "/api/auth/session, or the dashboard's login page)")
        user = s.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            raise Unauthenticated("your user is disabled; ask an admin for a new account")
        return _principal(s, user, "session", csrf_token=csrf)


def end_session(db: Database, session_id: str, actor: str) -> bool:
    """Log out: forget the session; False when it was already gone."""
    with db.session() as s:
        ended = accounts.end_session(session=s, id_sha256=credentials.sha256(session_id))
        if ended:
            audit.record(session=s, actor=actor, action="session.ended", target=f"user:{actor}",
                         detail={"via": "session"})
        return ended


# -- API tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it (never its secret)."""

    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def state(self) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now():
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"id": self.id, "user": self.user, "name": self.name,
                "created_at": self.created_at, "expires_at": self.expires_at,
                "revoked_at": self.revoked_at, "last_used_at": self.last_used_at,
                "state": self.state}


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``token`` is shown this once and never again."""

    id: str
    token: str
    user: str
    name: str
    expires_at: datetime | None


def _token_info(row: ApiToken, user: str) -> TokenInfo:
    return TokenInfo(row.id, user, row.name, row.created_at, row.expires_at, row.revoked_at,
                     row.last_used_at)


def create_token(db: Database, *, user: str, name: str, expires_in_days: int,
                 actor: str, via: str | None = None) -> NewToken:
    """Create an API token for a user; its secret is returned once and stored as sha256."""
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise UsageError(f"expires_in_days must be between 1 and {MAX_TOKEN_DAYS}")
    if not name.strip() or len(name) > 128 or not name.isprintable():
        raise UsageError("a token needs a name of 1-128 printable characters, e.g. ci-deploys")
    parts = credentials.new_token()
    expires_at = now() + timedelta(days=expires_in_days)
    with db.session() as s:
        owner = accounts.get_user(session=s, name=user)
        if owner.disabled_at is not None:
            raise RefusedError(f"user {user} is disabled; tokens are for active users")
        accounts.add_token(session=s, token_id=parts.id, user_id=owner.id, name=name,
                           secret_sha256=credentials.sha256(parts.secret),
                           expires_at=expires_at)
        _record(s, actor, "token.created", f"token:{parts.id}", via, user=user, name=name,
                expires_at=expires_at.isoformat(timespec="seconds"))
    return NewToken(parts.id, parts.token, user, name, expires_at)


def token_principal(db: Database, token: str) -> Principal:
    """The principal of an API token; Unauthenticated saying why when it is not valid."""
    parts = credentials.parse_token(token)
    if parts is None:
        raise Unauthenticated("the bearer token is not a rollgate token (rg_<id>_<secret>); "
                              + HOW_TO_SIGN_IN)
    with db.read() as s:
        found = accounts.find_token_with_user(session=s, token_id=parts.id)
    if found is None or not credentials.same_secret(parts.secret, found[0].secret_sha256):
        raise Unauthenticated("the token is unknown or mistyped; " + HOW_TO_SIGN_IN)
    row, user, grants = found
    at = now()
    if row.revoked_at is not None:
        raise Unauthenticated(f"token {row.id} was revoked; " + HOW_TO_SIGN_IN)
    if row.expires_at is not None and row.expires_at <= at:
        raise Unauthenticated(f"token {row.id} expired at {row.expires_at:%Y-%m-%d %H:%M} "
                              "UTC; " + HOW_TO_SIGN_IN)
    if user.disabled_at is not None:
        raise Unauthenticated(f"the user of token {row.id} is disabled; ask an admin")
    principal = Principal(name=user.name, grants=tuple(Grant(*g) for g in grants),
                          via="token", token_id=row.id)
    if row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY:
        # Written at most once a minute per token, so a read costs no write.
        with db.session() as s:
            accounts.touch_token(session=s, token_id=row.id, at=at)
    return principal


def list_tokens(db: Database, user: str | None = None) -> list[TokenInfo]:
    """Tokens, newest first; only one user's when given."""
    with db.session() as s:
        owner = accounts.get_user(session=s, name=user).id if user else None
        return [_token_info(row, name)
                for row, name in accounts.list_tokens(session=s, user_id=owner)]


def get_token(db: Database, token_id: str) -> TokenInfo:
    """One token (never its secret)."""
    with db.session() as s:
        row = accounts.get_token(session=s, token_id=token_id)
        owner = s.get(User, row.user_id)
        return _token_info(row, owner.name if owner else "?")


def revoke_token(db: Database, *, token_id: str, actor: str,
                 via: str | None = None) -> TokenInfo:
    """Revoke a token: refused from the very next request. A no-op when already revoked."""
    with db.session() as s:
        row = accounts.get_token(session=s, token_id=token_id)
        owner = s.get(User, row.user_id)
        name = owner.name if owner else "?"
        if row.revoked_at is None:
            row.revoked_at = now()
            _record(s, actor, "token.revoked", f"token:{row.id}", via, user=name,
                    name=row.name)
        return _token_info(row, name)

