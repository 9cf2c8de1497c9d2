"""The commented starter rollgate.yaml that ``rollgate init`` writes."""

from __future__ import annotations

import re
from importlib.resources import files

from rollgate.errors import UsageError
from rollgate.spec.models import NAME

_PROJECT_LINE = re.compile(r"^project: .*$", re.MULTILINE)


def starter_spec(project: str) -> str:
    """Return the starter rollgate.yaml text for ``project``; raise UsageError for a bad name."""
    if not re.fullmatch(NAME, project):
        raise UsageError(
            f"invalid project name {project!r}: use lowercase letters, digits and dashes, "
            "starting with a letter (at most 63 characters)"
        )
    text = files("rollgate.spec").joinpath("starter.yaml").read_text(encoding="utf-8")
    # Replace the one line rather than format(): {python}, {port} and {version} must stay.
    return _PROJECT_LINE.sub(f"project: {project}", text, count=1)
