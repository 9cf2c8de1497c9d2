"""The status page as an Atom 1.0 feed (RFC 4287): one entry per public incident update and
per maintenance notice of the history window, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from rollgate.statuspage.summary import Summary, window_start

ATOM = "http://www.w3.org/2005/Atom"
# The year in tag: URIs (RFC 4151): when rollgate began naming things under the host.
TAG_YEAR = "2025"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _add(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        child.text = text
    return child


def atom(summary: Summary, *, page_url: str, feed_url: str, authority: str) -> bytes:
    """The feed as UTF-8 XML; ``authority`` (the host name) makes the tag: URI ids."""
    tag = f"tag:{authority},{TAG_YEAR}:status/{summary.environment}"
    entries: list[tuple[datetime, str, str, str, str]] = []  # updated, id, title, body, link
    for incident in summary.incidents:
        for update in incident.updates:
            body = update.body or f"{incident.name}: {update.label.lower()}."
            entries.append((update.at, f"{tag}/incident/{incident.id}/{update.id}",
                            f"{incident.name} — {update.label}", body,
                            f"{page_url}#incident-{incident.id}"))
    for notice in summary.maintenance:
        when = f"{_stamp(notice.starts_at)} to {_stamp(notice.ends_at)}"
        body = f"{notice.message}\n\n{when}" if notice.message else when
        entries.append((notice.posted_at, f"{tag}/maintenance/{notice.id}",
                        f"Maintenance: {notice.name}", body,
                        f"{page_url}#maintenance-{notice.id}"))
    since = window_start(summary.now, summary.history_days)
    entries = sorted((e for e in entries if e[0] >= since), key=lambda e: (e[0], e[1]),
                     reverse=True)

    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    _add(root, "id", tag)
    _add(root, "title", summary.title)
    _add(root, "subtitle", f"{summary.description} ({summary.environment})")
    _add(root, "updated", _stamp(entries[0][0] if entries else summary.updated_at))
    _add(_add(root, "author"), "name", summary.title)
    _add(root, "link", rel="self", href=feed_url, type="application/atom+xml")
    _add(root, "link", rel="alternate", href=page_url, type="text/html")
    for updated, entry_id, title, body, link in entries:
        entry = _add(root, "entry")
        _add(entry, "id", entry_id)
        _add(entry, "title", title)
        _add(entry, "updated", _stamp(updated))
        _add(entry, "link", rel="alternate", href=link, type="text/html")
        _add(entry, "content", body, type="text")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
