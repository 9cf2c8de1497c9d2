"""GET /api/audit and /api/audit/verify over a real ``rollgate serve``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, update

from rollgate.store.tables import AuditEvent
from tests.api.conftest import ApiServer


def _events(api: ApiServer, **params: Any) -> dict[str, Any]:
    resp = api.http.get("/api/audit", params=params)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_the_log_lists_newest_first_with_filters_and_pages(api: ApiServer) -> None:
    run = api.deployed("v1")
    api.deployed("v2")
    page = _events(api)
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 4
    assert page["next_offset"] is None and page["limit"] == 50
    first = page["items"][-1]
    assert (first["action"], first["target"], first["actor"]) == (
        "deploy.requested", "web/production", "api")
    assert first["detail"]["run"] == run["id"]
    assert first["prev_hash"] == "0" * 64 and len(first["hash"]) == 64

    assert {e["action"] for e in _events(api, action="run.")["items"]} == {"run.succeeded"}
    assert len(_events(api, target="web/")["items"]) == len(seqs)
    assert _events(api, target="db/")["items"] == []
    assert _events(api, actor="nobody")["items"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _events(api, since=future)["items"] == []
    naive_past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert len(_events(api, since=naive_past)["items"]) == len(seqs)
    assert len(_events(api, since="0001-01-01T00:00:00+14:00")["items"]) == len(seqs)

    one = _events(api, limit=1)
    assert [e["seq"] for e in one["items"]] == seqs[:1] and one["next_offset"] == 1
    second = _events(api, limit=1, offset=one["next_offset"])
    assert [e["seq"] for e in second["items"]] == seqs[1:2]
    for bad in ({"limit": 0}, {"offset": -1}, {"since": "yesterday"}, {"offset": 2**63}):
        resp = api.http.get("/api/audit", params=bad)
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["error"]["code"] == "invalid_request"


def test_verify_names_the_first_edited_or_deleted_event(api: ApiServer) -> None:
    api.deployed("v1")
    api.deployed("v2")
    intact = api.http.get("/api/audit/verify").json()
    assert intact["ok"] is True and intact["checked"] >= 4
    assert (intact["bad_seq"], intact["reason"]) == (None, None)

    store = api.box.store()
    with store.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="mallory"))
    edited = api.http.get("/api/audit/verify").json()
    assert (edited["ok"], edited["bad_seq"], edited["checked"]) == (False, 2, 1)
    assert "edited" in edited["reason"]

    with store.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="api"))
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    deleted = api.http.get("/api/audit/verify").json()
    assert (deleted["ok"], deleted["bad_seq"]) == (False, 4)
    assert "event 3 is missing" in deleted["reason"]


def _token(api: ApiServer, name: str, role: str, environment: str) -> str:
    """Add a user with one grant (as the caller allows) and log in for a token."""
    password = f"{name} has a long passphrase"
    resp = api.http.post("/api/users", json={"name": name, "password": password, "role": role,
                                             "environment": environment})
    assert resp.status_code == 201, resp.text
    resp = api.http.post("/api/auth/token", json={"username": name, "password": password,
                                                  "name": "audit test"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_only_an_admin_of_every_environment_reads_the_log(api: ApiServer) -> None:
    api.deployed("v1")
    admin = _token(api, "root", "admin", "*")  # the first user closes open mode
    api.http.headers["Authorization"] = f"Bearer {admin}"  # for the next users and teardown
    prod_admin = _token(api, "pam", "admin", "production")
    viewer = _token(api, "vic", "viewer", "*")
    for path in ("/api/audit", "/api/audit/verify"):
        assert httpx.get(api.url + path).status_code == 401
        for token in (prod_admin, viewer):
            resp = httpx.get(api.url + path, headers=_bearer(token))
            assert resp.status_code == 403, resp.text
            assert "needs admin on every environment" in resp.json()["error"]["message"]
        assert httpx.get(api.url + path, headers=_bearer(admin)).status_code == 200
    actions = [e["action"] for e in _events(api, action="user.")["items"]]
    assert actions.count("user.created") == 3
