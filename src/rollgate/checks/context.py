"""What a check sees when it runs: the spec, where the service is, its environment."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rollgate.checks.base import CheckResult
from rollgate.errors import UsageError
from rollgate.metrics.base import Window
from rollgate.redact import REF

if TYPE_CHECKING:  # the spec imports the check registry: only type-check against it
    from rollgate.spec.models import Spec


class TrafficSource(Protocol):
    """Requests and 5xx of a whole service (every version together) over a window."""

    def totals(self, seconds: float) -> Window:
        """What the service answered over the last ``seconds`` (``Window.seconds`` covered)."""
        ...


class OpenIncident(Protocol):
    """An incident that is still open, as checks see it."""

    @property
    def severity(self) -> str:
        """``SEV1``, ``SEV2``..."""
        ...

    @property
    def title(self) -> str:
        """What the incident is about."""
        ...


@dataclass(frozen=True)
class CheckContext:
    """Everything a check runner may use; build one per check run.

    - ``name``: the check's name under ``checks:``; ``spec`` and ``spec_dir`` (relative
      paths in a check are relative to it); ``environment`` the check runs for.
    - ``service`` and ``base_url`` (its public URL): None when no service is involved.
    - ``env``: what the service's processes get on top of ``environ``, rollgate's own
      environment (``services.NAME.env`` with ``${NAME}`` filled in).
    - Hooks, filled by callers that have them (a check needing a missing one fails saying
      so): ``proxy_admin_url`` of the local target's proxy (builtin metrics);
      ``metric_source`` replacing the environment's metric source; ``open_incidents``.
    - ``started``: when the run began (``run_check`` sets it).
    """

    name: str
    spec: Spec
    spec_dir: Path
    environment: str
    service: str | None = None
    base_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    proxy_admin_url: str | None = None
    metric_source: TrafficSource | None = None
    open_incidents: Callable[[], Sequence[OpenIncident]] | None = None
    started: float = field(default_factory=time.monotonic, compare=False)

    @property
    def variables(self) -> dict[str, str]:
        """The environment the service runs with: rollgate's own, then the service's."""
        return {**self.environ, **self.env}

    def fill(self, text: str, where: str) -> str:
        """Replace ``${NAME}`` in ``text`` with the service's variable NAME.

        Raises UsageError (a failed check, once run) naming ``where`` when NAME is not set.
        """
        variables = self.variables

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                raise UsageError(f"{where} refers to ${{{name}}}, which is not set; export "
                                 f"{name} or set it in services.<name>.env")
            return variables[name]

        return REF.sub(value, text)

    def url(self, path: str, base_url: str | None = None) -> str:
        """``base_url`` (or the service's public URL) joined with ``path``."""
        base = base_url or self.base_url
        if base is None:
            raise UsageError("this check has no URL to request: it runs without a service "
                             "here; give it a base_url")
        return base.rstrip("/") + path

    def passed(self, detail: str) -> CheckResult:
        """A passing result of this check."""
        return self.result(True, detail)

    def warned(self, detail: str) -> CheckResult:
        """A pass with a warning (a failure in strict mode)."""
        return self.result(True, detail, warning=True)

    def failed(self, detail: str) -> CheckResult:
        """A failing result of this check."""
        return self.result(False, detail)

    def result(self, ok: bool, detail: str, *, warning: bool = False) -> CheckResult:
        """A result of this check, timed from ``started``; only a pass carries a warning."""
        elapsed = int((time.monotonic() - self.started) * 1000)
        return CheckResult(self.name, ok, detail, elapsed, warning=warning and ok)
