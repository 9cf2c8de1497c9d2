"""The dashboard in headless Chromium against a real ``rollgate serve`` with users."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rollgate.demo.load import LoadLoop
from tests.browser.conftest import Dashboard, login
from tests.web.conftest import fake_run

RUN_URL = re.compile(r"/runs/run-[^/]+$")


def test_log_in_and_out(dashboard: Dashboard, page: Page) -> None:
    page.goto("/runs?status=succeeded")
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/runs?status=succeeded")
    expect(page.locator("#who")).to_have_text("admin")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto("/")
    page.wait_for_url("**/login?next=*")


def test_canary_run_page_updates_live_until_promotion(dashboard: Dashboard, page: Page
                                                      ) -> None:
    dashboard.deploy_to("production", "v1")
    login(page, "admin", path="/deploy?service=web&environment=production")
    public = f"http://127.0.0.1:{dashboard.ports['production']}/"
    with LoadLoop(public, rate=100, concurrency=4, max_seconds=90):
        page.fill("input[name=version]", "v2")
        page.click("#deploy-next")
        expect(page.locator("h1")).to_have_text("Deploy v2 of web to production?")
        expect(page.locator("ul.impact")).to_contain_text("goes from v1 to v2")
        page.click("#confirm")
        page.wait_for_url(RUN_URL)
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads
        first = page.locator("tr.step").count()

        pause = page.locator("tr.step", has_text="pause 4s (analysis golden)").first
        expect(pause).to_have_attribute("data-state", "running", timeout=30_000)
        expect(page.locator(".live-indicator")).to_have_text("live")
        expect(page.locator("#run-chart svg g.panel").first).to_be_visible(timeout=15_000)
        expect(pause).to_have_attribute("data-state", "succeeded", timeout=30_000)

        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    states = page.locator("tr.step").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert len(states) > first and set(states) == {"succeeded"}
    names = page.locator("tr.step td.name").all_inner_texts()
    assert "promote v2 to 100%" in names
    chart = page.locator("#run-chart svg")
    assert chart.locator("g.panel").count() >= 2  # error rate and latency
    assert chart.locator("polyline[data-series=canary]").count() >= 1
    assert chart.locator("polyline[data-series=baseline]").count() >= 1
    assert chart.locator("circle.verdict").count() >= 2
    expect(page.locator("tr[data-check=error_rate]")).to_have_attribute("data-verdict", "pass")
    assert not page.errors  # type: ignore[attr-defined]


def test_rollback_from_the_run_page(dashboard: Dashboard, page: Page) -> None:
    dashboard.deploy_to("staging", "v1")
    v2 = dashboard.deploy_to("staging", "v2")
    login(page, "admin", path=f"/runs/{v2['id']}")
    page.click("#rollback-link")
    expect(page.locator("h1")).to_have_text("Roll back web in staging")
    page.fill("textarea[name=reason]", "v2 answers 5xx <b>after</b> the switch")
    page.click("#rollback-next")
    expect(page.locator("ul.impact")).to_contain_text("goes back from v2 to v1")
    page.click("#confirm")
    page.wait_for_url(RUN_URL)
    assert page.url.rsplit("/", 1)[1] != v2["id"]
    expect(page.locator("h1")).to_contain_text("rollback web/staging")
    expect(page.locator("dl.facts")).to_contain_text("v2 answers 5xx <b>after</b> the switch")
    expect(page.locator("dl.facts")).to_contain_text("admin")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=30_000)
    status = dashboard.http.get("/api/status", params={"environment": "staging"}).json()
    assert status[0]["live"] == "v1"
    assert not page.errors  # type: ignore[attr-defined]


def test_approve_a_waiting_canary_from_its_page(dashboard: Dashboard, page: Page) -> None:
    dashboard.deploy_to("review", "r1")
    login(page, "admin")
    dashboard.box.set_faults({"r2": {"start_delay": 2}})  # the page is up before the wait
    try:
        resp = dashboard.http.post("/api/deploys", json={
            "service": "web", "environment": "review", "version": "r2"})
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["id"]
        page.goto(f"/runs/{run_id}")
        approve = page.locator("#approve-run")
        assert approve.count() == 0  # not waiting yet: r2 is still starting
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads
        expect(approve).to_be_visible(timeout=30_000)  # the live update brings the button
        assert page.evaluate("window.__sameDocument") is True
    finally:
        dashboard.box.set_faults({})
    waiting = page.locator("tr.step", has_text="wait for approval")
    expect(waiting).to_have_attribute("data-state", "running")
    approve.click()
    expect(page.locator("h1")).to_have_text(f"Approve run {run_id}?")
    expect(page.locator("ul.impact")).to_contain_text("stops waiting at “wait for approval”")
    page.fill("#input-comment", "canary <b>looks</b> fine")
    page.click("#confirm")
    page.wait_for_url(f"**/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=30_000)
    expect(approve).to_have_count(0)
    expect(waiting.locator("td.output")).to_have_text("approved by admin: canary <b>looks</b> fine")
    status = dashboard.http.get("/api/status", params={"environment": "review"}).json()
    assert status[0]["live"] == "r2"
    assert not page.errors  # type: ignore[attr-defined]


def test_a_viewer_sees_no_action_and_a_forged_request_gets_403(dashboard: Dashboard,
                                                               page: Page) -> None:
    # Finished (a fake unfinished run would be resumed by the server's worker).
    run_id = fake_run(dashboard.box.store(), environment="staging", service="legacy",
                      status="succeeded")
    login(page, "viewer")
    expect(page.locator("td.target").first).to_be_visible()
    assert page.locator("p.actions a, p.actions button").count() == 0
    assert page.locator("header nav a", has_text="Deploy").count() == 0
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    assert page.locator("#cancel-run, #rollback-link").count() == 0

    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token  # the viewer's own, valid CSRF token (from the log-out form)
    forged: dict[str, str | float | bool] = {
        "service": "web", "environment": "staging", "version": "v9", "csrf_token": token,
        "confirm": "yes"}
    resp = page.request.post("/deploy", form=forged, max_redirects=0)
    assert resp.status == 403
    assert "needs deployer on staging" in resp.text()
    resp = page.request.post(f"/runs/{run_id}/cancel",
                             form={"csrf_token": token, "confirm": "yes"}, max_redirects=0)
    assert resp.status == 403
    resp = page.request.post("/rollback", form={**forged, "reason": "x"}, max_redirects=0)
    assert resp.status == 403
    api = page.request.post("/api/deploys", headers={"X-CSRF-Token": token}, data={
        "service": "web", "environment": "staging", "version": "v9"})
    assert api.status == 403
    assert dashboard.http.get("/api/runs", params={"environment": "staging"}
                              ).json()["items"][0]["id"] == run_id  # no run was started


def test_step_output_with_markup_is_shown_as_text(dashboard: Dashboard, page: Page) -> None:
    script = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"
    run_id = fake_run(dashboard.box.store(), service="legacy", status="failed", steps=[
        {"name": "start", "output": f"said: {script}"},
        {"name": "verify", "state": "failed", "error": f"boom {script}"}])
    login(page, "viewer", path=f"/runs/{run_id}")
    expect(page.locator("tr.step[data-seq='1'] td.output")).to_have_text(f"said: {script}")
    expect(page.locator("tr.step[data-seq='2'] pre.error")).to_have_text(f"boom {script}")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("td.output img, td.output script").count() == 0
