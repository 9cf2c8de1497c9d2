"""Secrets never leave rollgate: values of secret-looking variables are masked in text."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from rollgate.errors import RollgateError, TargetError

SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|DSN|_URL$)",
                         re.IGNORECASE)
MASK = "********"
REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_refs(value: str, where: str, error: type[RollgateError] = TargetError) -> str:
    """Replace ``${NAME}`` with rollgate's environment variable NAME.

    Secrets belong in the environment, not in the spec: the spec (and the snapshot each run
    keeps of it) then holds only the reference. ``where`` names the spec field for the error.
    """
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise error(f"{where} refers to ${{{name}}}, which is not set in rollgate's "
                        f"environment; export {name} and try again")
        return os.environ[name]

    return REF.sub(fill, value)


def url_secrets(url: str) -> list[str]:
    """The password of a connection URL, as a value to mask."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password and len(password) >= 2 else []


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
