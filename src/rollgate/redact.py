"""Secrets never leave rollgate: values of secret-looking variables are masked in text."""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|DSN|_URL$)",
                         re.IGNORECASE)
MASK = "********"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names look secret, longest first (so overlaps mask fully)."""
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 4}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret value in ``text`` with a mask."""
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def excerpt(text: str, limit: int = 4000) -> str:
    """The tail of a long output, marked as cut."""
    return text if len(text) <= limit else "...\n" + text[-limit:]


def literal_secrets(env_by_owner: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Secret-looking variables written as literal values (owner path -> env mapping)."""
    found = []
    for owner, env in env_by_owner.items():
        for key, value in env.items():
            if SECRET_NAME.search(key) and value and "${" not in value:
                found.append(f"{owner}.{key}")
    return found
