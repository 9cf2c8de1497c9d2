"""Generic webhook: the event as JSON, signed so the receiver can tell it is rollgate's and
fresh.

Headers: ``X-Rollgate-Timestamp`` (Unix seconds), ``X-Rollgate-Signature``
(``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"`` with the channel's secret),
``X-Rollgate-Event`` (the event kind) and ``Idempotency-Key`` (the same on every retry).
A receiver checks the signature and refuses timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from rollgate.notify.channels.base import Attempt, post_json, secret
from rollgate.spec.notify import WebhookChannel

SIGNATURE = "X-Rollgate-Signature"
TIMESTAMP = "X-Rollgate-Timestamp"


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp.body``."""
    mac = hmac.new(secret_value.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Webhook:
    """The ``webhook`` channel type."""

    type = "webhook"

    def render(self, event: dict[str, Any], config: WebhookChannel) -> dict[str, Any] | None:
        """The event itself, as the receiver gets it."""
        return {"version": 1, "event": event}

    def send(self, payload: dict[str, Any], config: WebhookChannel, attempt: Attempt) -> str:
        """POST the payload, signed when the channel has a secret."""
        body = json.dumps({**payload, "idempotency_key": attempt.idempotency_key},
                          separators=(",", ":"), sort_keys=True).encode()
        headers = {name: secret(value, attempt, f"headers.{name}")
                   for name, value in config.headers.items()}
        headers["Idempotency-Key"] = attempt.idempotency_key
        headers["X-Rollgate-Event"] = str(payload["event"]["kind"])
        if config.secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP] = timestamp
            headers[SIGNATURE] = sign(secret(config.secret, attempt, "secret"), timestamp,
                                      body)
        return post_json(attempt, secret(config.url, attempt, "url"), body, headers)
