"""Deployment strategies: each turns a plan into steps on a pipeline."""

from __future__ import annotations

from collections.abc import Callable

from rollgate.strategies import bluegreen, canary, recreate, rolling
from rollgate.strategies.base import Pipeline

Deploy = Callable[[Pipeline], None]

STRATEGIES: dict[str, Deploy] = {
    "recreate": recreate.deploy,
    "rolling": rolling.deploy,
    "blue-green": bluegreen.deploy,
    "canary": canary.deploy,
}
