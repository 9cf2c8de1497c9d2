"""Accounts, roles, tokens, sessions and CSRF over a real ``rollgate serve`` (real HTTP).

One server with users serves the module: root (admin on *), and on staging vera (viewer),
dana (deployer) and abe (approver). dana deployed v1 to staging and root to production.
Each test leaves those users as it found them (it makes its own users to change).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select, update

from rollgate.store.runs import now
from rollgate.store.tables import ApiToken, AuditEvent, User
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.conftest import PG_ADMIN, backend

STAFF = {"vera": "viewer", "dana": "deployer", "abe": "approver"}  # all on staging
PUBLIC = {("get", "/api/health"), ("post", "/api/auth/session"), ("post", "/api/auth/token"),
          ("get", "/status.json")}  # the public status page


def password(name: str) -> str:
    """Each user's password in these tests."""
    return f"{name} likes long passphrases"


@dataclass
class Team:
    """The module's server, its users' tokens, and the two v1 runs."""

    api: ApiServer
    tokens: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    incidents: dict[str, str] = field(default_factory=dict)  # by environment ("" for none)

    def as_(self, user: str) -> dict[str, str]:
        """Headers that authenticate as ``user``."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, user: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        """A request as ``user`` (None: without credentials)."""
        headers = {**(self.as_(user) if user else {}), **kw.pop("headers", {})}
        with httpx.Client(base_url=self.api.url, timeout=30) as client:
            return client.request(method, path, headers=headers, **kw)

    def login_token(self, user: str, **extra: Any) -> dict[str, Any]:
        """POST /api/auth/token with the user's password."""
        resp = self.call(None, "POST", "/api/auth/token", json={
            "username": user, "password": password(user), **extra})
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def add_user(self, name: str, role: str, environment: str = "staging") -> str:
        """Add a user through the API (as root); return a token of theirs."""
        resp = self.call("root", "POST", "/api/users", json={
            "name": name, "password": password(name), "role": role,
            "environment": environment})
        assert resp.status_code == 201, resp.text
        return str(self.login_token(name)["token"])


@contextmanager
def _store_url() -> Iterator[str | None]:
    """None (SQLite beside the spec), or a PostgreSQL database of this module's own."""
    if backend() != "postgres":
        yield None
        return
    name = f"rg_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_ADMIN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(box: Sandbox, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI of the project, with standard input."""
    return subprocess.run(box.argv(*args), env=box.env, cwd=box.root, text=True, input=stdin,
                          capture_output=True, timeout=120, check=False)


def _write_spec(box: Sandbox) -> None:
    box.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {"staging": {"strategy": {"kind": "recreate"},
                                     "ports": {"web": free_port()}},
                         "production": {"strategy": {"kind": "recreate"}}},
    })


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The server with its users, and v1 live in both environments."""
    with _store_url() as url:
        box = Sandbox(tmp_path_factory.mktemp("auth") / "project", database_url=url)
        _write_spec(box)
        added = cli(box, "users", "add", "root", "--role", "admin", "--password-stdin",
                    stdin=password("root") + "\n")
        assert added.returncode == 0, added.stderr
        assert "added user root: admin on *" in added.stdout
        api = ApiServer(box)
        t = Team(api)
        try:
            api.start()
            t.tokens["root"] = str(t.login_token("root", name="tests")["token"])
            api.http.headers.update(t.as_("root"))  # the helpers (wait, cleanup) act as root
            for name, role in STAFF.items():
                t.tokens[name] = t.add_user(name, role)
            for env, user in (("staging", "dana"), ("production", "root")):
                resp = t.call(user, "POST", "/api/deploys", headers={
                    "X-Rollgate-Actor": "mallory"}, json={
                    "service": "web", "environment": env, "version": "v1"})
                assert resp.status_code == 202, resp.text
                t.runs[env] = resp.json()["id"]
            for run_id in t.runs.values():
                assert api.wait(run_id)["status"] == "succeeded"
            for env in ("staging", "production", ""):
                resp = t.call("root", "POST", "/api/incidents", json={
                    "title": f"incident in {env or 'no environment'}",
                    **({"environment": env} if env else {})})
                assert resp.status_code == 201, resp.text
                t.incidents[env] = resp.json()["id"]
            yield t
        finally:
            try:
                api.close()
            finally:
                box.down()


def _error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def test_every_route_but_health_login_and_docs_needs_credentials(team: Team) -> None:
    assert team.call(None, "GET", "/docs").status_code == 200
    schema = team.call(None, "GET", "/openapi.json").json()
    assert {"token", "session"} <= set(schema["components"]["securitySchemes"])
    assert team.call(None, "GET", "/api/health").status_code == 200
    for path in ("/status", "/status.json", "/status.atom"):
        assert team.call(None, "GET", path).status_code == 200, path
    checked = 0
    for path, ops in schema["paths"].items():
        for method in ops:
            if (method, path) in PUBLIC:
                continue
            url = path.replace("{", "").replace("}", "")  # /api/runs/run_id: any value
            resp = team.call(None, method.upper(), url)
            message = _error(resp, 401, "unauthenticated")
            if path == "/api/alerts/alertmanager":  # credentials of its own: incidents.alerts
                assert "incidents.alerts.token" in message
            else:
                assert "Authorization: Bearer" in message and "/api/auth/session" in message
            assert resp.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 20
    bad = team.call(None, "GET", "/api/runs", headers={"Authorization": "Bearer rg_nope"})
    assert "not a rollgate token" in _error(bad, 401, "unauthenticated")
    forged = "rg_" + team.tokens["vera"].split("_")[1] + "_" + "x" * 43
    assert "unknown or mistyped" in _error(
        team.call(None, "GET", "/api/runs", headers={"Authorization": f"Bearer {forged}"}),
        401, "unauthenticated")


# (user, method, path, body) -> status; 409 (or 400) means "allowed, then refused by the
# run's state (or the unknown service)".
def _matrix(t: Team) -> list[tuple[str, str, str, dict[str, Any] | None, int, str]]:
    stg, prod = t.runs["staging"], t.runs["production"]
    rollback = {"service": "web", "environment": "staging", "reason": "test"}
    cases: list[tuple[str, str, str, dict[str, Any] | None, int, str]] = []
    for user in ("vera", "dana", "abe", "root"):
        # read
        cases.append((user, "GET", f"/api/runs/{stg}", None, 200, ""))
        cases.append((user, "GET", f"/api/runs/{prod}", None, 200 if user == "root" else 403,
                      "needs viewer on production"))
        # deploy, rollback, cancel, resume
        may_deploy = user != "vera"
        cases.append((user, "POST", "/api/rollbacks", rollback, 409 if may_deploy else 403,
                      "needs deployer on staging"))
        cases.append((user, "POST", f"/api/runs/{stg}/cancel", None,
                      409 if may_deploy else 403, "needs deployer on staging"))
        cases.append((user, "POST", f"/api/runs/{stg}/resume", None,
                      409 if may_deploy else 403, "needs deployer on staging"))
        cases.append((user, "POST", "/api/deploys", {"service": "nope", "version": "v9",
                                                    "environment": "production"},
                      400 if user == "root" else 403, "needs deployer on production"))
        cases.append((user, "POST", f"/api/runs/{prod}/cancel", None,
                      409 if user == "root" else 403, "needs deployer on production"))
        # approve
        cases.append((user, "POST", f"/api/runs/{stg}/approve", {"comment": "ok"},
                      409 if user in ("abe", "root") else 403, "needs approver on staging"))
        cases.append((user, "POST", f"/api/runs/{prod}/approve", None,
                      409 if user == "root" else 403, "needs approver on production"))
        cases.append((user, "POST", f"/api/runs/{stg}/reject", {"comment": "no"},
                      409 if user in ("abe", "root") else 403, "needs approver on staging"))
        # release gates: an emergency needs an approver; checklists and notices
        cases.append((user, "POST", "/api/deploys", {
            "service": "nope", "version": "v9", "environment": "staging", "emergency": True,
            "reason": "fire"}, 400 if user in ("abe", "root") else 403,
            "needs approver on staging"))
        cases.append((user, "POST", "/api/promotions", {
            "service": "web", "from": "staging", "to": "staging"},
            400 if may_deploy else 403, "needs deployer on staging"))
        cases.append((user, "GET", "/api/checklists/pre-deploy?environment=staging", None,
                      200, ""))
        cases.append((user, "POST", "/api/checklists/pre-deploy/confirmations", {
            "environment": "staging", "items": ["nope"]}, 400 if may_deploy else 403,
            "needs deployer on staging"))
        cases.append((user, "GET", "/api/notices", None, 200, ""))
        cases.append((user, "POST", "/api/notices", {
            "environment": "staging", "title": "x", "starts": "2030-01-02T10:00",
            "ends": "2030-01-01T10:00"}, 400 if may_deploy else 403,
            "needs deployer on staging"))
        # incidents: viewer reads, deployer changes; no environment: the role on any
        inc = t.incidents
        cases.append((user, "GET", "/api/incidents", None, 200, ""))
        cases.append((user, "GET", f"/api/incidents/{inc['staging']}", None, 200, ""))
        cases.append((user, "GET", f"/api/incidents/{inc['']}", None, 200, ""))
        cases.append((user, "GET", f"/api/incidents/{inc['production']}", None,
                      200 if user == "root" else 403, "needs viewer on production"))
        cases.append((user, "POST", f"/api/incidents/{inc['staging']}/notes", {"text": "x"},
                      200 if may_deploy else 403, "needs deployer on staging"))
        cases.append((user, "POST", f"/api/incidents/{inc['']}/notes", {"text": "x"},
                      200 if may_deploy else 403, "needs deployer on at least one"))
        cases.append((user, "POST", f"/api/incidents/{inc['production']}/status",
                      {"to": "investigating"}, 409 if user == "root" else 403,
                      "needs deployer on production"))
        cases.append((user, "POST", "/api/incidents", {
            "title": "x", "environment": "staging", "service": "nope"},
            400 if may_deploy else 403, "needs deployer on staging"))
        # Alertmanager with an API token: deployer on the alerts' environment (a resolved
        # notification of an unknown group, so nothing opens)
        for env in ("staging", "production"):
            may = user == "root" or (may_deploy and env == "staging")
            cases.append((user, "POST", "/api/alerts/alertmanager", _resolved_alert(env),
                          200 if may else 403, f"needs deployer on {env}"))
        # the outbox: each sees the environments they may view; a resend needs deployer
        cases.append((user, "GET", "/api/notifications?failed=true", None, 200, ""))
        cases.append((user, "POST", "/api/notifications/999999/resend", None, 404, ""))
        # admin
        cases.append((user, "GET", "/api/users", None, 200 if user == "root" else 403,
                      "needs admin on every environment (*)"))
        cases.append((user, "POST", "/api/users/vera/grants",
                      {"role": "viewer", "environment": "staging"},
                      200 if user == "root" else 403, "needs admin on every environment"))
    return cases


def _resolved_alert(environment: str) -> dict[str, Any]:
    """An Alertmanager notification: one alert of ``environment``, resolved."""
    labels = {"alertname": "HighErrorRate", "environment": environment, "service": "web"}
    return {"version": "4", "groupKey": f'{{}}:{{environment="{environment}"}}',
            "truncatedAlerts": 0, "status": "resolved", "receiver": "rollgate",
            "groupLabels": labels, "commonLabels": labels, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [{"status": "resolved", "labels": labels, "annotations": {},
                        "startsAt": "2025-01-04T14:00:00Z", "endsAt": "2025-01-04T14:10:00Z",
                        "generatorURL": "", "fingerprint": "5d8c1f0e2b3a4c69"}]}


def test_each_role_against_each_route_class(team: Team) -> None:
    problems = []
    for user, method, path, body, status, reason in _matrix(team):
        resp = team.call(user, method, path, json=body)
        if resp.status_code != status:
            problems.append(f"{user} {method} {path}: {resp.status_code} != {status}: "
                            f"{resp.text[:200]}")
        elif status == 403:
            message = _error(resp, 403, "forbidden")
            if reason not in message or f"{user} has {STAFF[user]} on staging" not in message:
                problems.append(f"{user} {method} {path}: {message}")
        elif status == 409:
            assert resp.json()["error"]["code"] == "refused", resp.text
    assert not problems, "\n".join(problems)


def test_lists_show_only_the_environments_the_caller_may_view(team: Team) -> None:
    vera = team.call("vera", "GET", "/api/runs").json()["items"]
    assert {r["environment"] for r in vera} == {"staging"}
    assert team.runs["staging"] in {r["id"] for r in vera}
    root = team.call("root", "GET", "/api/runs").json()["items"]
    assert set(team.runs.values()) <= {r["id"] for r in root}
    status = team.call("vera", "GET", "/api/status").json()
    assert [(s["environment"], s["live"]) for s in status] == [("staging", "v1")]
    _error(team.call("vera", "GET", "/api/runs", params={"environment": "production"}),
           403, "forbidden")
    _error(team.call("vera", "GET", "/api/status", params={"environment": "production"}),
           403, "forbidden")
    assert team.call("vera", "GET", "/api/releases").status_code == 200
    assert team.call("vera", "GET", "/api/rollbacks").status_code == 200
    assert team.call("vera", "GET", "/api/backups").status_code == 200


def test_actions_record_the_signed_in_user_and_how_secrets_stay_out(team: Team) -> None:
    run = team.call("root", "GET", f"/api/runs/{team.runs['staging']}").json()
    assert run["actor"] == "dana"  # the X-Rollgate-Actor header is ignored once users exist
    dana_token_id = team.tokens["dana"].split("_")[1]
    with team.api.box.store().session() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        users = {u.name: u.password_hash for u in s.scalars(select(User))}
        token_rows = list(s.scalars(select(ApiToken)))
    (requested,) = [e for e in events if e.action == "deploy.requested"
                    and e.detail["run"] == team.runs["staging"]]
    assert (requested.actor, requested.detail["via"]) == ("dana", f"token:{dana_token_id}")
    actions = {e.action for e in events}
    assert {"user.created", "login.succeeded", "token.created"} <= actions
    assert all(h.startswith("scrypt$") for h in users.values())
    secrets_ = [password(n) for n in users] + list(team.tokens.values())
    stored = json.dumps([[e.actor, e.target, e.detail] for e in events], default=str)
    stored += json.dumps([[t.id, t.secret_sha256, t.name] for t in token_rows])
    stored += json.dumps(users) + team.api.log()
    secrets_ += [t.split("_", 2)[2] for t in team.tokens.values()]  # the secret parts
    assert not [x for x in secrets_ if x in stored]


def test_a_revoked_token_is_refused_on_the_very_next_request(team: Team) -> None:
    made = team.call("root", "POST", "/api/tokens", json={"name": "for-vera", "user": "vera"})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).json()["name"] == "vera"
    listed = team.call("vera", "GET", "/api/tokens").json()["items"]
    assert token_id in {t["id"] for t in listed} and "token" not in listed[0]
    # vera may not revoke dana's token; root may revoke anyone's
    dana_id = team.tokens["dana"].split("_")[1]
    _error(team.call("vera", "DELETE", f"/api/tokens/{dana_id}"), 403, "forbidden")
    revoked = team.call("root", "DELETE", f"/api/tokens/{token_id}")
    assert revoked.json()["state"] == "revoked"
    message = _error(team.call(None, "GET", "/api/auth/me", headers=bearer), 401,
                     "unauthenticated")
    assert f"token {token_id} was revoked" in message
    # your own token you may revoke yourself
    own = team.login_token("vera", name="short-lived")
    gone = team.call(None, "DELETE", f"/api/tokens/{own['id']}",
                     headers={"Authorization": f"Bearer {own['token']}"})
    assert gone.status_code == 200, gone.text
    assert team.call(None, "GET", "/api/auth/me",
                     headers={"Authorization": f"Bearer {own['token']}"}).status_code == 401


def test_an_expired_token_is_refused(team: Team) -> None:
    made = team.login_token("vera", name="expiring", expires_in_days=1)
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).status_code == 200
    with team.api.box.store().session() as s:
        s.execute(update(ApiToken).where(ApiToken.id == made["id"])
                  .values(expires_at=now() - timedelta(seconds=1)))
    message = _error(team.call(None, "GET", "/api/auth/me", headers=bearer), 401,
                     "unauthenticated")
    assert f"token {made['id']} expired" in message
    listed = team.call("root", "GET", "/api/tokens", params={"user": "vera"}).json()["items"]
    assert {t["id"]: t["state"] for t in listed}[made["id"]] == "expired"


def test_a_session_cookie_needs_the_csrf_token_for_changes(team: Team) -> None:
    with httpx.Client(base_url=team.api.url, timeout=30) as browser:
        form = {"username": "dana", "password": password("dana")}
        _error(browser.post("/api/auth/session", data=form,
                            headers={"Sec-Fetch-Site": "cross-site"}), 403, "csrf_failed")
        login = browser.post("/api/auth/session", data=form)
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"]
        assert cookie.startswith("rollgate_session=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP here; over TLS it is Secure:
        behind_tls = team.call(None, "POST", "/api/auth/session", json=form,
                               headers={"X-Forwarded-Proto": "https"})  # a trusted proxy
        assert "Secure" in behind_tls.headers["set-cookie"]
        csrf = login.json()["csrf_token"]
        me = browser.get("/api/auth/me").json()
        assert (me["name"], me["via"], me["csrf_token"]) == ("dana", "session", csrf)

        message = _error(browser.post("/api/tokens", json={"name": "x"}), 403, "csrf_failed")
        assert "X-CSRF-Token" in message
        forged = csrf[:-2] + ("AA" if csrf[-2:] != "AA" else "BB")  # any other token
        _error(browser.post("/api/tokens", json={"name": "x"},
                            headers={"X-CSRF-Token": forged}), 403, "csrf_failed")
        made = browser.post("/api/tokens", json={"name": "from-browser"},
                            headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        # a form field does as well (here the run has ended: refused after the checks)
        cancel = browser.post(f"/api/runs/{team.runs['staging']}/cancel",
                              data={"csrf_token": csrf})
        assert cancel.status_code == 409, cancel.text

        _error(browser.delete("/api/auth/session"), 403, "csrf_failed")
        assert browser.delete("/api/auth/session",
                              headers={"X-CSRF-Token": csrf}).status_code == 204
        browser.cookies.set("rollgate_session", login.cookies["rollgate_session"])
        assert "session ended" in _error(browser.get("/api/auth/me"), 401, "unauthenticated")


def test_logins_are_rate_limited_per_user_and_address(team: Team) -> None:
    team.add_user("rita", "viewer")
    wrong = {"username": "rita", "password": "not her password"}
    for _ in range(5):
        message = _error(team.call(None, "POST", "/api/auth/session", json=wrong), 401,
                         "unauthenticated")
        assert "wrong user name or password" in message
    right = {"username": "rita", "password": password("rita")}
    limited = team.call(None, "POST", "/api/auth/session", json=right)
    assert "too many failed logins" in _error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 300
    _error(team.call(None, "POST", "/api/auth/token", json=right), 429, "rate_limited")
    assert team.call(None, "POST", "/api/auth/session", json={  # others are not locked out
        "username": "abe", "password": password("abe")}).status_code == 200
    with team.api.box.store().session() as s:
        failed = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed",
                                                         AuditEvent.actor == "rita")))
    assert len(failed) == 5 and all(set(e.detail) == {"client", "reason"} for e in failed)


def test_grants_and_disabling_apply_to_the_next_request(team: Team) -> None:
    token = team.add_user("gus", "viewer")
    bearer = {"Authorization": f"Bearer {token}"}
    rollback = {"service": "web", "environment": "staging", "reason": "test"}
    _error(team.call(None, "POST", "/api/rollbacks", headers=bearer, json=rollback), 403,
           "forbidden")
    granted = team.call("root", "POST", "/api/users/gus/grants",
                        json={"role": "deployer", "environment": "staging"})
    assert {"role": "deployer", "environment": "staging"} in granted.json()["grants"]
    assert team.call(None, "POST", "/api/rollbacks", headers=bearer,
                     json=rollback).status_code == 409  # allowed; nothing to roll back to
    assert team.call("root", "DELETE", "/api/users/gus/grants",
                     params={"role": "deployer", "environment": "staging"}).status_code == 200
    _error(team.call(None, "POST", "/api/rollbacks", headers=bearer, json=rollback), 403,
           "forbidden")
    bad_env = team.call("root", "POST", "/api/users/gus/grants",
                        json={"role": "viewer", "environment": "prod"})
    assert "the spec has: staging, production" in _error(bad_env, 400, "bad_request")
    last = _error(team.call("root", "POST", "/api/users/root/disable"), 409, "refused")
    assert "would leave no active admin" in last
    assert team.call("root", "POST", "/api/users/gus/disable").json()["disabled_at"]
    assert "disabled" in _error(team.call(None, "GET", "/api/auth/me", headers=bearer), 401,
                                "unauthenticated")
    _error(team.call(None, "POST", "/api/users/gus/enable", headers=bearer), 401,
           "unauthenticated")
    assert team.call("root", "POST", "/api/users/gus/enable").json()["disabled_at"] is None
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).json()["name"] == "gus"


def test_the_cli_manages_users_and_tokens_on_the_store(team: Team) -> None:
    box = team.api.box
    added = cli(box, "users", "add", "cleo", "--role", "viewer", "--env", "staging",
                "--password-stdin", stdin=password("cleo") + "\n")
    assert added.returncode == 0, added.stderr
    made = cli(box, "tokens", "create", "--user", "cleo", "--name", "laptop")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("rg_") and "shown this once" in made.stderr
    bearer = {"Authorization": f"Bearer {token}"}
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).json()["grants"] == [
        {"role": "viewer", "environment": "staging"}]
    assert cli(box, "users", "grant", "cleo", "approver", "--env", "production").returncode == 0
    assert team.call(None, "GET", f"/api/runs/{team.runs['production']}",
                     headers=bearer).status_code == 200
    assert cli(box, "users", "disable", "cleo").returncode == 0
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).status_code == 401
    enabled = cli(box, "users", "enable", "cleo")
    assert enabled.returncode == 0 and "enabled cleo" in enabled.stdout, enabled.stderr
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).status_code == 200
    assert cli(box, "tokens", "revoke", token.split("_")[1]).returncode == 0
    assert team.call(None, "GET", "/api/auth/me", headers=bearer).status_code == 401
    listed = cli(box, "users", "list", "--json")
    cleo = {u["name"]: u for u in json.loads(listed.stdout)}["cleo"]
    assert cleo["grants"] == [{"role": "approver", "environment": "production"},
                              {"role": "viewer", "environment": "staging"}]


def test_open_mode_acts_as_local_admin_until_a_user_exists(api: ApiServer) -> None:
    me = api.http.get("/api/auth/me").json()
    assert (me["name"], me["via"], me["open_mode"]) == ("local", "local", True)
    assert me["grants"] == [{"role": "admin", "environment": "*"}]
    assert api.http.get("/api/runs").status_code == 200
    added = cli(api.box, "users", "add", "ana", "--role", "admin", "--password-stdin",
                stdin=password("ana") + "\n")
    assert added.returncode == 0, added.stderr
    _error(api.http.get("/api/runs"), 401, "unauthenticated")
    assert api.http.get("/api/health").status_code == 200
    api.http.headers["Authorization"] = "Bearer " + api.http.post("/api/auth/token", json={
        "username": "ana", "password": password("ana")}).json()["token"]
    assert api.http.get("/api/auth/me").json()["name"] == "ana"


def test_serve_refuses_a_public_address_while_there_are_no_users(sandbox: Sandbox) -> None:
    _write_spec(sandbox)
    refused = sandbox.run("serve", "--host", "0.0.0.0", "--port", str(free_port()),
                          timeout=60)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to listen on 0.0.0.0" in refused.stderr
    assert "rollgate users add NAME --role admin" in refused.stderr
