"""``kind: smoke``: seed 000's post-deploy smoke, log in, take the token, list users."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, check, context, run
from tests.checks.servers import HttpApp, Reply, Request, dead_port

PASSWORD = "S3cret!-owner-password"
TOKEN = "tok-" + SECRET


def login(request: Request) -> Reply:
    body = request.json()
    if body == {"email": "owner@acme.tld", "password": PASSWORD}:
        return Reply(200, {"data": {"token": TOKEN, "user": {"id": 1}}},
                     headers={"Set-Cookie": "session=abc; Path=/"})
    return Reply(401, {"error": "bad credentials", "echo": body})


def users(request: Request) -> Reply:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"error": f"bad token {request.headers.get('Authorization')}"})
    return Reply(200, {"users": [{"id": 1, "email": "owner@acme.tld"}]})


@pytest.fixture
def app() -> Iterator[HttpApp]:
    with HttpApp() as server:
        server.route("POST", "/auth/login", login)
        server.route("GET", "/users", users)
        server.route("GET", "/me", lambda r: Reply(200 if "session=abc" in
                                                    r.headers.get("Cookie", "") else 401))
        yield server


def scenario(**login_step: Any) -> dict[str, Any]:
    first = {"name": "login", "method": "POST", "path": "/auth/login",
             "body": {"email": "owner@acme.tld", "password": "${SMOKE_PASSWORD}"},
             "capture": {"token": "data.token"}, **login_step}
    return {"kind": "smoke", "steps": [
        first,
        {"path": "/users", "headers": {"Authorization": "Bearer {token}"},
         "expect_json": {"users": [{"id": 1, "email": "owner@acme.tld"}]}},
    ]}


class TestSmokeContract(CheckKindContract):
    kind = "smoke"

    @pytest.fixture
    def passing(self, app: HttpApp) -> Case:
        return Case(scenario(), context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD}),
                    "2 steps passed: login: HTTP 200, GET /users: HTTP 200")

    @pytest.fixture
    def failing(self, app: HttpApp) -> Case:
        return Case(scenario(), context(base_url=app.url, env={"SMOKE_PASSWORD": "wrong!"}),
                    "step 1 (login): HTTP 401, expected 200")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case(scenario(), context(base_url=f"http://127.0.0.1:{dead_port()}",
                                        env={"SMOKE_PASSWORD": PASSWORD}),
                    "step 1 (login): ConnectError")


def test_the_token_travels_to_the_next_step(app: HttpApp) -> None:
    result = run(scenario(), context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD}))
    assert result.ok, result.detail
    assert app.requests[0].json()["password"] == PASSWORD
    assert app.requests[1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_later_step_failing_is_named_and_secrets_stay_out(app: HttpApp) -> None:
    config = scenario()
    config["steps"][1]["expect_status"] = 204
    result = run(config, context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD}))
    assert result.detail == "step 2 (GET /users): HTTP 200, expected 204"
    wrong = scenario()
    wrong["steps"][1]["expect_json"] = {"users": []}
    result = run(wrong, context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD}))
    assert result.detail == "step 2 (GET /users): HTTP 200, body does not contain {'users': []}"


def test_captured_and_variable_values_never_appear(app: HttpApp) -> None:
    env = {"SMOKE_PASSWORD": PASSWORD}
    # The login answer holds the token: a mismatch says so without quoting the body.
    unexpected = run(scenario(expect_json={"data": {"token": "other"}}),
                     context(base_url=app.url, env=env))
    assert unexpected.detail == ("step 1 (login): HTTP 200, body does not contain "
                                 "{'data': {'token': 'other'}}")
    # Steps are named by their template, never by the values filled in.
    config = scenario()
    config["steps"][1] = {"path": "/session/{token}?pw=${SMOKE_PASSWORD}"}
    result = run(config, context(base_url=app.url, env=env))
    assert result.detail == ("step 2 (GET /session/{token}?pw=${SMOKE_PASSWORD}): HTTP 404, "
                             "expected 200")
    assert app.requests[-1].path == f"/session/{TOKEN}"


def test_a_missing_capture_fails_naming_the_path(app: HttpApp) -> None:
    result = run(scenario(capture={"token": "data.jwt"}),
                 context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD}))
    assert result.detail == ("step 1 (login): HTTP 200, no data.jwt in the JSON body to "
                             "capture as token")


def test_an_unset_variable_is_named(app: HttpApp) -> None:
    result = run(scenario(), context(base_url=app.url))
    assert result.detail.startswith("steps[0] refers to ${SMOKE_PASSWORD}, which is not set")


def test_steps_share_cookies(app: HttpApp) -> None:
    config = scenario()
    config["steps"][1] = {"path": "/me"}
    assert run(config, context(base_url=app.url, env={"SMOKE_PASSWORD": PASSWORD})).ok


def test_a_value_no_earlier_step_captures_is_a_spec_error() -> None:
    config = scenario()
    config["steps"][1]["headers"] = {"Authorization": "Bearer {jwt}"}
    with pytest.raises(ValidationError, match=r"steps\[1\] uses \{jwt\}, which no earlier step "
                                              "captures"):
        check(config)
    config["steps"][1]["headers"] = {"X-Literal": "{{jwt}}"}
    check(config)  # doubled braces are literal
