"""What a channel plugin is: it turns an event into the payload kept in the outbox (no
secrets in it), and sends a kept payload, adding the secrets then.

``render`` is pure (event dict and channel config in, JSON-able dict out, or None when the
channel has nothing to say about that kind of event). ``send`` makes one attempt and raises
:class:`DeliveryFailed` when it did not land; the outbox retries, backs off and
dead-letters. Every send carries the outbox's idempotency key, in the form the receiver
knows (a header, PagerDuty's dedup key, the e-mail's Message-ID).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from rollgate.redact import fill_refs


class DeliveryFailed(Exception):
    """One attempt did not land. ``retry`` False: trying again cannot help (a 400 or 404:
    the payload or the URL is wrong): the message goes to the dead letters at once.
    ``retry_after``: seconds the receiver asked to wait (HTTP 429 / 503 Retry-After)."""

    def __init__(self, message: str, *, retry: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt: the channel's name (for errors), the idempotency key, the time
    limit, and the HTTP client to send with (kept open across attempts)."""

    channel: str
    idempotency_key: str
    timeout: float
    client: httpx.Client


class Plugin(Protocol):
    """A channel type (slack, webhook, pagerduty, email)."""

    type: str

    def render(self, event: dict[str, Any], config: Any) -> dict[str, Any] | None:
        """The payload to keep for ``event`` (see ``notify.events.data_of``), or None."""

    def send(self, payload: dict[str, Any], config: Any, attempt: Attempt) -> str:
        """Deliver ``payload`` once; return a short summary of the receiver's answer."""


def secret(value: str, attempt: Attempt, field: str) -> str:
    """A config value with its ``${NAME}`` filled from the environment; unset: no retry
    helps until someone exports it, but it is kept for a retry after the fix."""
    from rollgate.errors import RollgateError

    try:
        return fill_refs(value, f"notifications.channels.{attempt.channel}.{field}")
    except RollgateError as exc:
        raise DeliveryFailed(exc.message) from None


def post_json(attempt: Attempt, url: str, body: bytes, headers: dict[str, str]) -> str:
    """POST a JSON body; the receiver's status and a short excerpt of its answer, or
    DeliveryFailed. Errors never name the URL (webhook URLs are secrets)."""
    try:
        response = attempt.client.post(url, content=body, timeout=attempt.timeout,
                                       headers={"Content-Type": "application/json",
                                                **headers})
    except httpx.TimeoutException:
        raise DeliveryFailed(f"no answer within {attempt.timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"cannot reach the receiver ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise http_failure(response.status_code, response.text,
                           response.headers.get("Retry-After"))
    return f"HTTP {response.status_code} {' '.join(response.text.split())[:100]}".strip()


def http_failure(status: int, body: str, retry_after: str | None) -> DeliveryFailed:
    """The failure an HTTP answer means: 408, 429 and 5xx are worth retrying; other 4xx are
    not (the payload or the address is wrong)."""
    seconds: float | None = None
    if retry_after:
        try:
            seconds = max(0.0, float(retry_after))
        except ValueError:
            seconds = None
    retry = status in (408, 425, 429) or status >= 500
    text = " ".join(body.split())[:200]
    return DeliveryFailed(f"HTTP {status}" + (f": {text}" if text else ""), retry=retry,
                          retry_after=seconds)
