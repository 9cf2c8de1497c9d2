"""Notifications end to end: a real ``rollgate serve``, a deploy and an incident, and real
receivers on loopback standing in for Slack, PagerDuty, a webhook and a mail relay (aiosmtpd
with STARTTLS and a login). Every receiver goes down for a while, rollgate restarts in
between, then they come back: every message arrives exactly once, none lost, none twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollgate.testing import Sandbox, free_port
from rollgate.testing.receivers import Receiver
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.notify.smtp import SmtpServer, self_signed

SLACK_PATH = "/services/T000/B000/XXXXSECRET"


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    found = {name: Receiver().start() for name in ("slack", "pagerduty", "hook")}
    found["pagerduty"].status, found["pagerduty"].answer = 202, b'{"status":"success"}'
    yield found
    for r in found.values():
        r.stop()


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(self_signed(tmp_path), mode="starttls", user="rollgate",
                    password="mail-pass-123") as server:
        yield server


def write_spec(box: Sandbox, receivers: dict[str, Receiver], mail: SmtpServer) -> None:
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {"production": {"strategy": {"kind": "recreate"}}},
        "notifications": {
            "channels": {
                "deploys": {"type": "slack", "url": "${RG_E2E_SLACK_URL}",
                            "channel": "#deployments"},
                "pager": {"type": "pagerduty", "routing_key": "${RG_E2E_PD_KEY}",
                          "url": receivers["pagerduty"].url},
                "hook": {"type": "webhook", "url": receivers["hook"].url,
                         "secret": "${RG_E2E_HOOK_SECRET}"},
                "mail": {"type": "email", "host": "127.0.0.1", "port": mail.port,
                         "security": "starttls", "username": "rollgate",
                         "password": "${RG_E2E_SMTP_PASSWORD}", "from": "rollgate@shop.test",
                         "to": ["status@shop.test"], "verify_tls": False},
            },
            "routes": [
                {"events": ["run.*", "incident.*"], "channels": ["deploys", "hook"]},
                {"events": ["run.*", "incident.*"], "channels": ["pager"],
                 "environments": ["production"], "min_severity": "SEV1"},
                {"events": ["incident.*"], "channels": ["mail"], "public_only": True},
            ],
            "delivery": {"max_attempts": 100, "backoff": "200ms", "max_backoff": "1s",
                         "timeout": "5s"},
        },
    })


def wait_for(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_message_arrives_exactly_once_across_an_outage_and_a_restart(
        sandbox: Sandbox, receivers: dict[str, Receiver], mail: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_E2E_SLACK_URL", receivers["slack"].url + SLACK_PATH)
    monkeypatch.setenv("RG_E2E_PD_KEY", "R0UTINGKEY0123456789abcdef012345")
    monkeypatch.setenv("RG_E2E_HOOK_SECRET", "hook-secret-456")
    monkeypatch.setenv("RG_E2E_SMTP_PASSWORD", "mail-pass-123")
    write_spec(sandbox, receivers, mail)
    server = ApiServer(sandbox)
    server.start()
    try:
        # While everything is up: a deploy is announced on Slack and to PagerDuty.
        server.deployed("v1")
        wait_for("the deploy's messages", lambda: len(receivers["slack"].received) >= 2
                 and len(receivers["pagerduty"].received) >= 2)
        assert [b["text"] for b in receivers["slack"].bodies()][:2] == [
            "DEPLOYMENT: Starting v1 of web production (User: api)",
            "SUCCESS: Deployment v1 of web production completed successfully"]
        assert all(r.path == "/v2/change/enqueue" for r in receivers["pagerduty"].received)

        # Every receiver goes down; the incident goes on.
        for r in receivers.values():
            r.stop()
        mail.down()
        inc = server.http.post("/api/incidents", json={
            "title": "Checkout returns 502", "level": "SEV1", "service": "web",
            "environment": "production"}).json()["id"]
        for text, public in (("db cpu at 95%, failing over", False),
                             ("We are failing over the database", True)):
            assert server.http.post(f"/api/incidents/{inc}/notes",
                                    json={"text": text, "public": public}).status_code == 200
        assert server.http.post(f"/api/incidents/{inc}/status", json={
            "to": "resolved", "note": "Checkout works again", "public": True}
        ).status_code == 200

        def tried() -> bool:
            # One incident's messages to a channel go in order: the first of each is tried
            # again and again, the others wait behind it.
            rows = sandbox.json("notifications", "list", "--limit", "100")
            pending = [r for r in rows if r["state"] != "delivered"]
            retried = {r["channel"] for r in pending if r["attempts"] >= 2}
            return len(pending) == 13 and retried == {"deploys", "hook", "pager", "mail"}

        wait_for("failed attempts while the receivers are down", tried)
        failing = [r for r in sandbox.json("notifications", "list", "--limit", "100")
                   if r["state"] != "delivered"]
        assert {r["state"] for r in failing} <= {"pending", "sending"}
        assert not any("SECRET" in (r["last_error"] or "") or "mail-pass" in
                       (r["last_error"] or "") for r in failing)

        # rollgate restarts while they are down; then they come back.
        assert server.stop() == 0
        server.start()
        for r in receivers.values():
            r.start()
        mail.up()

        def all_delivered() -> bool:
            rows = sandbox.json("notifications", "list", "--limit", "100")
            return all(r["state"] == "delivered" for r in rows)

        wait_for("every message delivered", all_delivered, timeout=90)
        time.sleep(1.5)  # room for a duplicate to show up, if there were one
    finally:
        server.close()

    rows = sandbox.json("notifications", "list", "--limit", "100")
    by_channel = Counter(r["channel"] for r in rows)
    keys = {r["channel"]: sorted(x["idempotency_key"] for x in rows
                                 if x["channel"] == r["channel"]) for r in rows}
    for name in ("slack", "pagerduty", "hook"):
        channel = {"slack": "deploys", "pagerduty": "pager", "hook": "hook"}[name]
        seen = [r.headers["idempotency-key"] for r in receivers[name].received
                if r.headers.get("idempotency-key")]
        assert sorted(set(seen)) == keys[channel]  # every message arrived
        assert len(seen) == len(set(seen)) == by_channel[channel]  # and once each
    ids = [m.message["Message-ID"] for m in mail.mails]
    assert len(ids) == len(set(ids)) == by_channel["mail"]

    # What arrived is what each service documents.
    slack = [b["text"] for b in receivers["slack"].bodies()]
    assert f"[SEV1] {inc}: Checkout returns 502" in slack
    assert f"[RESOLVED] {inc}: Checkout returns 502" in slack
    pd = [r.json() for r in receivers["pagerduty"].received if r.path == "/v2/enqueue"]
    assert [e["event_action"] for e in pd] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in pd} == {f"rollgate-{inc}"}
    assert pd[0]["routing_key"] == "R0UTINGKEY0123456789abcdef012345"
    subjects = [m.message["Subject"] for m in mail.mails]
    assert subjects[0] == f"[SEV1] {inc}: Checkout returns 502"
    assert subjects[-1] == f"[RESOLVED] {inc}: Checkout returns 502"
    assert all(m.tls and m.login == "rollgate" for m in mail.mails)
    bodies = " ".join(str(m.message.get_content()) for m in mail.mails)
    assert "We are failing over the database" in bodies
    assert "db cpu" not in bodies  # the internal note stays internal
