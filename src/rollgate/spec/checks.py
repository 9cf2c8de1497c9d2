"""The ``checks:`` section of rollgate.yaml: one config model per check kind, by ``kind``.

The models come from the check registry (``rollgate.checks.registry``), so a kind added
there is known to ``rollgate validate``, the JSON Schema and the reference at once.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from rollgate.checks.base import CheckConfig
from rollgate.checks.kinds.command import CommandCheck
from rollgate.checks.kinds.http import HttpCheck
from rollgate.checks.registry import models

__all__ = ["Check", "CheckConfig", "CommandCheck", "HttpCheck"]

if TYPE_CHECKING:  # the union is built at run time; statically, a check is a CheckConfig
    Check = CheckConfig
else:
    Check = Annotated[reduce(operator.or_, models()), Field(discriminator="kind")]
