"""What every spec model shares: the strict base model and the name type."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[a-z][a-z0-9-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME)]


class Model(BaseModel):
    """Base for spec models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
