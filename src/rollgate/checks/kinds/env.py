"""``kind: env``: the variables and secrets a service needs are set, by name only.

Seed 002 lists "required environment variables" (``NEXTAUTH_SECRET`` at least 32
characters); seed 000 asks for "secrets validated at boot (no missing keys)". Variables are
rollgate's own environment, then ``services.NAME.env``, then the environment's dotenv file.
Values are never shown, not even their length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.errors import UsageError
from rollgate.spec.base import Name

VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class EnvCheck(CheckConfig):
    """Environment variables the service needs: set, long enough, alike across environments."""

    kind: Literal["env"] = Field(description="selects this check")
    required: list[VarName] = Field(
        default_factory=list, description="variables that must be set and not empty"
    )
    min_length: dict[VarName, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="minimum length of a variable's value, e.g. {NEXTAUTH_SECRET: 32}",
    )
    files: dict[Name, str] = Field(
        default_factory=dict,
        description="dotenv file (KEY=VALUE lines) per environment, relative to the spec, "
        "read on top of rollgate's environment and the service's env",
    )
    same_names_in: list[Name] = Field(
        default_factory=list,
        description="environments that must define the same variable names, e.g. "
        "[staging, production]",
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> EnvCheck:
        if not (self.required or self.min_length or self.same_names_in):
            raise PydanticCustomError(
                "env_check_empty", "give required, min_length or same_names_in"
            )
        if len(self.same_names_in) == 1:
            raise PydanticCustomError(
                "same_names_in_one", "same_names_in needs at least two environments"
            )
        return self


@check_kind(EnvCheck)
def run_env(check: EnvCheck, ctx: CheckContext) -> CheckResult:
    """Check names and lengths in ctx's environment; compare names across environments."""
    unknown = [env for env in check.files if env not in ctx.spec.environments]
    if unknown:
        raise UsageError(f"files: unknown environment {unknown[0]!r} (defined: "
                         f"{', '.join(ctx.spec.environments)})")
    here = _variables(check, ctx, ctx.environment)
    problems: list[str] = []
    missing = [name for name in check.required if name not in here]
    empty = [name for name in check.required if name in here and not here[name]]
    short = [f"{name} (at least {size} characters)" for name, size in check.min_length.items()
             if name in here and len(here[name]) < size]
    unset = [name for name in check.min_length if name not in here and name not in missing]
    for label, names in (("missing", missing + unset), ("empty", empty), ("too short", short)):
        if names:
            problems.append(f"{label}: {', '.join(names)}")
    problems += _differences(check, ctx)
    if problems:
        return ctx.failed(f"{ctx.environment}: " + "; ".join(problems))
    seen = [f"{len(check.required)} required set"] if check.required else []
    seen += [f"{len(check.min_length)} long enough"] if check.min_length else []
    seen += ([f"same names in {', '.join(check.same_names_in)}"]
             if check.same_names_in else [])
    return ctx.passed(f"{ctx.environment}: " + ", ".join(seen))


def _differences(check: EnvCheck, ctx: CheckContext) -> list[str]:
    """One ``X lacks A, B (set in Y)`` per environment missing names another has."""
    if not check.same_names_in:
        return []
    names = {env: set(_variables(check, ctx, env)) for env in check.same_names_in}
    everything: set[str] = set().union(*names.values())
    out = []
    for env, has in names.items():
        lacking = sorted(everything - has)
        if lacking:
            where = sorted(other for other, theirs in names.items()
                           if other != env and theirs & set(lacking))
            out.append(f"{env} lacks {', '.join(lacking)} (set in {', '.join(where)})")
    return out


def _variables(check: EnvCheck, ctx: CheckContext, environment: str) -> dict[str, str]:
    """The variables of ``environment``: rollgate's, the service's, then its dotenv file."""
    if environment not in ctx.spec.environments:
        raise UsageError(f"same_names_in: unknown environment {environment!r} (defined: "
                         f"{', '.join(ctx.spec.environments)})")
    variables = ctx.variables
    file = check.files.get(environment)
    if file is not None:
        path = Path(file) if Path(file).is_absolute() else ctx.spec_dir / file
        if not path.is_file():
            raise UsageError(f"files.{environment}: {file} does not exist (relative to "
                             f"{ctx.spec_dir})")
        try:
            values = dotenv_values(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"files.{environment}: cannot read {file}: {exc}") from None
        variables.update({key: value or "" for key, value in values.items()})
    return variables
