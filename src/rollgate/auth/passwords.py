"""Password hashing with scrypt (stdlib): a random salt per password, constant-time checks.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key in base64), so the
cost parameters can be raised later without breaking existing hashes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from rollgate.errors import UsageError

N, R, P = 2**14, 8, 1  # 16 MiB and about 50 ms per hash
KEY_BYTES = 32
SALT_BYTES = 16
MIN_LENGTH = 8
MAX_LENGTH = 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          dklen=KEY_BYTES, maxmem=2 * 128 * n * r * p + 2**20)


def check_strength(password: str) -> None:
    """Refuse a password that is too short or absurdly long, saying what is needed."""
    if len(password) < MIN_LENGTH:
        raise UsageError(f"a password needs at least {MIN_LENGTH} characters; choose a longer "
                         "one (a passphrase of a few words works well)")
    if len(password) > MAX_LENGTH:
        raise UsageError(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, ready to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_LENGTH:
            return False
        expected = base64.b64decode(key)
        got = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash to check against when the user does not exist, so timing does not tell."""
    return hash_password(secrets.token_urlsafe(16))
