"""An incident's statuses and the moves between them (one table, checked in one place).

Investigating -> Identified -> Mitigating -> Resolved -> Closed. While open, any open status
may follow any other (an investigation can go back a step); resolving is allowed from any
open status; only a resolved incident is closed; a resolved or closed one may be reopened.
"""

from __future__ import annotations

from rollgate.errors import RefusedError

INVESTIGATING, IDENTIFIED, MITIGATING = "investigating", "identified", "mitigating"
RESOLVED, CLOSED = "resolved", "closed"
OPEN = (INVESTIGATING, IDENTIFIED, MITIGATING)
STATUSES = (*OPEN, RESOLVED, CLOSED)

# to-status -> from-statuses
_MOVES: dict[str, frozenset[str]] = {
    INVESTIGATING: frozenset({IDENTIFIED, MITIGATING, RESOLVED, CLOSED}),
    IDENTIFIED: frozenset({INVESTIGATING, MITIGATING}),
    MITIGATING: frozenset({INVESTIGATING, IDENTIFIED}),
    RESOLVED: frozenset(OPEN),
    CLOSED: frozenset({RESOLVED}),
}


def check_move(incident_id: str, current: str, to: str) -> None:
    """Raise RefusedError, saying what is possible, unless ``current`` may become ``to``."""
    if to not in _MOVES:
        raise RefusedError(f"unknown status {to!r}; statuses: {', '.join(STATUSES)}")
    if current == to:
        raise RefusedError(f"incident {incident_id} is already {current}")
    if current not in _MOVES[to]:
        allowed = [s for s, froms in _MOVES.items() if current in froms]
        hint = {CLOSED: "resolve it first (`rollgate incident resolve`)"}.get(to, "")
        raise RefusedError(
            f"incident {incident_id} is {current}: it cannot become {to}"
            + (f"; {hint}" if hint else f"; from {current} it can become "
               f"{', '.join(allowed) or 'nothing else'}"))
