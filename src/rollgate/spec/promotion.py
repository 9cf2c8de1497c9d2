"""Promotion in the spec: the git repository releases come from, and the tag each
environment gets when a version goes live there (``{version}-rc`` on staging,
``{version}`` on production, as seed 001's promotion flow does)."""

from __future__ import annotations

from pydantic import Field

from rollgate.spec.base import Model, Name


class Promotion(Model):
    """Git tags and release notes for promotions."""

    repo: str | None = Field(".", description="git repository of the services' code, "
                             "relative to the spec (null: no tags, no notes from git)")
    tags: dict[Name, str] = Field(
        default_factory=dict,
        description="tag created when a version goes live in an environment; {version} is "
        "filled, e.g. {staging: '{version}-rc', production: '{version}'}",
        examples=[{"staging": "{version}-rc", "production": "{version}"}])
    push: bool = Field(False, description="push each new tag to `remote`")
    remote: str = Field("origin", description="the git remote tags are pushed to")
