"""The check kinds: one registry maps ``kind`` to its config model and its runner.

A kind is one module: a config model (a :class:`CheckConfig` whose ``kind`` is a
``Literal``, every field described: the reference is generated from them) and a runner
registered with :func:`check_kind`::

    class StatusPageCheck(CheckConfig):
        \"\"\"The public status page is green.\"\"\"

        kind: Literal["status_page"] = Field(description="selects this check")
        url: str = Field(description="the status page's JSON API")

    @check_kind(StatusPageCheck)
    def run(check: StatusPageCheck, ctx: CheckContext) -> CheckResult:
        ...
        return ctx.passed("all systems operational")  # or ctx.warned(...), ctx.failed(...)

A runner returns a failed result for a failing check; it may raise ``RollgateError`` for
a check that cannot run (``run_check`` turns it into a failed result), and never shows a
secret value.

Built-in kinds live in ``rollgate.checks.kinds``: every module there is imported, so a new
file there is the whole change. Other packages register theirs through the
``rollgate.checks`` entry-point group (the module is imported; ``check_kind`` registers).
The spec's ``checks:`` union is built from :func:`models`, so ``rollgate validate`` knows
every kind's fields.

Kind modules are imported while the spec model is being built: they must not import
``rollgate.spec.models`` (or modules that do) at module level; import those inside the
runner.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.errors import RollgateError
from rollgate.redact import redact, secret_values

log = logging.getLogger(__name__)

C = TypeVar("C", bound=CheckConfig)
Runner = Callable[[C, CheckContext], CheckResult]

ENTRY_POINT_GROUP = "rollgate.checks"
BUILTIN_PACKAGE = "rollgate.checks.kinds"
_FIRST = ("http", "command")


@dataclass(frozen=True)
class CheckKind(Generic[C]):
    """One kind of check: the model of its config and the function that runs it."""

    kind: str
    model: type[C]
    run: Runner[C]
    origin: str


_KINDS: dict[str, CheckKind[Any]] = {}
_FAILED: dict[str, str] = {}
_state: Literal["new", "loading", "loaded"] = "new"
_CYCLE = ("a check kind module imports rollgate.spec.models (or a module that does) at "
          "module level, so the spec was built before every kind registered; import it "
          "inside the runner")


def check_kind(model: type[C]) -> Callable[[Runner[C]], Runner[C]]:
    """Register the decorated runner for the checks ``model`` configures.

    A second registration of the same ``kind`` is an error.
    """
    kind = kind_of(model)

    def register(runner: Runner[C]) -> Runner[C]:
        if kind in _KINDS:
            raise ValueError(f"check kind {kind!r} is registered twice: by "
                             f"{_KINDS[kind].origin} and by {runner.__module__}")
        _KINDS[kind] = CheckKind(kind, model, runner, runner.__module__)
        return runner

    return register


def kind_of(model: type[CheckConfig]) -> str:
    """The ``kind`` a config model selects (its ``kind: Literal[...]`` field)."""
    field = model.model_fields.get("kind")
    annotation = field.annotation if field is not None else None
    if get_origin(annotation) is not Literal or len(get_args(annotation)) != 1:
        raise TypeError(f"{model.__name__}.kind must be declared as Literal['<kind>']")
    return str(get_args(annotation)[0])


def kinds() -> dict[str, CheckKind[Any]]:
    """Every registered kind by name (loaded on first use): http, command, then the rest.

    The order is that of the spec's union: of ``must be one of ...`` and the reference.
    """
    _load()
    return {kind: _KINDS[kind] for kind in sorted(_KINDS, key=_rank)}


def models() -> tuple[type[CheckConfig], ...]:
    """The config model of every kind, in the order of :func:`kinds`."""
    return tuple(k.model for k in kinds().values())


def load_failures() -> dict[str, str]:
    """Entry points that failed to load, by name, with the reason."""
    _load()
    return dict(_FAILED)


def run_check(check: CheckConfig, ctx: CheckContext) -> CheckResult:
    """Run one check; a check that fails or cannot run is a failed result, never an error.

    The detail is masked with the values of secret-looking variables of ``ctx``.
    """
    runner = kinds().get(check.kind)
    start = time.monotonic()
    if runner is None:
        result = ctx.failed(f"no check kind {check.kind!r} is installed")
    else:
        try:
            result = runner.run(check, replace(ctx, started=start))
        except RollgateError as exc:
            result = ctx.failed(exc.message)
    detail = redact(result.detail, secret_values(ctx.variables))
    return replace(result, name=ctx.name, detail=detail,
                   duration_ms=int((time.monotonic() - start) * 1000))


def _rank(kind: str) -> tuple[int, str]:
    """The two original kinds first, the others by name."""
    return (_FIRST.index(kind) if kind in _FIRST else len(_FIRST), kind)


def _load() -> None:
    """Import the built-in kinds, then the entry points (a failing one is recorded)."""
    global _state
    if _state == "loaded":
        return
    if _state == "loading":
        raise RuntimeError(_CYCLE)
    _state = "loading"
    try:
        package = importlib.import_module(BUILTIN_PACKAGE)
        for name in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
            module = importlib.import_module(f"{BUILTIN_PACKAGE}.{name}")
            if getattr(module.__spec__, "_initializing", False):  # its import led here
                raise RuntimeError(_CYCLE)
    except BaseException:
        _state = "new"
        raise
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            point.load()
        except Exception as exc:  # a broken plugin must not stop rollgate: record, go on
            _FAILED[point.name] = f"{type(exc).__name__}: {exc}"
            log.warning("check plugin %s failed to load: %s", point.name, _FAILED[point.name])
    _state = "loaded"
