"""A checklist evaluated: automated items run their check, manual items show who confirmed
them and when. Strict mode (``--strict``, or ``policies.strict_checklists``) turns
warnings into failures, as seed 002's ``deploy:checklist --strict`` does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rollgate.checks.base import CheckResult
from rollgate.spec.checklists import ChecklistItem, Phase
from rollgate.spec.models import Spec
from rollgate.store.tables import ChecklistConfirmation

Status = Literal["pass", "warning", "fail", "confirmed", "pending", "not run"]
GOOD: frozenset[Status] = frozenset({"pass", "confirmed"})
Runner = Callable[[str], CheckResult]  # runs a named check of the spec


@dataclass(frozen=True)
class ItemResult:
    """One item's state."""

    id: str
    kind: Literal["check", "manual"]
    text: str
    status: Status
    detail: str = ""
    by: str | None = None
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json and the API."""
        return {"id": self.id, "kind": self.kind, "text": self.text, "status": self.status,
                "detail": self.detail, "by": self.by, "at": self.at}


@dataclass(frozen=True)
class ChecklistResult:
    """A phase's checklist for an environment (and a service version), evaluated."""

    phase: Phase
    environment: str
    service: str | None
    version: str | None
    strict: bool
    items: list[ItemResult]

    def blocking(self) -> list[ItemResult]:
        """Items that stop the checklist: failed, pending, or warnings in strict mode."""
        bad = {"fail", "pending"} | ({"warning"} if self.strict else set())
        return [i for i in self.items if i.status in bad]

    @property
    def ok(self) -> bool:
        """True when nothing blocks (items not run yet do not block)."""
        return not self.blocking()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json and the API."""
        return {"phase": self.phase, "environment": self.environment, "service": self.service,
                "version": self.version, "strict": self.strict, "ok": self.ok,
                "items": [i.as_dict() for i in self.items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChecklistResult:
        """A result as the API sent it (``as_dict``'s shape)."""
        items = [ItemResult(i["id"], i["kind"], i["text"], i["status"], i.get("detail", ""),
                            i.get("by"), i.get("at")) for i in data["items"]]
        return cls(data["phase"], data["environment"], data.get("service"),
                   data.get("version"), bool(data["strict"]), items)


def items_for(spec: Spec, phase: Phase, environment: str,
              service: str | None) -> list[ChecklistItem]:
    """The items of a phase that apply to this environment and service, in order."""
    return [i for i in spec.checklists.items(phase) if i.applies(environment, service)]


def is_strict(spec: Spec, environment: str, strict: bool = False) -> bool:
    """Strict when asked, or when the environment's policy says so."""
    return strict or spec.environments[environment].policies.strict_checklists


def evaluate(spec: Spec, phase: Phase, environment: str, *, service: str | None = None,
             version: str | None = None,
             confirmations: Mapping[str, ChecklistConfirmation] | None = None,
             run: Runner | None = None, strict: bool = False) -> ChecklistResult:
    """Evaluate the checklist; without ``run`` automated items are reported ``not run``."""
    confirmed = confirmations or {}
    results = []
    for item in items_for(spec, phase, environment, service):
        if item.check:
            results.append(_automated(item, item.check, run))
            continue
        row = confirmed.get(item.key)
        text = item.manual or ""
        if row is None:
            results.append(ItemResult(item.key, "manual", text, "pending",
                                      "not confirmed yet"))
        else:
            note = f": {row.comment}" if row.comment else ""
            results.append(ItemResult(item.key, "manual", text, "confirmed",
                                      f"by {row.actor} at {row.at:%Y-%m-%d %H:%M} UTC{note}",
                                      by=row.actor, at=row.at))
    return ChecklistResult(phase, environment, service, version,
                           is_strict(spec, environment, strict), results)


def _automated(item: ChecklistItem, check: str, run: Runner | None) -> ItemResult:
    if run is None:
        return ItemResult(item.key, "check", check, "not run", "runs when the deploy starts")
    result = run(check)
    status: Status = result.status
    if status == "fail" and item.warn_only:
        status = "warning"
    return ItemResult(item.key, "check", check, status, result.detail)


def pending_refusal(result: ChecklistResult) -> str:
    """Why a deploy cannot start while manual items are not confirmed, and how to confirm."""
    pending = [i for i in result.items if i.status == "pending"]
    target = f" --service {result.service} --version {result.version}" if result.version else ""
    names = ", ".join(f"{i.id} ({i.text})" for i in pending)
    return (f"the {result.phase} checklist of {result.environment} has {len(pending)} "
            f"unconfirmed item(s): {names}. Confirm each with `rollgate checklist --env "
            f"{result.environment}{target} --confirm ITEM [--comment '…']`")
