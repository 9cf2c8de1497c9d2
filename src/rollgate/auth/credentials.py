"""API tokens (``rg_<id>_<secret>``) and browser session ids: made here, stored as sha256.

The token id is public (it names the token in lists, audit events and revocations); only
the sha256 of the secret part is stored, so a copy of the store lets nobody sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "rg"
ID_BYTES = 8  # 16 hex characters
SECRET_BYTES = 32


@dataclass(frozen=True)
class TokenParts:
    """A token split into its public id and its secret."""

    id: str
    secret: str

    @property
    def token(self) -> str:
        """The whole token, as the caller sends it."""
        return f"{PREFIX}_{self.id}_{self.secret}"


def sha256(value: str) -> str:
    """The hex sha256 of a secret, the only form in which it is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_secret(value: str, stored_sha256: str) -> bool:
    """True when ``value`` hashes to ``stored_sha256`` (constant-time comparison)."""
    return hmac.compare_digest(sha256(value), stored_sha256)


def new_token() -> TokenParts:
    """A fresh random token."""
    return TokenParts(id=secrets.token_hex(ID_BYTES), secret=secrets.token_urlsafe(SECRET_BYTES))


def parse_token(token: str) -> TokenParts | None:
    """Split ``rg_<id>_<secret>``; None when it does not have that shape."""
    prefix, _, rest = token.strip().partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(token_id) != 2 * ID_BYTES or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in token_id):
        return None
    return TokenParts(id=token_id, secret=secret)


def new_session_id() -> str:
    """A fresh random browser session id (the cookie's value)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session, derived from its id so pages can always show it.

    It is an HMAC of the session id: knowing it (it is in every page) does not reveal the
    id, which stays in an HttpOnly cookie.
    """
    return hmac.new(session_id.encode("utf-8"), b"rollgate csrf", hashlib.sha256).hexdigest()
