"""Channel plugins by type: each renders an event into the payload the outbox keeps and
sends it (see ``base``)."""

from __future__ import annotations

from rollgate.notify.channels.base import Plugin
from rollgate.notify.channels.email import Email
from rollgate.notify.channels.pagerduty import PagerDuty
from rollgate.notify.channels.slack import Slack
from rollgate.notify.channels.webhook import Webhook

PLUGINS: dict[str, Plugin] = {plugin.type: plugin
                              for plugin in (Slack(), Webhook(), PagerDuty(), Email())}
