"""Dashboard pages rendered in-process: content, escaping, filters, pagination, the chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from rollgate.store.tables import AnalysisCheck
from rollgate.web import chart
from tests.web.conftest import Web

SCRIPT = "<script>window.__pwned = 1</script>"


def test_overview_lists_services_by_environment(web: Web) -> None:
    resp = web.client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert "<h1>shop</h1>" in html
    assert 'data-service="web" data-environment="production"' in html
    assert 'data-service="web" data-environment="staging"' in html
    assert "nothing live" in html
    assert "open mode" in html
    assert 'href="/deploy?service=web&amp;environment=production"' in html


def test_step_output_is_shown_as_text(web: Web) -> None:
    run_id = web.add_run(status="failed", reason=SCRIPT, steps=[
        {"name": f"start {SCRIPT}", "output": f"line 1\n{SCRIPT}"},
        {"name": "verify", "state": "failed", "error": f"boom {SCRIPT}"}])
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/live", "/runs"):
        html = web.client.get(path).text
        assert "<script>window" not in html, path
    html = web.client.get(f"/runs/{run_id}").text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;") >= 4  # name, output, error, reason


def test_run_page_shows_steps_and_latest_verdicts(web: Web) -> None:
    run_id = web.add_run(
        steps=[{"name": "plan"}, {"name": "pause 6s (analysis golden)", "state": "running"}],
        checks=[{"name": "error_rate", "kind": "judge", "metric": "error_rate",
                 "verdict": "inconclusive", "observed": 0.0, "baseline": 0.0,
                 "summary": "too few"},
                {"name": "error_rate", "kind": "judge", "metric": "error_rate",
                 "verdict": "pass", "observed": 0.01, "baseline": 0.02, "summary": "fine"}])
    html = web.client.get(f"/runs/{run_id}").text
    assert 'data-seq="1" data-state="succeeded"' in html
    assert 'data-seq="2" data-state="running"' in html
    assert 'data-check="error_rate" data-verdict="pass"' in html
    assert "data-verdict=\"inconclusive\"" in html  # the first point, in the chart
    assert '<div id="run-chart"><svg' in html
    assert 'id="cancel-run"' in html
    assert '<meta http-equiv="refresh"' in html  # inside <noscript>, for pages without JS


def test_chart_svg_is_well_formed_with_lines_threshold_and_verdicts(web: Web) -> None:
    checks = [
        {"name": "error-rate-10pct", "kind": "threshold", "metric": "error_rate",
         "verdict": v, "observed": o, "threshold": 0.1, "summary": f"{v} <&>"}
        for v, o in (("inconclusive", None), ("pass", 0.02), ("fail", 0.3))
    ] + [{"name": "latency", "kind": "judge", "metric": "latency", "verdict": "pass",
          "observed": 12.0 + i, "baseline": 11.0, "summary": "ok"} for i in range(3)]
    run_id = web.add_run(checks=checks)
    resp = web.client.get(f"/runs/{run_id}/chart.svg")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(resp.text)
    ns = {"s": "http://www.w3.org/2000/svg"}
    panels = root.findall("s:g[@class='panel']", ns)
    assert [p.get("data-check") for p in panels] == ["error-rate-10pct", "latency"]
    first = panels[0]
    assert first.findall("s:polyline[@data-series='threshold']", ns)[0].get(
        "stroke-dasharray") == "6 4"
    verdicts = [c.get("data-verdict") for c in first.findall("s:circle", ns)]
    assert verdicts == ["inconclusive", "pass", "fail"]
    tip = first.findall("s:circle", ns)[2].find("s:title", ns)
    assert tip is not None and tip.text == "fail: fail <&>"
    latency = panels[1]
    assert latency.findall("s:polyline[@data-series='canary']", ns)
    assert latency.findall("s:polyline[@data-series='baseline']", ns)


def test_chart_of_a_run_without_checks_says_so(web: Web) -> None:
    run_id = web.add_run(strategy="rolling")
    svg = web.client.get(f"/runs/{run_id}/chart.svg").text
    assert "no analysis checks yet" in svg
    assert 'id="run-chart"' not in web.client.get(f"/runs/{run_id}").text


def test_run_history_filters_and_pages(web: Web) -> None:
    ids = [web.add_run(status="succeeded", version=f"v{i}") for i in range(3)]
    failed = web.add_run(status="failed", version="bad", environment="staging")
    html = web.client.get("/runs", params={"status": "failed"}).text
    assert failed in html and not any(i in html for i in ids)
    html = web.client.get("/runs", params={"environment": "production", "limit": 2}).text
    shown = re.findall(r'data-run="([^"]+)"', html)
    assert shown == [ids[2], ids[1]]
    assert 'rel="next"' in html and "offset=2" in html and "environment=production" in html
    html = web.client.get("/runs", params={"environment": "production", "limit": 2,
                                           "offset": 2}).text
    assert re.findall(r'data-run="([^"]+)"', html) == [ids[0]]
    assert 'rel="prev"' in html and 'rel="next"' not in html
    assert "match these filters" in web.client.get("/runs", params={"service": "nope"}).text


def test_unknown_run_is_an_html_404(web: Web) -> None:
    resp = web.client.get("/runs/run-nope")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Not found" in resp.text


def test_actions_need_the_csrf_token(web: Web) -> None:
    token = web.csrf()
    form = {"service": "web", "environment": "production", "version": "v9"}
    resp = web.client.post("/deploy", data=form)
    assert resp.status_code == 403
    assert "CSRF" in resp.text
    resp = web.client.post("/deploy", data={**form, "csrf_token": "wrong"})
    assert resp.status_code == 403
    resp = web.client.post("/deploy", data={**form, "csrf_token": token})
    assert resp.status_code == 200
    assert "Deploy v9 of web to production?" in resp.text  # the confirmation step
    assert 'name="confirm" value="yes"' in resp.text


def test_rollback_needs_a_reason_and_something_to_go_back_to(web: Web) -> None:
    token = web.csrf()
    form = {"service": "web", "environment": "production", "csrf_token": token}
    resp = web.client.post("/rollback", data=form)
    assert resp.status_code == 400 and "needs a reason" in resp.text
    resp = web.client.post("/rollback", data={**form, "reason": "5xx <b>spike</b>"})
    assert resp.status_code == 409 and "nothing to roll back" in resp.text
    assert "<b>spike</b>" not in resp.text and "&lt;b&gt;spike&lt;/b&gt;" in resp.text


def test_cancel_asks_for_confirmation(web: Web) -> None:
    run_id = web.add_run()
    token = web.csrf()
    resp = web.client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert resp.status_code == 200
    assert f"Cancel run {run_id}?" in resp.text


def test_static_files_are_served(web: Web) -> None:
    assert "EventSource" in web.client.get("/static/dashboard.js").text
    assert web.client.get("/static/dashboard.css").status_code == 200


def test_series_keep_first_seen_order() -> None:
    base = AnalysisCheck(run_id="r", seq=1, analysis="a", name="x", kind="judge",
                         metric="latency", verdict="pass", observed=1.0, threshold=None,
                         baseline=1.0, summary="s")
    from datetime import UTC, datetime
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i, name in enumerate(["b", "a", "b"]):
        row = AnalysisCheck(**{c: getattr(base, c) for c in (
            "run_id", "seq", "analysis", "kind", "metric", "verdict", "observed",
            "threshold", "baseline", "summary")}, name=name, at=t0 + timedelta(seconds=i))
        rows.append(row)
    series = chart.series_of(rows)
    assert [s.name for s in series] == ["b", "a"]
    assert [len(s.points) for s in series] == [2, 1]
    assert chart.ticks(0.23) == [0.0, 0.1, 0.2, 0.3]
