"""Checklists in the spec: per phase, automated items (a named check) and manual items a
named person confirms (``rollgate checklist --confirm ITEM``), scoped by environment and
service."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from rollgate.spec.base import Model, Name

Phase = Literal["pre-deploy", "post-deploy", "post-incident"]
PHASES: tuple[Phase, ...] = ("pre-deploy", "post-deploy", "post-incident")
ITEM_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


def slug(text: str) -> str:
    """An item id from its text: ``Code review approved`` -> ``code-review-approved``."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:63].rstrip("-") or "item"


class ChecklistItem(Model):
    """One item: ``check`` (automated: a named check of the spec) or ``manual`` (a statement
    someone confirms, recorded with who, when and a comment)."""

    check: Name | None = Field(None, description="name of a check in `checks` (automated)")
    manual: str | None = Field(None, min_length=3, max_length=300,
                               description="what a person confirms, e.g. 'Code review "
                               "approved by 2 team members'")
    id: str | None = Field(None, pattern=ITEM_ID, description="short id for --confirm "
                           "(default: the check name, or the manual text as a slug)")
    environments: list[Name] = Field(default_factory=list,
                                     description="only in these environments (empty: all)")
    services: list[Name] = Field(default_factory=list,
                                 description="only for these services (empty: all)")
    warn_only: bool = Field(False, description="a failure is a warning (a failure under "
                            "--strict or a strict environment)")

    @model_validator(mode="after")
    def _one_kind(self) -> ChecklistItem:
        if (self.check is None) == (self.manual is None):
            raise ValueError("an item is either `check: NAME` (automated) or `manual: TEXT` "
                             "(confirmed by a person), not both or neither")
        return self

    @property
    def key(self) -> str:
        """The item's id."""
        return self.id or self.check or slug(self.manual or "")

    def applies(self, environment: str, service: str | None) -> bool:
        """True when the item is on the checklist of this environment (and service)."""
        return ((not self.environments or environment in self.environments)
                and (not self.services or service is None or service in self.services))


class Checklists(Model):
    """The checklists of each phase."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pre_deploy: list[ChecklistItem] = Field(
        default_factory=list, alias="pre-deploy",
        description="before a deploy starts: automated items run as the run's first step, "
        "manual items must be confirmed for the version first")
    post_deploy: list[ChecklistItem] = Field(
        default_factory=list, alias="post-deploy",
        description="after a deploy: shown and confirmed with `rollgate checklist --phase "
        "post-deploy`")
    post_incident: list[ChecklistItem] = Field(
        default_factory=list, alias="post-incident",
        description="after an incident is resolved (seed 000 §7.3)")

    @model_validator(mode="after")
    def _unique_ids(self) -> Checklists:
        for phase in PHASES:
            seen: set[str] = set()
            for item in self.items(phase):
                if item.key in seen:
                    raise ValueError(f"{phase}: two items have the id {item.key!r}; give one "
                                     "of them an `id`")
                seen.add(item.key)
        return self

    def items(self, phase: Phase) -> list[ChecklistItem]:
        """The items of a phase, in order."""
        return {"pre-deploy": self.pre_deploy, "post-deploy": self.post_deploy,
                "post-incident": self.post_incident}[phase]
