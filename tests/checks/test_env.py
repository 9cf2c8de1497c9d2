"""``kind: env``: required variables and secrets, by name only (seeds 000 and 002)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollgate.checks.context import CheckContext
from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, context, run

SHORT_SECRET = "only-twelve!"  # 12 characters: a NEXTAUTH_SECRET needs 32


def env_ctx(tmp_path: Path, environment: str = "production", **fields: Any) -> CheckContext:
    return context(spec_dir=tmp_path, environment=environment, **fields)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Dotenv files for staging and production; production's lacks STRIPE_KEY."""
    (tmp_path / ".env.staging").write_text(
        f"DATABASE_URL=postgresql://app:{SECRET}@db/app\nNEXTAUTH_SECRET={SECRET * 2}\n"
        "STRIPE_KEY=sk_test_123\n# a comment\n", encoding="utf-8")
    (tmp_path / ".env.production").write_text(
        f'DATABASE_URL="postgresql://app:{SECRET}@db/app"\nNEXTAUTH_SECRET={SHORT_SECRET}\n'
        "JWT_SECRET=\n", encoding="utf-8")
    return tmp_path


FILES = {"staging": ".env.staging", "production": ".env.production"}


class TestEnvContract(CheckKindContract):
    kind = "env"

    @pytest.fixture
    def passing(self, project: Path) -> Case:
        config = {"kind": "env", "required": ["DATABASE_URL", "NEXTAUTH_SECRET"],
                  "min_length": {"NEXTAUTH_SECRET": 32}, "files": FILES}
        return Case(config, env_ctx(project, "staging"),
                    "staging: 2 required set, 1 long enough")

    @pytest.fixture
    def failing(self, project: Path) -> Case:
        config = {"kind": "env", "required": ["DATABASE_URL", "JWT_SECRET", "NEXTAUTH_URL"],
                  "min_length": {"NEXTAUTH_SECRET": 32}, "files": FILES}
        return Case(config, env_ctx(project), "production: missing: NEXTAUTH_URL; empty: "
                    "JWT_SECRET; too short: NEXTAUTH_SECRET (at least 32 characters)")

    @pytest.fixture
    def unreachable(self, tmp_path: Path) -> Case:
        config = {"kind": "env", "required": ["DATABASE_URL"], "files": FILES}
        return Case(config, env_ctx(tmp_path), "files.production: .env.production does not "
                    "exist")


def test_values_never_appear_in_the_result(project: Path) -> None:
    for environment in ("staging", "production"):
        result = run({"kind": "env", "required": ["DATABASE_URL", "NEXTAUTH_SECRET"],
                      "min_length": {"NEXTAUTH_SECRET": 32, "DATABASE_URL": 500},
                      "files": FILES, "same_names_in": ["staging", "production"]},
                     env_ctx(project, environment))
        assert not result.ok
        for value in (SECRET, SHORT_SECRET, "sk_test_123"):
            assert value not in result.detail
        assert str(len(SHORT_SECRET)) not in result.detail  # not even the length


def test_names_must_match_across_environments(project: Path) -> None:
    result = run({"kind": "env", "files": FILES, "same_names_in": ["staging", "production"]},
                 env_ctx(project))
    assert result.detail == ("production: staging lacks JWT_SECRET (set in production); "
                             "production lacks STRIPE_KEY (set in staging)")


def test_variables_come_from_rollgate_the_service_and_the_file(project: Path) -> None:
    config = {"kind": "env", "required": ["FROM_ROLLGATE", "FROM_SERVICE", "STRIPE_KEY"],
              "files": FILES}
    ctx = env_ctx(project, "staging", environ={"FROM_ROLLGATE": "1"},
                  env={"FROM_SERVICE": "1"})
    assert run(config, ctx).ok
    assert not run({**config, "files": {}}, ctx).ok  # STRIPE_KEY is only in the file


def test_an_unknown_environment_is_named(project: Path) -> None:
    result = run({"kind": "env", "files": {"prod": ".env.production"},
                  "required": ["X"]}, env_ctx(project))
    assert result.detail == ("files: unknown environment 'prod' (defined: staging, "
                             "production)")


def test_a_check_that_checks_nothing_is_a_spec_error() -> None:
    from pydantic import ValidationError

    from tests.checks.helpers import check

    with pytest.raises(ValidationError, match="give required, min_length or same_names_in"):
        check({"kind": "env", "files": FILES})
