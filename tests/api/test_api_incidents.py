"""Incidents over a real ``rollgate serve``: the Alertmanager webhook (bearer token, HMAC,
refusals that create nothing) and an incident run through the REST API."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer

TOKEN = "am-token-3b9e1f0c2d7a4e58"  # from the environment, as `${RG_TEST_ALERT_TOKEN}`
HMAC_KEY = "hmac-secret-6c1d8e2f9a0b4c73"
ROUTE = "/api/alerts/alertmanager"
T0 = datetime(2025, 1, 4, 14, 30, tzinfo=UTC)
GROUP = '{}/{severity="critical"}:{alertname="HighErrorRate"}'


def write_spec(box: Sandbox, alerts: dict[str, Any] | None) -> None:
    """A one-service spec with two environments and the alert intake given."""
    box.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {"staging": {"strategy": {"kind": "recreate"},
                                     "ports": {"web": free_port()}},
                         "production": {"strategy": {"kind": "recreate"}}},
        **({"incidents": {"alerts": alerts}} if alerts is not None else {}),
    })


@pytest.fixture
def server(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    """A server in open mode whose spec takes alerts by token (from the environment) or by
    HMAC signature."""
    monkeypatch.setenv("RG_TEST_ALERT_TOKEN", TOKEN)
    write_spec(sandbox, {"token": "${RG_TEST_ALERT_TOKEN}", "hmac_secret": HMAC_KEY})
    api = ApiServer(sandbox)
    try:
        api.start()
        yield api
    finally:
        api.close()


def alert(fingerprint: str, status: str = "firing", starts: datetime = T0,
          ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    """An alert as Alertmanager sends it."""
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "web",
              "environment": "production", **labels}
    return {"status": status, "labels": labels,
            "annotations": {"summary": "5xx above 10%"},
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends.isoformat() if ends else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
            "fingerprint": fingerprint}


def notification(*items: dict[str, Any], group: str = GROUP) -> dict[str, Any]:
    """A version 4 webhook body."""
    status = "firing" if any(a["status"] == "firing" for a in items) else "resolved"
    return {"receiver": "rollgate", "status": status, "alerts": list(items),
            "groupLabels": {"alertname": items[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": items[0]["labels"]["alertname"],
                             "service": "web", "environment": "production"},
            "commonAnnotations": {"summary": "Checkout error rate above 10%"},
            "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": group,
            "truncatedAlerts": 0}


def bearer(token: str = TOKEN) -> dict[str, str]:
    """Alertmanager's http_config.authorization."""
    return {"Authorization": f"Bearer {token}"}


def deliver(api: ApiServer, body: dict[str, Any] | bytes, **headers: str) -> httpx.Response:
    """POST a notification (a dict as JSON, bytes as they are)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.http.post(ROUTE, content=raw, headers={"Content-Type": "application/json",
                                                      **headers})


def signed(raw: bytes, key: str = HMAC_KEY) -> dict[str, str]:
    """The signature header of a body."""
    digest = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Rollgate-Signature": f"sha256={digest}"}


def incidents(api: ApiServer) -> list[dict[str, Any]]:
    """Every incident the API lists."""
    resp = api.http.get("/api/incidents", params={"limit": 500})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def detail(api: ApiServer, incident_id: str) -> dict[str, Any]:
    """GET /api/incidents/{id}."""
    resp = api.http.get(f"/api/incidents/{incident_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def refused(resp: httpx.Response, status: int) -> str:
    """The message of an error response with this status."""
    assert resp.status_code == status, resp.text
    return str(resp.json()["error"]["message"])


def test_a_group_fires_resolves_and_retries_into_one_incident(server: ApiServer) -> None:
    firing = notification(alert("a1b2c3d4e5f60718"), alert("0f1e2d3c4b5a6978"))
    resolved = notification(*(alert(fp, "resolved", ends=T0 + timedelta(minutes=12))
                              for fp in ("a1b2c3d4e5f60718", "0f1e2d3c4b5a6978")))
    outcomes = []
    for body in (firing, firing, resolved, resolved, firing):  # retries, and one stale
        resp = deliver(server, body, **bearer())
        assert resp.status_code == 200, resp.text
        outcomes.append(resp.json()["outcome"])
    assert outcomes == ["created", "unchanged", "updated", "unchanged", "unchanged"]
    [row] = incidents(server)
    assert (row["status"], row["level"], row["source"]) == ("resolved", "SEV0", "alert")
    assert (row["service"], row["environment"]) == ("web", "production")
    shown = detail(server, row["id"])
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds.count("alert") == 4  # two alerts, each fired and resolved once
    assert kinds.count("status") == 1
    assert {e["actor"] for e in shown["timeline"] if e["kind"] == "alert"} == {"alertmanager"}
    other = deliver(server, notification(alert("1111111111111111", alertname="DiskFull"),
                                         group='{}:{alertname="DiskFull"}'), **bearer())
    assert other.json()["outcome"] == "created"
    assert len(incidents(server)) == 2
    assert TOKEN not in server.log() and HMAC_KEY not in server.log()


def test_an_hmac_signature_of_the_body_is_accepted(server: ApiServer) -> None:
    raw = json.dumps(notification(alert("a1b2c3d4e5f60718"))).encode()
    resp = deliver(server, raw, **signed(raw))
    assert resp.status_code == 200, resp.text
    assert resp.json()["outcome"] == "created"
    upper = signed(raw)["X-Rollgate-Signature"].upper().replace("SHA256=", "sha256=")
    assert deliver(server, raw, **{"X-Rollgate-Signature": upper}).json()["outcome"] == (
        "unchanged")


def test_refused_deliveries_say_why_and_create_nothing(server: ApiServer) -> None:
    good = json.dumps(notification(alert("a1b2c3d4e5f60718"))).encode()
    assert "Bearer <incidents.alerts.token>" in refused(deliver(server, good), 401)
    assert "neither incidents.alerts.token" in refused(
        deliver(server, good, **bearer("not-the-token")), 401)
    assert "unknown or mistyped" in refused(
        deliver(server, good, **bearer("rg_" + "0" * 16 + "_" + "x" * 43)), 401)
    assert "does not match" in refused(deliver(server, good, **signed(good, "wrong key")), 401)
    tampered = good.replace(b"HighErrorRate", b"LowErrorRate")
    assert "does not match" in refused(deliver(server, tampered, **signed(good)), 401)
    resp = deliver(server, good)
    assert resp.headers["www-authenticate"].startswith("Bearer")
    # authenticated, but not a notification
    assert "not JSON" in refused(deliver(server, b"{not json", **bearer()), 400)
    shape = notification(alert("a1b2c3d4e5f60718"))
    del shape["alerts"][0]["fingerprint"]
    assert "body.alerts.0.fingerprint" in refused(deliver(server, shape, **bearer()), 422)
    assert "body.version" in refused(deliver(server, {**notification(
        alert("a1b2c3d4e5f60718")), "version": "3"}, **bearer()), 422)
    assert "NUL" in refused(deliver(server, notification(alert("a1\u0000")), **bearer()), 400)
    huge = json.dumps({**notification(alert("a1b2c3d4e5f60718")),
                       "padding": "x" * (1024 * 1024)}).encode()
    assert "larger than" in refused(deliver(server, huge, **bearer()), 413)
    assert incidents(server) == []
    everything = server.log()
    assert TOKEN not in everything and HMAC_KEY not in everything
    assert "alertmanager webhook from 127.0.0.1 refused" in everything


def test_without_configured_credentials_the_route_stays_closed(server: ApiServer) -> None:
    write_spec(server.box, None)  # the spec is read per request
    raw = json.dumps(notification(alert("a1b2c3d4e5f60718"))).encode()
    message = refused(deliver(server, raw, **bearer()), 401)
    assert "no alert credentials are configured: set incidents.alerts.token" in message
    assert "hmac_secret is not set" in refused(deliver(server, raw, **signed(raw)), 401)
    write_spec(server.box, {"token": "${RG_TEST_UNSET_VARIABLE}"})
    assert "export RG_TEST_UNSET_VARIABLE" in refused(deliver(server, raw, **bearer()), 401)
    assert incidents(server) == []  # open mode (no users) opened nothing


def test_an_incident_runs_through_the_api_with_its_actors(server: ApiServer) -> None:
    def post(path: str, actor: str, body: dict[str, Any] | None = None,
             status: int = 200) -> dict[str, Any]:
        resp = server.http.post(path, json=body, headers={"X-Rollgate-Actor": actor})
        assert resp.status_code == status, resp.text
        return dict(resp.json())

    opened = post("/api/incidents", "alice", {
        "title": "Checkout returns 502", "signals": {"error_rate": 0.2}, "service": "web",
        "environment": "production", "summary": "customers cannot pay"}, status=201)
    assert (opened["level"], opened["status"], opened["opened_by"]) == (
        "SEV1", "investigating", "alice")  # 20% 5xx: SEV1 by seed 000's rules
    path = f"/api/incidents/{opened['id']}"
    assert post(f"{path}/roles", "alice", {"role": "ic", "person": "bob"})["roles"] == {
        "commander": "bob"}
    post(f"{path}/ack", "bob")
    again = post(f"{path}/ack", "carol")  # a second ack changes nothing
    assert again["acknowledged_by"] == "bob"
    post(f"{path}/notes", "bob", {"text": "rolling back to v1", "public": True})
    post(f"{path}/level", "bob", {"level": "SEV0", "reason": "every tenant affected"})
    post(f"{path}/status", "bob", {"to": "resolved", "note": "v1 is live again"})
    shown = detail(server, opened["id"])
    assert shown["status"] == "resolved" and shown["level"] == "SEV0"
    trail = [(e["kind"], e["actor"]) for e in shown["timeline"]
             if e["actor"] != "rollgate"]
    assert trail == [("opened", "alice"), ("role", "alice"), ("ack", "bob"),
                     ("update", "bob"), ("severity", "bob"), ("status", "bob")]
    update = next(e for e in shown["timeline"] if e["kind"] == "update")
    assert update["public"] is True and update["text"] == "rolling back to v1"
    # refusals name the reason
    assert "cannot become identified" in refused(server.http.post(
        f"{path}/status", json={"to": "identified"}), 409)
    assert "unknown severity" in refused(server.http.post(
        f"{path}/level", json={"level": "SEV9"}), 400)
    assert "no run" in refused(server.http.post(
        f"{path}/links", json={"kind": "run", "ref": "run-nope"}), 404)
    assert "unknown environment" in refused(server.http.post("/api/incidents", json={
        "title": "x", "environment": "moon"}), 400)
    assert "no incident" in refused(server.http.get("/api/incidents/inc-nope"), 404)
    # lists filter
    post("/api/incidents", "dave", {"title": "Slow search", "level": "SEV3"}, status=201)
    listed = server.http.get("/api/incidents", params={"status": "resolved"}).json()
    assert [i["id"] for i in listed["items"]] == [opened["id"]]
    assert len(server.http.get("/api/incidents",
                               params={"status": ["resolved", "investigating"]})
               .json()["items"]) == 2
    assert server.http.get("/api/incidents",
                           params={"environment": "staging"}).json()["items"] == []
    first = server.http.get("/api/incidents", params={"limit": 1}).json()
    assert first["next_offset"] == 1 and first["items"][0]["title"] == "Slow search"
    # closing needs the level's post-mortem published, unless forced (and said so)
    assert "post-mortem published" in refused(server.http.post(
        f"{path}/status", json={"to": "closed"}), 409)
    closed = post(f"{path}/status", "bob", {"to": "closed", "force": True})
    assert closed["status"] == "closed"
    assert closed["timeline"][-1]["text"].endswith("(forced: the post-mortem is not published)")
