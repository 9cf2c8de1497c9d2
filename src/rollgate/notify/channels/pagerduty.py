"""PagerDuty Events API v2: an incident is one alert, runs are change events.

- ``incident.opened`` triggers an alert (``POST {url}/v2/enqueue``, ``event_action:
  trigger``) whose ``dedup_key`` is ``rollgate-<incident id>``: a retried or repeated
  trigger lands on the same alert.
- ``incident.acknowledged`` and ``incident.resolved`` acknowledge and resolve that alert
  (the same ``dedup_key``, no payload).
- ``run.started``, ``run.succeeded``, ``run.failed`` and ``run.rolled_back`` are change
  events (``POST {url}/v2/change/enqueue``), which PagerDuty shows next to incidents.
- Other events are not PagerDuty's business: ``render`` returns None.

The kept payload is ``{"path": ..., "body": ...}`` without the routing key (a secret); it
is added when the event is sent. PagerDuty answers 202 ``{"status": "success", ...}``;
400 means the event is invalid (no retry); 429 and 5xx are retried.
"""

from __future__ import annotations

import json
from typing import Any

from rollgate.notify.channels.base import Attempt, post_json, secret
from rollgate.spec.notify import PagerDutyChannel

ALERT = "/v2/enqueue"
CHANGE = "/v2/change/enqueue"
SUMMARY_MAX = 1024
DEDUP_MAX = 255
SEVERITIES = ("critical", "error", "warning")
ACTIONS = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}
CHANGES = {"run.started", "run.succeeded", "run.failed", "run.rolled_back"}


def severity(position: int | None) -> str:
    """PagerDuty's severity for a level's position (0 the most severe): critical, error,
    warning, then info (also for events without a level)."""
    if position is None or not 0 <= position < len(SEVERITIES):
        return "info"
    return SEVERITIES[position]


def dedup_key(event: dict[str, Any]) -> str:
    """One alert per incident: every event of an incident carries the same key."""
    incident = (event.get("refs") or {}).get("incident") or event["key"]
    return f"rollgate-{incident}"[:DEDUP_MAX]


def _summary(event: dict[str, Any]) -> str:
    subject = " ".join(str(event["subject"]).split())
    return subject if len(subject) <= SUMMARY_MAX else subject[: SUMMARY_MAX - 1] + "…"


def _details(event: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {str(label): value for label, value in event.get("fields") or []}
    if event.get("text"):
        details["Details"] = event["text"]
    return details


class PagerDuty:
    """The ``pagerduty`` channel type."""

    type = "pagerduty"

    def render(self, event: dict[str, Any], config: PagerDutyChannel) -> dict[str, Any] | None:
        """The Events API body (without the routing key) and where it goes, or None for
        events PagerDuty does not take."""
        kind = str(event["kind"])
        if kind == "incident.opened":
            payload: dict[str, Any] = {
                "summary": _summary(event), "source": config.source,
                "severity": severity(event.get("severity")), "timestamp": event["at"],
                "class": kind, "custom_details": _details(event)}
            if event.get("service"):
                payload["component"] = event["service"]
            if event.get("environment"):
                payload["group"] = event["environment"]
            return {"path": ALERT, "body": {"event_action": "trigger",
                                            "dedup_key": dedup_key(event),
                                            "payload": payload, "client": "rollgate"}}
        if kind in ACTIONS:
            return {"path": ALERT, "body": {"event_action": ACTIONS[kind],
                                            "dedup_key": dedup_key(event)}}
        if kind in CHANGES:
            return {"path": CHANGE, "body": {"payload": {
                "summary": _summary(event), "timestamp": event["at"],
                "source": config.source, "custom_details": _details(event)}}}
        return None

    def send(self, payload: dict[str, Any], config: PagerDutyChannel, attempt: Attempt) -> str:
        """POST the event with the routing key added."""
        body = {"routing_key": secret(config.routing_key, attempt, "routing_key"),
                **payload["body"]}
        url = secret(config.url, attempt, "url").rstrip("/") + str(payload["path"])
        return post_json(attempt, url, json.dumps(body, separators=(",", ":")).encode(),
                         {"Idempotency-Key": attempt.idempotency_key})
