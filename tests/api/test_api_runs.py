"""The REST API over a real ``rollgate serve``: deploys, the live stream, status, rollbacks."""

from __future__ import annotations

from typing import get_args

import httpx

from rollgate.api.routes_runs import RunStatus
from rollgate.store import runs as run_store
from tests.api.conftest import ApiServer


def test_deploy_streams_its_steps_in_order_then_the_status_shows_it_live(
    api: ApiServer,
) -> None:
    created = api.deploy("v1", **{"X-Rollgate-Actor": "alice"})
    assert created["status"] in {"pending", "running"}
    assert created["actor"] == "alice"

    events = api.events(created["id"])

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "run" and events[-1][1]["status"] == "succeeded", events
    assert set(kinds) == {"step", "run"}
    steps = [data for kind, data in events if kind == "step"]
    # Each step appears in order, and is reported again only when its state changes.
    first_seen = list(dict.fromkeys(s["seq"] for s in steps))
    assert first_seen == sorted(first_seen) == list(range(1, len(first_seen) + 1))
    assert [s["seq"] for s in steps] == sorted(s["seq"] for s in steps)
    pairs = [(s["seq"], s["state"], s["attempts"]) for s in steps]
    assert len(pairs) == len(set(pairs))
    final = {s["seq"]: s for s in steps}
    assert [s["name"] for s in final.values()] == [
        "plan", "start v1 (replica 0)", "health-check v1", "switch traffic to v1", "mark v1 live"]
    assert all(s["state"] == "succeeded" and s["attempts"] == 1 for s in final.values())

    run = api.http.get(f"/api/runs/{created['id']}").json()
    assert run["status"] == "succeeded"
    assert run["executor_id"] == api.http.get("/api/health").json()["executor"]
    assert [s["name"] for s in run["steps"]] == [s["name"] for s in final.values()]

    (web,) = api.http.get("/api/status").json()
    assert (web["service"], web["environment"], web["live"]) == ("web", "production", "v1")
    assert web["weights"] == {"v1": 100}
    assert web["active_run"] is None
    assert [(i["version"], i["healthy"]) for i in web["instances"]] == [("v1", True)]
    assert httpx.get(f"{web['url']}/version").json()["version"] == "v1"


def test_the_stream_of_an_ended_run_replays_it_and_ends(api: ApiServer) -> None:
    run = api.deployed("v1")
    events = api.events(run["id"], timeout=10)
    assert [k for k, _ in events] == ["step"] * len(run["steps"]) + ["run"]
    assert events[-1][1]["status"] == "succeeded"


def test_errors_share_one_shape(api: ApiServer) -> None:
    for method, path in [("GET", "/api/runs/run-nope"), ("GET", "/api/runs/run-nope/events"),
                         ("POST", "/api/runs/run-nope/cancel"),
                         ("POST", "/api/runs/run-nope/resume")]:
        resp = api.http.request(method, path)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["error"]["code"] == "not_found"
        assert "run-nope" in resp.json()["error"]["message"]

    missing = api.http.post("/api/deploys", json={"service": "web"})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "invalid_request"
    assert "body.version" in missing.json()["error"]["message"]
    assert api.http.get("/api/runs", params={"limit": 0}).status_code == 422
    assert api.http.get("/api/runs", params={"status": "nope"}).json()["error"]["code"] == (
        "invalid_request")

    unknown = api.http.post("/api/deploys", json={
        "service": "nope", "environment": "production", "version": "v1"})
    assert unknown.status_code == 400
    assert set(unknown.json()) == {"error"}
    assert set(unknown.json()["error"]) == {"code", "message"}
    assert unknown.json()["error"]["code"] == "bad_request"
    assert "unknown service 'nope'" in unknown.json()["error"]["message"]

    assert api.http.get("/api/nothing").json()["error"]["code"] == "not_found"


def test_a_busy_target_refuses_a_second_deploy_and_a_run_can_be_cancelled(
    api: ApiServer,
) -> None:
    api.deployed("v1")
    slow = api.deploy("v2")  # v2 takes 3 s to become healthy

    busy = api.http.post("/api/deploys", json={
        "service": "web", "environment": "production", "version": "v4"})
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "locked"
    assert busy.json()["error"]["run_id"] == slow["id"]

    cancel = api.http.post(f"/api/runs/{slow['id']}/cancel", headers={"X-Rollgate-Actor": "bob"})
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["cancel_requested"] is True
    assert api.wait(slow["id"])["status"] == "cancelled"
    assert api.http.get("/api/status").json()[0]["weights"] == {"v1": 100}

    again = api.http.post(f"/api/runs/{slow['id']}/resume")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "refused"


def test_runs_and_releases_are_paginated(api: ApiServer) -> None:
    ids = [api.deployed(v)["id"] for v in ("v1", "v1.1", "v1.2")]

    first = api.http.get("/api/runs", params={"limit": 2}).json()
    assert (first["limit"], first["offset"], first["next_offset"]) == (2, 0, 2)
    second = api.http.get("/api/runs", params={"limit": 2, "offset": 2}).json()
    assert second["next_offset"] is None
    assert [r["id"] for r in first["items"] + second["items"]] == ids[::-1]
    assert "steps" not in first["items"][0]

    filtered = api.http.get("/api/runs", params={
        "service": "web", "environment": "production", "status": "succeeded"}).json()
    assert [r["id"] for r in filtered["items"]] == ids[::-1]
    assert filtered["next_offset"] is None
    assert api.http.get("/api/runs", params={"status": "failed"}).json()["items"] == []
    assert api.http.get("/api/runs", params={"service": "other"}).json()["items"] == []

    releases = api.http.get("/api/releases", params={"service": "web", "limit": 2}).json()
    assert [r["version"] for r in releases["items"]] == ["v1.2", "v1.1"]
    assert releases["next_offset"] == 2
    rest = api.http.get("/api/releases", params={"limit": 2, "offset": 2}).json()
    assert ([r["version"] for r in rest["items"]], rest["next_offset"]) == (["v1"], None)


def test_rollback_through_the_api_records_who_and_why(api: ApiServer) -> None:
    nothing = api.http.post("/api/rollbacks", json={
        "service": "web", "environment": "production", "to": None, "reason": "x"})
    assert nothing.status_code == 409
    assert nothing.json()["error"]["code"] == "refused"

    api.deployed("v1")
    api.deployed("v1.1")
    resp = api.http.post("/api/rollbacks", headers={"X-Rollgate-Actor": "carol"}, json={
        "service": "web", "environment": "production", "to": None,
        "reason": "checkout errors after v1.1"})
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"] == f"/api/runs/{resp.json()['id']}"
    created = resp.json()
    assert (created["kind"], created["version"], created["from_version"]) == (
        "rollback", "v1", "v1.1")

    events = api.events(created["id"])
    run = events[-1][1]
    assert (run["status"], run["reason"], run["actor"]) == (
        "succeeded", "checkout errors after v1.1", "carol")
    (web,) = api.http.get("/api/status").json()
    assert (web["live"], web["weights"]) == ("v1", {"v1": 100})
    assert api.box.json("history")[0]["reason"] == "checkout errors after v1.1"


def test_openapi_documents_every_route(api: ApiServer) -> None:
    assert api.http.get("/docs").status_code == 200
    schema = api.http.get("/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) == 50
    for path in ("/api/incidents", "/api/incidents/{incident_id}/status",
                 "/api/alerts/alertmanager", "/api/reports/dora", "/status.json",
                 "/api/notifications", "/api/notifications/{notification_id}/resend"):
        assert path in schema["paths"], path
    for op in operations:
        assert op.get("summary") and op.get("description"), op


def test_the_server_stops_cleanly_on_sigterm(api: ApiServer) -> None:
    assert api.stop() == 0
    assert "rollgate serve: http://127.0.0.1:" in api.log()
    assert "Traceback" not in api.log()


def test_run_status_values_match_the_store() -> None:
    assert set(get_args(RunStatus)) == {run_store.PENDING, run_store.RUNNING,
                                        *run_store.TERMINAL}


def test_a_deploy_through_the_api_records_the_commit_of_a_new_release(api: ApiServer) -> None:
    sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
    resp = api.http.post("/api/deploys", json={
        "service": "web", "environment": "production", "version": "v1", "commit": sha,
        "committed_at": "2025-01-04T09:12:00+02:00"})
    assert resp.status_code == 202, resp.text
    assert api.wait(resp.json()["id"])["status"] == "succeeded"
    [release] = api.http.get("/api/releases").json()["items"]
    assert (release["commit_sha"], release["committed_at"]) == (sha, "2025-01-04T07:12:00Z")
    bad = api.http.post("/api/deploys", json={
        "service": "web", "environment": "production", "version": "v2", "commit": "zz"})
    assert bad.status_code == 400 and "not a commit sha" in bad.json()["error"]["message"]
