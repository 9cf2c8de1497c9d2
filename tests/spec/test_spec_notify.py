"""The notifications and status_page sections: a wrong one names the file, line and field."""

from __future__ import annotations

from pathlib import Path

from tests.spec.test_spec_loader import BASE, problems

GOOD_CHANNELS = """\
notifications:
  channels:
    slack: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
"""


def test_a_route_to_an_unknown_channel_is_named_with_its_line(tmp_path: Path) -> None:
    text = BASE + GOOD_CHANNELS + """\
  routes:
    - events: [run.*]
      channels: [slak]
"""
    assert problems(tmp_path, text) == [
        "rollgate.yaml:19: notifications.routes[0].channels[0]: unknown channel 'slak' "
        "(did you mean 'slack'?)"]


def test_a_literal_secret_is_refused(tmp_path: Path) -> None:
    text = BASE + """\
notifications:
  channels:
    slack: {type: slack, url: "https://hooks.slack.com/services/T0/B0/abc"}
"""
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert found[0].startswith("rollgate.yaml:16: notifications.channels.slack.slack.url: ")
    assert "write it as ${NAME}" in found[0]


def test_an_event_that_does_not_exist_is_named(tmp_path: Path) -> None:
    text = BASE + GOOD_CHANNELS + """\
  routes:
    - events: [deploy.started]
      channels: [slack]
"""
    found = problems(tmp_path, text)
    assert found[0].startswith("rollgate.yaml:18: notifications.routes[0].events: "
                               "'deploy.started' matches no event; events are run.started")


def test_unknown_levels_and_environments_are_named(tmp_path: Path) -> None:
    text = BASE + GOOD_CHANNELS + """\
  routes:
    - events: [incident.*]
      channels: [slack]
      min_severity: SEV9
status_page:
  environment: prod
"""
    found = problems(tmp_path, text)
    assert found[0].startswith("rollgate.yaml:20: notifications.routes[0].min_severity: "
                               "unknown level 'SEV9'")
    assert found[1].startswith("rollgate.yaml:22: status_page.environment: unknown "
                               "environment 'prod' (defined: production)")
