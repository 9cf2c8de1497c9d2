"""rollgate.yaml loading: every problem is reported as FILE:LINE: field.path: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollgate.errors import SpecError
from rollgate.spec.loader import load_spec, parse_spec

# Line numbers below refer to this text.
BASE = """\
project: shop
services:
  api:
    command: python -m http.server {port}
    port: 8000
environments:
  production:
    strategy:
      kind: blue-green
    checks: [home]
checks:
  home:
    kind: http
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    """Write ``text`` as rollgate.yaml, load it, return the problems with the path cut off."""
    path = tmp_path / "rollgate.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.exit_code == 2
    assert str(caught.value) == "\n".join(caught.value.problems)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems)
    return [f"rollgate.yaml:{p.removeprefix(prefix)}" for p in caught.value.problems]


def test_base_spec_loads(tmp_path: Path) -> None:
    path = tmp_path / "rollgate.yaml"
    path.write_text(BASE, encoding="utf-8")
    spec = load_spec(path)
    assert spec.services["api"].port == 8000
    assert spec.environments["production"].strategy.kind == "blue-green"


def test_wrong_type(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("port: 8000", "port: eighty"))
    assert found == ["rollgate.yaml:5: services.api.port: must be an integer (got 'eighty')"]


def test_number_where_string_expected_says_to_quote(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("port: 8000", "port: 8000\n    env: {WORKERS: 4}"))
    assert found == [
        "rollgate.yaml:6: services.api.env.WORKERS: must be a string (got 4; quote it: '4')"
    ]


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("port: 8000", "port: 8000\n    bogus: 1"))
    assert found == [
        "rollgate.yaml:6: services.api.bogus: unknown key "
        "(allowed: command, port, replicas, env, workdir, health, stop_timeout, checks, "
        "database)"
    ]


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("port: 8000", "port: 8000\n    replica: 2"))
    assert found[0].startswith(
        "rollgate.yaml:6: services.api.replica: unknown key, did you mean 'replicas'? (allowed: "
    )


def test_missing_field_points_at_parent(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("    command: python -m http.server {port}\n", ""))
    assert found == ["rollgate.yaml:3: services.api.command: required field missing"]


def test_missing_top_level_field_is_line_1(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("project: shop\n", "# no project\n"))
    assert found == ["rollgate.yaml:1: project: required field missing"]


def test_bad_yaml(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("checks: [home]", "checks: [home\n    x: 1"))
    assert len(found) == 1
    assert found[0].startswith("rollgate.yaml:11: invalid YAML: ")
    assert "started on line 10" in found[0]


def test_bad_strategy_kind(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("kind: blue-green", "kind: blue-gren"))
    assert found == [
        "rollgate.yaml:9: environments.production.strategy.kind: "
        "must be one of recreate, rolling, blue-green, canary"
    ]


def test_missing_strategy_kind(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("kind: blue-green", "keep_warm: 5m"))
    assert found == [
        "rollgate.yaml:8: environments.production.strategy.kind: "
        "required field missing (must be one of recreate, rolling, blue-green, canary)"
    ]


def test_error_inside_union_member_has_no_tag_in_path(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("kind: blue-green", "kind: blue-green\n      x: 1"))
    assert found[0].startswith("rollgate.yaml:10: environments.production.strategy.x: unknown key")


def test_bad_duration(tmp_path: Path) -> None:
    found = problems(
        tmp_path, BASE.replace("kind: blue-green", "kind: blue-green\n      keep_warm: soon")
    )
    assert found == [
        "rollgate.yaml:10: environments.production.strategy.keep_warm: "
        "must be a duration like 30s, 5m or 1h (got 'soon')"
    ]


def test_bad_canary_step(tmp_path: Path) -> None:
    canary = "kind: canary\n      steps:\n        - weight: 10\n        - {weight: 50, pause: 1m}"
    found = problems(tmp_path, BASE.replace("kind: blue-green", canary))
    assert found == [
        "rollgate.yaml:12: environments.production.strategy.steps[1]: "
        "must be a mapping with exactly one of weight, pause or analysis"
    ]


def test_duplicate_key(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("port: 8000", "port: 8000\n    port: 8001"))
    assert found == [
        'rollgate.yaml:6: invalid YAML: found duplicate key "port" with value "8001" '
        '(original value: "8000")'
    ]


def test_unknown_check_reference(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("checks: [home]", "checks: [home, hone]"))
    assert found == [
        "rollgate.yaml:10: environments.production.checks[1]: "
        "unknown check 'hone' (did you mean 'home'?)"
    ]


def test_unknown_service_in_ports(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("checks: [home]", "ports:\n      db: 5432"))
    assert found == [
        "rollgate.yaml:11: environments.production.ports.db: unknown service 'db' (defined: api)"
    ]


def test_bad_name_as_key(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE.replace("  api:", "  API:"))
    assert found == [
        "rollgate.yaml:3: services.API: "
        "must be lowercase letters, digits and dashes, starting with a letter (got 'API')"
    ]


def test_empty_file(tmp_path: Path) -> None:
    found = problems(tmp_path, "# nothing yet\n")
    assert found == [
        "rollgate.yaml:1: the spec is empty (expected project, services and environments)"
    ]


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "- project\n") == [
        "rollgate.yaml:1: the top level must be a mapping (got a list)"
    ]


def test_problems_sorted_by_line(tmp_path: Path) -> None:
    text = BASE.replace("kind: http", "kind: htp").replace("port: 8000", "port: -1")
    found = problems(tmp_path, text)
    assert [p.split(":")[1] for p in found] == ["5", "13"]


def test_filename_is_reported_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rollgate.yaml").write_text(BASE.replace("port: 8000", "port: x"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"^rollgate\.yaml:5: services\.api\.port: "):
        load_spec("rollgate.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "rollgate.yaml")


def test_no_interpolation_and_dates_stay_text() -> None:
    text = BASE.replace("port: 8000", "port: 8000\n    env: {HOME_DIR: $HOME, BUILT: 2024-01-31}")
    spec = parse_spec(text, "rollgate.yaml")
    assert spec.services["api"].env == {"HOME_DIR": "$HOME", "BUILT": "2024-01-31"}


def test_database_mistakes_name_line_and_field(tmp_path: Path) -> None:
    text = BASE.replace("port: 8000", "port: 8000\n    database: mian") + """\
databases:
  main:
    engine: command
    backup: mongodump --archive={file}
    migrations:
      kind: command
      run: pnpm db:migrate
      on_failure: downgrade
"""
    assert problems(tmp_path, text) == [
        "rollgate.yaml:19: databases.main.migrations: on_failure: downgrade needs a "
        "`downgrade` command"]
    text = text.replace("on_failure: downgrade", "on_failure: restore")
    assert problems(tmp_path, text) == [
        "rollgate.yaml:16: databases.main: engine command needs restore (commands using {file})"]
    text = text.replace("    backup: mongodump", "    restore: mongorestore --archive={file}\n"
                        "    backup: mongodump")
    assert problems(tmp_path, text) == [
        "rollgate.yaml:6: services.api.database: unknown database 'mian' (did you mean "
        "'main'?)"]
