"""Roles, grants, passwords, token shapes and the loopback check, without a server."""

from __future__ import annotations

import pytest

from rollgate.api.server import is_loopback
from rollgate.auth import credentials, passwords
from rollgate.auth.principal import LOCAL, Grant, Principal
from rollgate.errors import Forbidden, UsageError


def _vera() -> Principal:
    return Principal("vera", (Grant("deployer", "staging"), Grant("viewer", "production")),
                     via="token", token_id="0123456789abcdef")


def test_each_role_includes_the_ones_below_on_its_environment_only() -> None:
    vera = _vera()
    assert vera.can("viewer", "staging") and vera.can("deployer", "staging")
    assert not vera.can("approver", "staging")
    assert vera.can("viewer", "production") and not vera.can("deployer", "production")
    assert not vera.can("viewer", "edge") and not vera.can("viewer", "*")
    assert vera.environments("viewer") == {"staging", "production"}
    assert vera.environments("deployer") == {"staging"}
    assert LOCAL.can("admin", "*") and LOCAL.environments() is None
    assert vera.audit_via == "token:0123456789abcdef" and LOCAL.audit_via is None


def test_a_refusal_says_what_is_needed_and_what_the_principal_has() -> None:
    with pytest.raises(Forbidden) as refused:
        _vera().check("deployer", "production")
    assert refused.value.http_status == 403 and refused.value.code == "forbidden"
    assert "needs deployer on production" in refused.value.message
    assert "vera has deployer on staging, viewer on production" in refused.value.message
    assert "rollgate users grant" in refused.value.message
    with pytest.raises(Forbidden, match="admin on every environment"):
        _vera().check("admin", "*")
    nobody = Principal("nobody", (), via="session")
    with pytest.raises(Forbidden, match="nobody has no role on any environment"):
        nobody.check_somewhere()
    with pytest.raises(UsageError, match="roles are viewer, deployer, approver, admin"):
        _vera().can("owner", "staging")


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = passwords.hash_password("pass phrase"), passwords.hash_password("pass phrase")
    assert first.startswith("scrypt$") and first != second  # a salt per hash
    assert "pass phrase" not in first
    assert passwords.verify_password("pass phrase", first)
    assert not passwords.verify_password("pass phrasE", first)
    assert not passwords.verify_password("pass phrase", "garbage")
    with pytest.raises(UsageError, match="at least 8 characters"):
        passwords.check_strength("short")


def test_tokens_have_a_public_id_and_a_secret_kept_only_as_sha256() -> None:
    new = credentials.new_token()
    assert new.token.startswith(f"rg_{new.id}_")
    assert credentials.parse_token(new.token) == new
    assert credentials.same_secret(new.secret, credentials.sha256(new.secret))
    for bad in ("", "rg_", "rg_nothex_secret", "xx_0123456789abcdef_s", "rg_0123456789abcdef_"):
        assert credentials.parse_token(bad) is None, bad
    session_id = credentials.new_session_id()
    assert credentials.csrf_token(session_id) == credentials.csrf_token(session_id)
    assert session_id not in credentials.csrf_token(session_id)


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.10"))
