"""The dashboard with users: login, per-environment roles, CSRF, server-side re-checks."""

from __future__ import annotations

import re

from tests.web.conftest import PASSWORD, Web, login


def test_pages_need_a_session(users: Web) -> None:
    resp = users.client.get("/runs?status=failed")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Dfailed"
    assert users.client.get("/runs/x/chart.svg").status_code == 303
    resp = users.client.post("/deploy", data={"service": "web"})
    assert resp.status_code == 401


def test_login_with_a_wrong_password_says_so(users: Web) -> None:
    form = users.client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    resp = users.client.post("/login", data={"username": "dev", "password": "nope-nope",
                                             "csrf_token": token[1]})
    assert resp.status_code == 401
    assert "wrong user name or password" in resp.text
    assert "rollgate_session" not in resp.cookies


def test_login_form_needs_its_csrf_token(users: Web) -> None:
    users.client.get("/login")
    resp = users.client.post("/login", data={"username": "dev", "password": PASSWORD})
    assert resp.status_code == 403


def test_login_goes_back_only_to_this_site(users: Web) -> None:
    form = users.client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    resp = users.client.post("/login", data={"username": "dev", "password": PASSWORD,
                                             "next": "//evil.example/x", "csrf_token": token[1]})
    assert resp.status_code == 303 and resp.headers["location"] == "/"


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(users: Web) -> None:
    token = login(users, "viewer")
    run_id = users.add_run(environment="production")
    html = users.client.get("/").text
    assert "Deploy…" not in html and "Roll back…" not in html
    assert 'href="/deploy"' not in html  # no Deploy link in the navigation either
    html = users.client.get(f"/runs/{run_id}").text
    assert 'id="cancel-run"' not in html and 'id="rollback-link"' not in html
    form = {"service": "web", "environment": "production", "version": "v9",
            "csrf_token": token, "confirm": "yes"}
    resp = users.client.post("/deploy", data=form)
    assert resp.status_code == 403
    assert "needs deployer on production" in resp.text
    assert users.client.post(f"/runs/{run_id}/cancel",
                             data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    assert users.client.get("/deploy").status_code == 403


def test_roles_are_per_environment(users: Web) -> None:
    token = login(users, "dev")
    prod = users.add_run(environment="production")
    html = users.client.get("/").text
    assert 'href="/deploy?service=web&amp;environment=staging"' in html
    assert 'href="/deploy?service=web&amp;environment=production"' not in html
    assert 'id="cancel-run"' not in users.client.get(f"/runs/{prod}").text
    resp = users.client.post(f"/runs/{prod}/cancel", data={"csrf_token": token})
    assert resp.status_code == 403
    resp = users.client.post("/deploy", data={"service": "web", "environment": "staging",
                                              "version": "v3", "csrf_token": token})
    assert resp.status_code == 200 and "Deploy v3 of web to staging?" in resp.text
    deploy_form = users.client.get("/deploy").text
    assert '<option value="staging"' in deploy_form
    assert '<option value="production"' not in deploy_form


def test_a_session_post_needs_the_session_csrf_token(users: Web) -> None:
    login(users, "admin")
    run_id = users.add_run(environment="staging")
    resp = users.client.post(f"/runs/{run_id}/cancel", data={"csrf_token": "forged"})
    assert resp.status_code == 403
    assert "CSRF" in resp.text


def test_environments_without_viewer_are_hidden(users: Web) -> None:
    login(users, "nobody-prod")
    prod = users.add_run(environment="production", status="succeeded")
    stage = users.add_run(environment="staging", status="succeeded")
    html = users.client.get("/").text
    assert 'data-environment="staging"' in html
    assert 'data-environment="production"' not in html
    runs = users.client.get("/runs").text
    assert stage in runs and prod not in runs
    assert users.client.get(f"/runs/{prod}").status_code == 403
    assert users.client.get(f"/runs/{prod}/chart.svg").status_code == 403
    assert users.client.get("/runs", params={"environment": "production"}).status_code == 403


def test_logout_ends_the_session(users: Web) -> None:
    token = login(users, "viewer")
    assert users.client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    resp = users.client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    assert users.client.get("/").status_code == 303


def test_a_stale_session_cookie_goes_to_the_login_form(users: Web) -> None:
    users.client.cookies.set("rollgate_session", "not-a-session")
    resp = users.client.get("/runs")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    assert users.client.get("/login").status_code == 200
