"""Channel plugins against real receivers on loopback: one contract every channel passes
(webhook, slack, pagerduty, email), then what each service's documented format asks for.

Secrets are ``${NAME}`` references filled from the environment at send time: the contract
checks they never reach a rendered payload (the outbox row) or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollgate.notify.channels import PLUGINS
from rollgate.notify.channels.base import Attempt, DeliveryFailed
from rollgate.notify.channels.email import message_id
from rollgate.spec.notify import (
    EVENTS,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from rollgate.testing.receivers import Receiver
from tests.notify.samples import AT, INCIDENT, RUN, event
from tests.notify.smtp import SmtpServer, self_signed

KEY = "notification:41:slack-ops"


def attempt(client: httpx.Client, key: str = KEY, timeout: float = 5.0) -> Attempt:
    """One attempt as the outbox makes it."""
    return Attempt(channel="ops", idempotency_key=key, timeout=timeout, client=client)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("smtp-cert"))


# --- the contract every channel passes ----------------------------------------------------

class Harness:
    """A channel type with a real receiver: its config (secrets as ``${NAME}``), the secret
    values, and how to make the receiver accept, fail for a while, or refuse."""

    type: str
    config: Any
    secrets: list[str]
    address: str  # where it sends: must not appear in errors either

    def answer(self, outcome: str) -> None:
        """Make the receiver answer ``ok``, ``transient`` or ``permanent``."""
        raise NotImplementedError

    def delivered(self) -> int:
        """How many messages arrived."""
        raise NotImplementedError

    def stop(self) -> None:
        """Take the receiver down."""
        raise NotImplementedError


class HttpHarness(Harness):
    """Slack, PagerDuty or a webhook endpoint on loopback."""

    def __init__(self, type_: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.type = type_
        self.receiver = Receiver().start()
        if type_ == "pagerduty":
            self.receiver.status, self.receiver.answer = 202, (
                b'{"status":"success","message":"Event processed",'
                b'"dedup_key":"rollgate-INC-20261207-0001"}')
        hook = f"{self.receiver.url}/services/T0ROLL/B0GATE/xoxSecretPath42"
        self.address = hook
        if type_ == "slack":
            monkeypatch.setenv("SLACK_HOOK", hook)
            self.config = SlackChannel(type="slack", url="${SLACK_HOOK}", channel="#deploys")
            self.secrets = [hook, "xoxSecretPath42"]
        elif type_ == "webhook":
            monkeypatch.setenv("HOOK_URL", hook)
            monkeypatch.setenv("HOOK_SECRET", "whsec-9f8e7d6c5b4a")
            monkeypatch.setenv("HOOK_TOKEN", "Bearer tok-1a2b3c4d")
            self.config = WebhookChannel(type="webhook", url="${HOOK_URL}",
                                         secret="${HOOK_SECRET}",
                                         headers={"Authorization": "${HOOK_TOKEN}"})
            self.secrets = [hook, "xoxSecretPath42", "whsec-9f8e7d6c5b4a", "tok-1a2b3c4d"]
        else:
            monkeypatch.setenv("PD_ROUTING_KEY", "R0UT1NGKEY0123456789abcdef012345")
            self.config = PagerDutyChannel(type="pagerduty", routing_key="${PD_ROUTING_KEY}",
                                           url=self.receiver.url)
            self.address = self.receiver.url
            self.secrets = ["R0UT1NGKEY0123456789abcdef012345"]
        self.ok = (self.receiver.status, self.receiver.answer)
        self.accepting: list[tuple[int, bool]] = [(0, True)]  # from request n on: accepted?

    def answer(self, outcome: str) -> None:
        self.receiver.status, self.receiver.answer = {
            "ok": self.ok, "transient": (500, b"rollup_error"),
            "permanent": (400, b"invalid_payload")}[outcome]
        self.accepting.append((len(self.receiver.received), outcome == "ok"))

    def delivered(self) -> int:
        ends = [start for start, _ in self.accepting[1:]] + [len(self.receiver.received)]
        return sum(end - start for (start, ok), end in zip(self.accepting, ends, strict=True)
                   if ok)

    def stop(self) -> None:
        self.receiver.stop()


class EmailHarness(Harness):
    """A mail relay on loopback with STARTTLS and AUTH required."""

    type = "email"

    def __init__(self, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = SmtpServer(cert, mode="starttls", user="rollgate@example.com",
                                 password="smtp-pa55-w0rd").__enter__()
        monkeypatch.setenv("SMTP_USER", "rollgate@example.com")
        monkeypatch.setenv("SMTP_PASSWORD", "smtp-pa55-w0rd")
        self.config = EmailChannel.model_validate({
            "type": "email", "host": "127.0.0.1", "port": self.server.port,
            "username": "${SMTP_USER}", "password": "${SMTP_PASSWORD}",
            "from": "rollgate@example.com", "to": ["ops@example.com", "sre@example.com"],
            "verify_tls": False})
        self.secrets = ["smtp-pa55-w0rd"]
        self.address = f"127.0.0.1:{self.server.port}"
        self.running = True

    def answer(self, outcome: str) -> None:
        self.server.mailbox.reply = {"ok": "250 2.0.0 OK",
                                     "transient": "451 4.3.0 Mail server temporarily busy",
                                     "permanent": "550 5.7.1 Message rejected as spam"}[outcome]

    def delivered(self) -> int:
        return len(self.server.mails)

    def stop(self) -> None:
        if self.running:
            self.server.__exit__()
            self.running = False


@pytest.fixture(params=["webhook", "slack", "pagerduty", "email"])
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            cert: tuple[Path, Path]) -> Iterator[Harness]:
    made: Harness = (EmailHarness(cert, monkeypatch) if request.param == "email"
                     else HttpHarness(request.param, monkeypatch))
    yield made
    made.stop()


@pytest.fixture(params=["webhook", "slack", "pagerduty"])
def http_harness(request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpHarness]:
    made = HttpHarness(request.param, monkeypatch)
    yield made
    made.stop()


def send(h: Harness, client: httpx.Client, kind: str = "incident.opened",
         key: str = KEY) -> str:
    """Render an event for the harness's channel and send it once."""
    plugin = PLUGINS[h.type]
    payload = plugin.render(event(kind), h.config)
    assert payload is not None
    return plugin.send(json.loads(json.dumps(payload)), h.config, attempt(client, key))


def failure(h: Harness, client: httpx.Client) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        send(h, client)
    for value in [*h.secrets, h.address]:
        assert value not in caught.value.message
    return caught.value


def test_every_kind_renders_to_json_without_secrets(harness: Harness) -> None:
    plugin = PLUGINS[harness.type]
    rendered = 0
    for kind in EVENTS:
        payload = plugin.render(event(kind), harness.config)
        if payload is None:
            continue
        rendered += 1
        text = json.dumps(payload)
        assert json.loads(text) == payload
        for value in harness.secrets:
            assert value not in text, (kind, value)
    # PagerDuty takes incidents' opening, ack and resolution, and the four run events.
    assert rendered == (7 if harness.type == "pagerduty" else len(EVENTS))


def test_a_send_that_lands_returns_a_summary(harness: Harness, client: httpx.Client) -> None:
    summary = send(harness, client)
    assert summary.strip()
    assert harness.delivered() == 1
    for value in harness.secrets:
        assert value not in summary


def test_a_server_error_is_retried(harness: Harness, client: httpx.Client) -> None:
    harness.answer("transient")
    failed = failure(harness, client)
    assert failed.retry is True
    assert harness.delivered() == 0
    harness.answer("ok")
    send(harness, client)
    assert harness.delivered() == 1


def test_a_refused_message_is_not_retried(harness: Harness, client: httpx.Client) -> None:
    harness.answer("permanent")
    failed = failure(harness, client)
    assert failed.retry is False
    assert ("550" if harness.type == "email" else "400") in failed.message


def test_an_unreachable_receiver_is_retried_without_naming_it(
        harness: Harness, client: httpx.Client) -> None:
    harness.stop()
    failed = failure(harness, client)
    assert failed.retry is True


def test_an_unset_secret_fails_naming_the_variable(
        harness: Harness, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    name = {"slack": "SLACK_HOOK", "webhook": "HOOK_SECRET", "pagerduty": "PD_ROUTING_KEY",
            "email": "SMTP_PASSWORD"}[harness.type]
    monkeypatch.delenv(name)
    failed = failure(harness, client)
    assert f"${{{name}}}" in failed.message and f"export {name}" in failed.message
    assert harness.delivered() == 0


def test_too_many_requests_carries_retry_after(http_harness: HttpHarness,
                                               client: httpx.Client) -> None:
    http_harness.receiver.status, http_harness.receiver.answer = 429, b"rate_limited"
    http_harness.receiver.headers = {"Retry-After": "30"}
    failed = failure(http_harness, client)
    assert (failed.retry, failed.retry_after) == (True, 30)


# --- Slack --------------------------------------------------------------------------------

def check_block_kit(message: dict[str, Any]) -> None:
    """What Slack validates in an incoming webhook's Block Kit message."""
    assert isinstance(message["text"], str) and message["text"]
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        assert block["type"] in ("header", "section", "context", "divider"), block
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn"
                assert 1 <= len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert field["type"] == "mrkdwn" and 1 <= len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 2000 for e in block["elements"])


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, SlackChannel]]:
    receiver = Receiver().start()
    monkeypatch.setenv("SLACK_HOOK", f"{receiver.url}/services/T0/B0/hooksecret")
    yield receiver, SlackChannel(type="slack", url="${SLACK_HOOK}", channel="#deploys")
    receiver.stop()


def test_slack_gets_a_header_fields_text_and_context(
        slack: tuple[Receiver, SlackChannel], client: httpx.Client) -> None:
    receiver, config = slack
    plugin = PLUGINS["slack"]
    payload = plugin.render(event("run.failed"), config)
    assert payload is not None
    assert plugin.send(payload, config, attempt(client)) == "HTTP 200 ok"
    [request] = receiver.received
    assert request.path == "/services/T0/B0/hooksecret"
    message = request.json()
    check_block_kit(message)
    assert message["text"] == "FAILED: Deployment v1.6.0 of web production failed"
    header, fields, text, context = message["blocks"]
    assert header["text"]["text"] == message["text"]
    assert {"type": "mrkdwn", "text": "*Version*\nv1.6.0"} in fields["fields"]
    assert text["text"]["text"] == 'migration 0042 failed: relation "orders" does not exist'
    line = context["elements"][0]["text"]
    assert "<!date^" + str(int(AT.timestamp())) in line and "2026-12-07 14:03:09 UTC" in line
    assert "`run.failed`" in line and "production" in line and "#deploys" in line


def test_slack_message_fits_block_kit_limits_and_escapes(
        slack: tuple[Receiver, SlackChannel]) -> None:
    _, config = slack
    long = event("incident.opened", subject="[SEV1] " + "checkout <down> & out " * 10,
                 text="Traceback <module> & more\n" * 200,
                 fields=[[f"Label {i}", "x" * 2500] for i in range(12)])
    message = PLUGINS["slack"].render(long, config)
    assert message is not None
    check_block_kit(message)
    head, *sections = message["blocks"]
    # A subject longer than a header holds is a bold section, whole and escaped.
    assert head["type"] == "section"
    assert head["text"]["text"].startswith("*[SEV1] checkout &lt;down&gt; &amp; out")
    assert [len(b["fields"]) for b in sections if "fields" in b] == [10, 2]
    text = next(b["text"]["text"] for b in sections
                if "text" in b and b["text"]["text"].startswith("Traceback"))
    assert len(text) <= 3000 and text.endswith("…")
    assert "<module>" not in text and "&lt;module&gt; &amp; more" in text
    assert "<" not in message["text"] and "&lt;down&gt;" in message["text"]


def test_slack_text_is_cut_without_breaking_an_escape(
        slack: tuple[Receiver, SlackChannel]) -> None:
    _, config = slack
    message = PLUGINS["slack"].render(event("run.failed", text="&" * 5000), config)
    assert message is not None
    check_block_kit(message)
    text = next(b["text"]["text"] for b in message["blocks"]
                if b["type"] == "section" and "text" in b)
    assert text == "&amp;" * 599 + "…"


@pytest.mark.parametrize(("status", "answer"), [(400, b"invalid_payload"),
                                                (403, b"action_prohibited"),
                                                (404, b"no_service"),
                                                (410, b"channel_is_archived")])
def test_slack_refusals_are_final_and_say_why(
        slack: tuple[Receiver, SlackChannel], client: httpx.Client, status: int,
        answer: bytes) -> None:
    receiver, config = slack
    receiver.status, receiver.answer = status, answer
    payload = PLUGINS["slack"].render(event("run.started"), config)
    assert payload is not None
    with pytest.raises(DeliveryFailed) as caught:
        PLUGINS["slack"].send(payload, config, attempt(client))
    assert caught.value.retry is False
    assert caught.value.message == f"HTTP {status}: {answer.decode()}"


# --- PagerDuty ----------------------------------------------------------------------------

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver,
                                                                 PagerDutyChannel]]:
    receiver = Receiver(status=202, answer=b'{"status":"success","message":"Event '
                                           b'processed","dedup_key":"x"}').start()
    monkeypatch.setenv("PD_ROUTING_KEY", ROUTING_KEY)
    yield receiver, PagerDutyChannel(type="pagerduty", routing_key="${PD_ROUTING_KEY}",
                                     url=receiver.url + "/", source="rollgate.example.com")
    receiver.stop()


def test_pagerduty_incident_is_one_alert_triggered_acknowledged_resolved(
        pagerduty: tuple[Receiver, PagerDutyChannel], client: httpx.Client) -> None:
    receiver, config = pagerduty
    plugin = PLUGINS["pagerduty"]
    for number, kind in enumerate(("incident.opened", "incident.acknowledged",
                                   "incident.resolved")):
        payload = plugin.render(event(kind), config)
        assert payload is not None and ROUTING_KEY not in json.dumps(payload)
        assert plugin.send(payload, config, attempt(client, f"n:{number}")).startswith(
            "HTTP 202")
    assert [r.path for r in receiver.received] == ["/v2/enqueue"] * 3
    trigger, ack, resolve = receiver.bodies()
    assert trigger == {
        "routing_key": ROUTING_KEY, "event_action": "trigger",
        "dedup_key": f"rollgate-{INCIDENT}", "client": "rollgate",
        "payload": {
            "summary": f"[SEV1] {INCIDENT}: Checkout down",
            "source": "rollgate.example.com", "severity": "critical",
            "timestamp": "2026-12-07T14:03:09+00:00", "component": "web",
            "group": "production", "class": "incident.opened",
            "custom_details": {"Severity": "SEV1", "Status": "investigating",
                               "Service": "web", "Environment": "production",
                               "Channel": "#inc-checkout",
                               "Details": "Checkout returns 502 for 30% of requests since "
                                          "14:01 UTC"}}}
    assert ack == {"routing_key": ROUTING_KEY, "event_action": "acknowledge",
                   "dedup_key": f"rollgate-{INCIDENT}"}
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                       "dedup_key": f"rollgate-{INCIDENT}"}


def test_pagerduty_runs_are_change_events(pagerduty: tuple[Receiver, PagerDutyChannel],
                                          client: httpx.Client) -> None:
    receiver, config = pagerduty
    plugin = PLUGINS["pagerduty"]
    kinds = ["run.started", "run.succeeded", "run.failed", "run.rolled_back"]
    for kind in kinds:
        payload = plugin.render(event(kind), config)
        assert payload is not None
        plugin.send(payload, config, attempt(client))
    assert [r.path for r in receiver.received] == ["/v2/change/enqueue"] * 4
    body = receiver.bodies()[3]
    assert body == {"routing_key": ROUTING_KEY, "payload": {
        "summary": "ROLLBACK ALERT: web production reverted to v1.5.0",
        "timestamp": "2026-12-07T14:03:09+00:00", "source": "rollgate.example.com",
        "custom_details": {"Service": "web", "Environment": "production",
                           "Version": "v1.6.0", "Previous": "v1.5.0", "By": "ana",
                           "Run": RUN}}}


@pytest.mark.parametrize(("position", "severity"), [(0, "critical"), (1, "error"),
                                                    (2, "warning"), (3, "info"),
                                                    (None, "info")])
def test_pagerduty_severity_follows_the_level(pagerduty: tuple[Receiver, PagerDutyChannel],
                                              position: int | None, severity: str) -> None:
    payload = PLUGINS["pagerduty"].render(event("incident.opened", severity=position),
                                          pagerduty[1])
    assert payload is not None
    assert payload["body"]["payload"]["severity"] == severity


def test_pagerduty_summary_is_cut_to_1024(pagerduty: tuple[Receiver, PagerDutyChannel]) -> None:
    payload = PLUGINS["pagerduty"].render(event("incident.opened", subject="x" * 2000),
                                          pagerduty[1])
    assert payload is not None
    assert len(payload["body"]["payload"]["summary"]) == 1024


def test_pagerduty_ignores_what_is_not_an_alert_or_a_change(
        pagerduty: tuple[Receiver, PagerDutyChannel]) -> None:
    ignored = [kind for kind in EVENTS
               if PLUGINS["pagerduty"].render(event(kind), pagerduty[1]) is None]
    assert ignored == ["approval.needed", "incident.updated", "incident.reminder",
                       "incident.escalation", "maintenance.scheduled", "maintenance.reminder",
                       "maintenance.started", "maintenance.ended", "maintenance.cancelled"]


# --- webhook ------------------------------------------------------------------------------

def test_webhook_signature_verifies_and_a_tampered_body_does_not(
        monkeypatch: pytest.MonkeyPatch, client: httpx.Client) -> None:
    webhook = HttpHarness("webhook", monkeypatch)
    try:
        send(webhook, client, kind="run.rolled_back", key="notification:7:hook")
    finally:
        webhook.stop()
    [request] = webhook.receiver.received
    timestamp = request.headers["x-rollgate-timestamp"]

    def signed(body: bytes) -> str:
        mac = hmac.new(b"whsec-9f8e7d6c5b4a", timestamp.encode() + b"." + body,
                       hashlib.sha256)
        return "sha256=" + mac.hexdigest()

    assert hmac.compare_digest(signed(request.body), request.headers["x-rollgate-signature"])
    tampered = request.body.replace(b"v1.5.0", b"v9.9.9")
    assert tampered != request.body
    assert not hmac.compare_digest(signed(tampered), request.headers["x-rollgate-signature"])
    assert request.headers["idempotency-key"] == "notification:7:hook"
    assert request.headers["x-rollgate-event"] == "run.rolled_back"
    assert request.headers["authorization"] == "Bearer tok-1a2b3c4d"
    body = request.json()
    assert body["idempotency_key"] == "notification:7:hook"
    assert body["event"]["subject"] == "ROLLBACK ALERT: web production reverted to v1.5.0"


# --- e-mail -------------------------------------------------------------------------------

def mail_config(port: int, **changes: Any) -> EmailChannel:
    return EmailChannel.model_validate({
        "type": "email", "host": "127.0.0.1", "port": port, "username": "${SMTP_USER}",
        "password": "${SMTP_PASSWORD}", "from": "rollgate@example.com",
        "to": ["ops@example.com", "sre@example.com"], "verify_tls": False, **changes})


@pytest.fixture
def smtp_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USER", "rollgate@example.com")
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-pa55-w0rd")


def mail(config: EmailChannel, client: httpx.Client, kind: str = "incident.opened",
         key: str = KEY) -> str:
    payload = PLUGINS["email"].render(event(kind), config)
    assert payload is not None
    return PLUGINS["email"].send(payload, config, attempt(client, key))


@pytest.mark.usefixtures("smtp_login")
def test_email_over_starttls_with_login_arrives_whole(cert: tuple[Path, Path],
                                                      client: httpx.Client) -> None:
    with SmtpServer(cert, mode="starttls", user="rollgate@example.com",
                    password="smtp-pa55-w0rd") as server:
        config = mail_config(server.port)
        mail(config, client)
        mail(config, client)  # a retry whose answer was lost: the same Message-ID
        mail(config, client, key="notification:42:mail")
    first, again, other = server.mails
    assert (first.tls, first.login) == (True, "rollgate@example.com")
    assert first.sender == "rollgate@example.com"
    assert first.recipients == ["ops@example.com", "sre@example.com"]
    message = first.message
    assert message["Subject"] == f"[SEV1] {INCIDENT}: Checkout down"
    assert message["To"] == "ops@example.com, sre@example.com"
    assert message["Date"] is not None
    expected = "<" + hashlib.sha256(KEY.encode()).hexdigest()[:32] + "@rollgate>"
    assert message["Message-ID"] == expected == message_id(KEY)
    assert again.message["Message-ID"] == expected != other.message["Message-ID"]
    body = message.get_content().replace("\r\n", "\n")  # lines end in CRLF on the wire
    assert body.startswith("Checkout returns 502 for 30% of requests since 14:01 UTC\n\n")
    assert "Severity: SEV1\nStatus: investigating\nService: web\n" in body
    assert "2026-12-07T14:03:09+00:00" in body


@pytest.mark.usefixtures("smtp_login")
def test_email_wrong_password_is_final_and_not_repeated(
        cert: tuple[Path, Path], client: httpx.Client,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "not-the-pa55")
    with SmtpServer(cert, mode="starttls", user="rollgate@example.com",
                    password="smtp-pa55-w0rd") as server, pytest.raises(DeliveryFailed) as caught:
        mail(mail_config(server.port), client)
    assert caught.value.retry is False
    assert "refused the login" in caught.value.message
    assert "not-the-pa55" not in caught.value.message
    assert server.mails == []


@pytest.mark.usefixtures("smtp_login")
def test_email_over_tls_from_the_start(cert: tuple[Path, Path], client: httpx.Client) -> None:
    with SmtpServer(cert, mode="tls", user="rollgate@example.com",
                    password="smtp-pa55-w0rd") as server:
        mail(mail_config(server.port, security="tls"), client, kind="maintenance.scheduled")
    [arrived] = server.mails
    assert arrived.login == "rollgate@example.com"
    assert arrived.message["Subject"].startswith("MAINTENANCE SCHEDULED: Database upgrade")


@pytest.mark.usefixtures("smtp_login")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_checks_the_certificate_unless_told_not_to(
        cert: tuple[Path, Path], client: httpx.Client, monkeypatch: pytest.MonkeyPatch,
        security: str) -> None:
    with SmtpServer(cert, mode=security, user="rollgate@example.com",  # type: ignore[arg-type]
                    password="smtp-pa55-w0rd") as server:
        config = mail_config(server.port, security=security, verify_tls=True)
        with pytest.raises(DeliveryFailed) as caught:
            mail(config, client)
        assert caught.value.retry is False
        assert "certificate is not trusted" in caught.value.message
        assert "smtp-pa55-w0rd" not in caught.value.message
        assert server.mails == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # now the system trusts it
        mail(config, client)
        assert len(server.mails) == 1


@pytest.mark.usefixtures("smtp_login")
def test_email_never_logs_in_without_starttls_when_asked_for_it(
        cert: tuple[Path, Path], client: httpx.Client) -> None:
    with SmtpServer(cert, mode="none") as relay, pytest.raises(DeliveryFailed) as caught:
        mail(mail_config(relay.port), client)
    assert caught.value.retry is False
    assert "does not offer STARTTLS" in caught.value.message
    assert relay.mails == []


def test_email_through_a_plain_local_relay(cert: tuple[Path, Path],
                                           client: httpx.Client) -> None:
    with SmtpServer(cert, mode="none") as relay:
        mail(mail_config(relay.port, security="none", username=None, password=None), client)
    assert [m.tls for m in relay.mails] == [False]


@pytest.mark.usefixtures("smtp_login")
@pytest.mark.parametrize(("reply", "retry"), [("550 5.1.1 No such user", False),
                                              ("450 4.2.1 Mailbox busy", True)])
def test_email_refused_recipient(cert: tuple[Path, Path], client: httpx.Client, reply: str,
                                 retry: bool) -> None:
    with SmtpServer(cert, mode="starttls", user="rollgate@example.com",
                    password="smtp-pa55-w0rd") as server:
        server.mailbox.refuse["sre@example.com"] = reply
        with pytest.raises(DeliveryFailed) as caught:
            mail(mail_config(server.port), client)
    assert caught.value.retry is retry
    assert f"sre@example.com: {reply}" in caught.value.message
    assert "1 accepted it" in caught.value.message
    assert [m.recipients for m in server.mails] == [["ops@example.com"]]
