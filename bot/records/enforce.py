"""Recording outcomes and consequences per person: the one way they are set.

`apply_outcome` is the single function through which `#outcome`, `#suspend`
and `#ban` change a person's record.  It first asks `consequence_gate`: the
governance rules (the manual: consequences are agreed by the group, "the
chair requires at least two members of the working group to agree") decide
there whether a consequence stronger than a Warning may be recorded yet.
The gate is `bot.governance.gate`, the same rule `#consequence` follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.governance.gate import why_held
from bot.records.ladder import rank
from bot.store.models import Case
from bot.store.people import CasePerson, Person
from bot.store.records import add_event


class OutcomeRefused(Exception):
    """The governance rules do not (yet) allow this consequence; the text says why."""


@dataclass(frozen=True)
class Change:
    """One requested change to a person's record in a case."""

    record_type: str | None = None
    consequence: str | None = None
    suspension_start: date | None = None
    suspension_end: date | None = None
    conditions: str | None = None

    @property
    def stronger_than_warning(self) -> bool:
        """True for suspensions and bans (the ladder above its first step)."""
        return rank(self.consequence) > 1 or self.record_type == "banned"


# Signature: (session, app, case, person code, change, actor) -> None, raising
# OutcomeRefused.
Gate = Callable[[Session, App, Case, str, Change, str | None], None]


def agreed_by_the_group(session: Session, app: App, case: Case, person: str, change: Change,
                        actor: str | None) -> None:
    """The governance rule: a consequence stronger than Warning needs an agreed proposal."""
    # A suspension is recorded as type "banned" with its own consequence; a bare
    # "#outcome banned" is a ban.
    wanted = change.consequence or ("Ban" if change.record_type == "banned" else None)
    reason = why_held(session, app.config, case, wanted)
    if reason is not None:
        raise OutcomeRefused(f"held: {reason}")


consequence_gate: Gate = agreed_by_the_group


def set_gate(gate: Gate | None) -> None:
    """Install another check (None restores the governance rule)."""
    global consequence_gate
    consequence_gate = gate or agreed_by_the_group


def apply_outcome(session: Session, app: App, case: Case, link: CasePerson, person: Person,
                  change: Change, *, actor: str | None, message_id: str | None,
                  event: EventKind = EventKind.RECORD_TYPE_SET) -> list[str]:
    """Apply `change` to `person`'s record in `case` (after the gate); the fields changed."""
    if change.stronger_than_warning:
        consequence_gate(session, app, case, person.code, change, actor)
    changed: list[str] = []
    for field in ("record_type", "consequence", "suspension_start", "suspension_end",
                  "conditions"):
        value = getattr(change, field)
        if value is not None and getattr(link, field) != value:
            setattr(link, field, value)
            changed.append(field)
    if change.consequence == "Ban":
        # A permanent ban ends any suspension clock.
        link.suspension_end = None
    if not changed:
        return changed
    session.add(link)
    add_event(session, case, event, actor=actor, message_id=message_id, at=app.now_utc(),
              person=person.code, fields=changed, record_type=link.record_type,
              consequence=link.consequence,
              suspension_start=link.suspension_start.isoformat() if link.suspension_start
              else None,
              suspension_end=link.suspension_end.isoformat() if link.suspension_end else None)
    session.flush()
    return changed


def earlier_suspensions(session: Session, person: Person, case: Case) -> int:
    """How many other cases suspended `person` (for First / Second Suspension)."""
    rows = session.exec(select(CasePerson.consequence).where(
        CasePerson.person_id == person.id, CasePerson.case_id != case.id,
        col(CasePerson.consequence).in_(("First Suspension", "Second Suspension")))).all()
    return len(rows)
