"""The contract every check kind passes, against real servers and processes on loopback.

A kind's test module subclasses :class:`CheckKindContract` as ``Test<Kind>Contract``, sets
``kind`` and provides three fixtures, each a :class:`Case`:

- ``passing``: a config and a context under which the check passes (without a warning);
- ``failing``: the check runs but what it observes is wrong;
- ``unreachable``: what the check reads is not there (a dead port, a missing file...).

Each case says what text its result's detail must contain, so a user reading the line
learns what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, get_args

import pytest
from pydantic import BaseModel

from rollgate.checks.base import CheckConfig
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import kinds
from rollgate.errors import SpecError
from rollgate.spec.loader import parse_spec
from tests.checks.helpers import run, spec_dict, yaml_text


@dataclass(frozen=True)
class Case:
    """A check config (as written in the spec), the context it runs in, what it must say."""

    config: dict[str, Any]
    ctx: CheckContext
    says: str


class CheckKindContract:
    """The tests every check kind passes; subclass it as ``Test<Kind>Contract``."""

    kind: ClassVar[str]

    @property
    def model(self) -> type[CheckConfig]:
        """The kind's config model, from the registry."""
        return kinds()[self.kind].model

    def test_registered_under_its_kind(self) -> None:
        registered = kinds()[self.kind]
        assert registered.kind == self.kind
        assert registered.model.model_fields["kind"].description == "selects this check"

    def test_every_field_is_documented(self) -> None:
        for model in _models(self.model):
            assert model.__doc__ and model.__doc__.strip(), model.__name__
            for name, info in model.model_fields.items():
                assert info.description, f"{model.__name__}.{name} has no description"

    def test_passing_case_passes(self, passing: Case) -> None:
        result = run(passing.config, passing.ctx)
        assert (result.status, result.name) == ("pass", passing.ctx.name), result.detail
        assert passing.says in result.detail
        assert result.duration_ms >= 0

    def test_failing_case_fails_saying_what_was_seen(self, failing: Case) -> None:
        result = run(failing.config, failing.ctx)
        assert result.status == "fail", result.detail
        assert failing.says in result.detail

    def test_unreachable_case_fails_without_raising(self, unreachable: Case) -> None:
        result = run(unreachable.config, unreachable.ctx)
        assert result.status == "fail", result.detail
        assert unreachable.says in result.detail

    def test_a_wrong_field_fails_validation_naming_its_line(
        self, passing: Case, tmp_path: Path
    ) -> None:
        text = yaml_text(spec_dict(checks={"probe": passing.config}))
        assert parse_spec(text, "rollgate.yaml").checks["probe"].kind == self.kind
        wrong = text.replace(f"kind: {self.kind}\n", f"kind: {self.kind}\n    bogus: 1\n", 1)
        line = wrong.splitlines().index("    bogus: 1") + 1
        with pytest.raises(SpecError) as caught:
            parse_spec(wrong, "rollgate.yaml")
        assert caught.value.problems == [
            f"rollgate.yaml:{line}: checks.probe.bogus: unknown key (allowed: "
            f"{', '.join(self.model.model_fields)})"
        ]


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model its fields hold, however nested."""
    found = [model]

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.extend(_models(tp))
            return
        for arg in get_args(tp):
            visit(arg)

    for info in model.model_fields.values():
        visit(info.annotation)
    return found
