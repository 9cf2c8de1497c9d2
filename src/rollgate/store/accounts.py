"""Users, their grants, API tokens, browser sessions and failed logins in the store.

Only hashes of secrets reach these tables (see ``rollgate.auth``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from rollgate.errors import NotFoundError, UsageError
from rollgate.store.db import add_unique
from rollgate.store.runs import now
from rollgate.store.tables import ApiToken, LoginFailure, RoleGrant, User, WebSession

# -- users -------------------------------------------------------------------------------


def any_user(*, session: Session) -> bool:
    """True once at least one user exists (disabled ones count: the server stays closed)."""
    return bool(session.scalar(select(exists().where(User.id.is_not(None)))))


def find_user(*, session: Session, name: str) -> User | None:
    """The user of that name, or None (a name PostgreSQL cannot hold is nobody's)."""
    if "\x00" in name:
        return None
    return session.scalar(select(User).where(User.name == name))


def get_user(*, session: Session, name: str) -> User:
    """The user of that name, or a NotFoundError saying how to list them."""
    user = find_user(session=session, name=name)
    if user is None:
        raise NotFoundError(f"no user {name!r}; `rollgate users list` shows the users")
    return user


def add_user(*, session: Session, name: str, password_hash: str) -> User:
    """A new user; UsageError when the name is taken."""
    user = User(name=name, password_hash=password_hash, created_at=now())
    if not add_unique(session, user):
        raise UsageError(f"user {name!r} already exists; give them a role with "
                         f"`rollgate users grant {name} ROLE --env ENV`")
    return user


def list_users(*, session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def disable_user(*, session: Session, user: User) -> None:
    """Disable a user and end their browser sessions (their tokens are refused from now)."""
    if user.disabled_at is None:
        user.disabled_at = now()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


# -- grants ------------------------------------------------------------------------------


def grants_of(*, session: Session, user_id: int) -> list[RoleGrant]:
    """A user's grants."""
    return list(session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id)
                                .order_by(RoleGrant.environment, RoleGrant.role)))


def all_grants(*, session: Session) -> dict[int, list[RoleGrant]]:
    """Every grant, by user id."""
    found: dict[int, list[RoleGrant]] = {}
    for g in session.scalars(select(RoleGrant).order_by(RoleGrant.environment,
                                                        RoleGrant.role)):
        found.setdefault(g.user_id, []).append(g)
    return found


def add_grant(*, session: Session, user_id: int, role: str, environment: str) -> bool:
    """Give a role; False when the user already had exactly this grant."""
    if session.scalar(select(RoleGrant).where(RoleGrant.user_id == user_id,
                                              RoleGrant.role == role,
                                              RoleGrant.environment == environment)):
        return False
    session.add(RoleGrant(user_id=user_id, role=role, environment=environment,
                          created_at=now()))
    return True


def remove_grant(*, session: Session, user_id: int, role: str, environment: str) -> bool:
    """Take a role away; False when the user did not have exactly this grant."""
    if "\x00" in environment:
        return False
    result = session.execute(delete(RoleGrant).where(RoleGrant.user_id == user_id,
                                                     RoleGrant.role == role,
                                                     RoleGrant.environment == environment))
    return bool(getattr(result, "rowcount", 0))


def active_admins(*, session: Session) -> set[int]:
    """Ids of the users who are not disabled and hold admin on every environment."""
    return set(session.scalars(
        select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.role == "admin", RoleGrant.environment == "*",
               User.disabled_at.is_(None))))


# -- API tokens --------------------------------------------------------------------------


def add_token(*, session: Session, token_id: str, user_id: int, name: str,
              secret_sha256: str, expires_at: datetime | None) -> ApiToken:
    """Record a new token (its secret only as sha256)."""
    row = ApiToken(id=token_id, user_id=user_id, name=name, secret_sha256=secret_sha256,
                   created_at=now(), expires_at=expires_at)
    session.add(row)
    return row


def find_token(*, session: Session, token_id: str) -> ApiToken | None:
    """A token by its public id, or None."""
    if "\x00" in token_id:
        return None
    return session.get(ApiToken, token_id)


def find_token_with_user(*, session: Session, token_id: str
                         ) -> tuple[ApiToken, User, list[tuple[str, str]]] | None:
    """A token, its user and the user's grants (role, environment), in one query; None
    when there is no such token."""
    if "\x00" in token_id:
        return None
    rows = session.execute(
        select(ApiToken, User, RoleGrant.role, RoleGrant.environment)
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
        .where(ApiToken.id == token_id)
        .order_by(RoleGrant.environment, RoleGrant.role)).all()
    if not rows:
        return None
    return rows[0][0], rows[0][1], [(r[2], r[3]) for r in rows if r[2] is not None]


def touch_token(*, session: Session, token_id: str, at: datetime) -> None:
    """Record that a token was used at ``at``."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


def get_token(*, session: Session, token_id: str) -> ApiToken:
    """A token by its public id, or a NotFoundError saying how to list them."""
    row = find_token(session=session, token_id=token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id!r}; `rollgate tokens list` (or GET "
                            "/api/tokens) shows the tokens")
    return row


def list_tokens(*, session: Session, user_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens with their user's name, newest first; only one user's when given."""
    query = (select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
             .order_by(ApiToken.created_at.desc(), ApiToken.id))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [(row, name) for row, name in session.execute(query).tuples()]


# -- browser sessions --------------------------------------------------------------------


def add_session(*, session: Session, id_sha256: str, user_id: int, csrf_sha256: str,
                expires_at: datetime) -> None:
    """Record a browser session (its id and CSRF token only as sha256)."""
    session.add(WebSession(id_sha256=id_sha256, user_id=user_id, csrf_sha256=csrf_sha256,
                           created_at=now(), expires_at=expires_at))


def find_session(*, session: Session, id_sha256: str) -> WebSession | None:
    """A browser session by the sha256 of its id, or None."""
    return session.get(WebSession, id_sha256)


def end_session(*, session: Session, id_sha256: str) -> bool:
    """Forget a browser session; False when there was none."""
    result = session.execute(delete(WebSession).where(WebSession.id_sha256 == id_sha256))
    return bool(getattr(result, "rowcount", 0))


def prune_sessions(*, session: Session) -> None:
    """Forget every expired browser session."""
    session.execute(delete(WebSession).where(WebSession.expires_at < now()))


# -- failed logins -----------------------------------------------------------------------


def recent_failures(*, session: Session, username: str, client: str,
                    since: datetime) -> list[datetime]:
    """When logins of ``username`` from ``client`` failed since ``since``, oldest first."""
    return list(session.scalars(
        select(LoginFailure.at).where(LoginFailure.username == username,
                                      LoginFailure.client == client,
                                      LoginFailure.at >= since)
        .order_by(LoginFailure.at)))


def add_failure(*, session: Session, username: str, client: str, before: datetime) -> None:
    """Record a failed login, and forget this key's failures older than ``before``."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                               LoginFailure.client == client,
                                               LoginFailure.at < before))
    session.add(LoginFailure(username=username, client=client, at=now()))


def clear_failures(*, session: Session, username: str, client: str) -> None:
    """Forget the failed logins of ``username`` from ``client`` (after a good one)."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                               LoginFailure.client == client))
