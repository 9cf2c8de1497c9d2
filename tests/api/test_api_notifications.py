"""The outbox through the API of a real ``rollgate serve``: an incident's message to a
webhook that refuses it is dead-lettered, listed as failed, sent again once the receiver is
fixed, and refused a second time once delivered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from rollgate.testing import Sandbox, free_port
from rollgate.testing.receivers import Receiver
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer


@pytest.fixture
def server(sandbox: Sandbox, receiver: Receiver) -> Iterator[ApiServer]:
    sandbox.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), sandbox.faults_path)},
        "environments": {"production": {}},
        "notifications": {
            "channels": {"hook": {"type": "webhook", "url": receiver.url + "/hook"}},
            "routes": [{"events": ["incident.opened"], "channels": ["hook"]}],
            "delivery": {"max_attempts": 2, "backoff": "10ms", "max_backoff": "10ms"},
        },
    })
    api = ApiServer(sandbox)
    api.start()
    yield api
    api.close()


def _until(server: ApiServer, params: dict[str, Any], count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = server.http.get("/api/notifications", params=params).json()["items"]
        if len(items) >= count:
            return list(items)
        time.sleep(0.1)
    raise AssertionError(f"no {count} notification(s) with {params}:\n{server.log()}")


def test_a_dead_letter_is_listed_and_sent_again(server: ApiServer,
                                                receiver: Receiver) -> None:
    receiver.status, receiver.answer = 500, b"boom"
    inc = server.http.post("/api/incidents", json={
        "title": "Checkout down", "level": "SEV1", "environment": "production"}).json()["id"]
    (dead,) = _until(server, {"failed": "true"}, 1)
    assert (dead["event"], dead["state"], dead["attempts"], dead["channel"]) == (
        "incident.opened", "dead", 2, "hook")
    assert dead["subject"] == f"[SEV1] {inc}: Checkout down"
    assert dead["last_error"] == "attempt 2: HTTP 500: boom"
    receiver.status, receiver.answer = 200, b"ok"
    again = server.http.post(f"/api/notifications/{dead['id']}/resend")
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending"
    (done,) = _until(server, {"state": "delivered"}, 1)
    assert done["id"] == dead["id"] and done["response"] == "HTTP 200 ok"
    assert len(receiver.received) == 3
    assert len({r.headers["idempotency-key"] for r in receiver.received}) == 1
    refused = server.http.post(f"/api/notifications/{dead['id']}/resend")
    assert refused.status_code == 409 and "duplicate" in refused.json()["error"]["message"]
    assert server.http.post("/api/notifications/9999/resend").status_code == 404
    assert server.http.get("/api/notifications", params={"failed": "true"}).json()[
        "items"] == []
