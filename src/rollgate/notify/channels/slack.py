"""Slack incoming webhooks: a Block Kit message with a plain-text fallback.

The message is ``{"text": <fallback>, "blocks": [...]}``: the subject as a header (a section
when it is longer than a header holds), the labelled fields, the event's text, and a
context line with the time, the kind and the environment. Every piece is cut to Block Kit's
limits, so a long error output never makes Slack refuse the whole message.

Slack answers 200 ``ok``; 400 ``invalid_payload``, 403, 404 ``no_service`` and 410 mean the
payload or the webhook is wrong (no retry); 429 (with ``Retry-After``) and 5xx are retried.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rollgate.notify.channels.base import Attempt, post_json, secret
from rollgate.spec.notify import SlackChannel

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
LABEL_MAX = 100  # ours: a label is a word or two, the rest of a field is its value
FIELDS_PER_SECTION = 10
CONTEXT_MAX = 2000
BLOCKS_MAX = 50
FALLBACK_MAX = 3000

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
ELLIPSIS = "…"


def escape(text: str, limit: int | None = None) -> str:
    """``text`` for mrkdwn (``&``, ``<`` and ``>`` escaped), cut to ``limit`` characters
    after escaping (ending in "…"), never inside an escape."""
    parts = [_ESCAPES.get(char, char) for char in text]
    if limit is None or sum(map(len, parts)) <= limit:
        return "".join(parts)
    kept: list[str] = []
    room = limit - len(ELLIPSIS)
    for part in parts:
        if len(part) > room:
            break
        kept.append(part)
        room -= len(part)
    return "".join(kept) + ELLIPSIS


def cut(text: str, limit: int) -> str:
    """Plain text cut to ``limit`` characters, ending in "…" when it was longer."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _when(at: str) -> str:
    """The event time as Slack shows it in each reader's zone, with the UTC text as the
    fallback for clients that cannot."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return escape(at)
    if moment.tzinfo is None:
        return escape(at)
    fallback = moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def blocks_of(event: dict[str, Any], config: SlackChannel) -> list[dict[str, Any]]:
    """The Block Kit blocks for ``event``."""
    subject = " ".join(str(event["subject"]).split())
    blocks: list[dict[str, Any]] = []
    if len(subject) <= HEADER_MAX:
        blocks.append({"type": "header",
                       "text": {"type": "plain_text", "text": subject, "emoji": True}})
    else:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": escape(f"*{subject}*", SECTION_MAX)}})
    fields = []
    for label, value in event.get("fields") or []:
        head = f"*{escape(str(label), LABEL_MAX)}*\n"
        fields.append({"type": "mrkdwn", "text": head + escape(str(value),
                                                               FIELD_MAX - len(head))})
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start:start + FIELDS_PER_SECTION]})
    text = str(event.get("text") or "").strip()
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": escape(text, SECTION_MAX)}})
    blocks = blocks[:BLOCKS_MAX - 1]
    context = [_when(str(event["at"])), f"`{escape(str(event['kind']))}`"]
    if event.get("environment"):
        context.append(escape(str(event["environment"])))
    if config.channel:
        context.append(escape(config.channel))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": cut(" · ".join(context), CONTEXT_MAX)}]})
    return blocks


class Slack:
    """The ``slack`` channel type."""

    type = "slack"

    def render(self, event: dict[str, Any], config: SlackChannel) -> dict[str, Any] | None:
        """Block Kit blocks and the plain-text fallback Slack shows in notifications."""
        fallback = escape(" ".join(str(event["subject"]).split()), FALLBACK_MAX)
        return {"text": fallback, "blocks": blocks_of(event, config)}

    def send(self, payload: dict[str, Any], config: SlackChannel, attempt: Attempt) -> str:
        """POST the message to the incoming webhook (its URL is the secret)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return post_json(attempt, secret(config.url, attempt, "url"), body,
                         {"Idempotency-Key": attempt.idempotency_key})
