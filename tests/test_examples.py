"""Every example spec validates, and each seed runbook has one."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollgate.spec.loader import load_spec

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


def test_one_example_per_seed() -> None:
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(path: Path) -> None:
    spec = load_spec(path)
    assert spec.services and spec.environments
