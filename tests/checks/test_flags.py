"""``kind: flags``: seed 000's "feature flags: ensure defaults are safe" per environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, context, run
from tests.checks.servers import HttpApp, Reply, Request, dead_port

EXPECT = {
    "production": {"new_checkout": False, "stripe": False, "theme": "classic"},
    "staging": {"new_checkout": True},
}


@pytest.fixture
def app() -> Iterator[HttpApp]:
    def flags(request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return Reply(401, {"error": "unauthorized"})
        return Reply(200, {"data": {"flags": {"new_checkout": True, "stripe": 1,
                                              "theme": "classic"}}})

    with HttpApp() as server:
        server.route("GET", "/api/flags", flags)
        yield server


@pytest.fixture
def flag_files(tmp_path: Path) -> Path:
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "production.yaml").write_text(
        "# safe defaults\nnew_checkout: false\nstripe: false\ntheme: classic\n")
    (tmp_path / "flags" / "staging.json").write_text('{"new_checkout": false}')
    return tmp_path


class TestFlagsContract(CheckKindContract):
    kind = "flags"

    @pytest.fixture
    def passing(self, flag_files: Path) -> Case:
        return Case({"kind": "flags", "file": "flags/{environment}.yaml", "expect": EXPECT},
                    context(spec_dir=flag_files),
                    "flags/production.yaml: 3 flags as expected in production")

    @pytest.fixture
    def failing(self, app: HttpApp) -> Case:
        config = {"kind": "flags", "url": "/api/flags", "at": "data.flags",
                  "headers": {"Authorization": "Bearer ${FLAGS_TOKEN}"}, "expect": EXPECT}
        return Case(config, context(base_url=app.url, env={"FLAGS_TOKEN": SECRET}),
                    "GET /api/flags: 2 of 3 flags differ in production: new_checkout is true "
                    "(expected false); stripe is 1 (expected false)")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case({"kind": "flags", "url": f"http://127.0.0.1:{dead_port()}/flags",
                     "expect": EXPECT}, context(), "ConnectError")


def test_each_environment_has_its_own_expectations(flag_files: Path) -> None:
    config = {"kind": "flags", "file": "flags/staging.json", "expect": EXPECT}
    result = run(config, context(spec_dir=flag_files, environment="staging"))
    assert result.detail == ("flags/staging.json: 1 of 1 flags differ in staging: "
                             "new_checkout is false (expected true)")


def test_a_missing_flag_differs(flag_files: Path) -> None:
    config = {"kind": "flags", "file": "flags/staging.json",
              "expect": {"production": {"voip": False}}}
    result = run(config, context(spec_dir=flag_files))
    assert result.detail.endswith("voip missing (expected false)")


def test_an_environment_without_expectations_passes_with_a_warning(flag_files: Path) -> None:
    config = {"kind": "flags", "file": "flags/staging.json",
              "expect": {"production": {"stripe": False}}}
    result = run(config, context(spec_dir=flag_files, environment="staging"))
    assert (result.status, result.detail) == (
        "warning", "no flags expected in staging (expect has: production)")
    assert result.strict().status == "fail"


def test_the_token_header_is_sent_and_never_shown(app: HttpApp) -> None:
    config = {"kind": "flags", "url": "/api/flags", "at": "data.flags",
              "headers": {"Authorization": "Bearer ${FLAGS_TOKEN}"},
              "expect": {"production": {"theme": "classic"}}}
    assert run(config, context(base_url=app.url, env={"FLAGS_TOKEN": SECRET})).ok
    refused = run(config, context(base_url=app.url, env={"FLAGS_TOKEN": "nope"}))
    assert refused.detail == "GET /api/flags: HTTP 401, expected 200"


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    (tmp_path / "flags.yaml").write_text("a: [unclosed\n")
    result = run({"kind": "flags", "file": "flags.yaml", "expect": EXPECT},
                 context(spec_dir=tmp_path))
    assert result.detail.startswith("flags.yaml is not JSON or YAML")
