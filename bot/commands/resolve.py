"""`#resolve [source]`: close the case in the record."""

from __future__ import annotations

from bot.commands import _decisions as dec
from bot.commands._common import choose, record_event, today
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.store.records import RESOLUTION_SOURCES, STATUS_RESOLVED

# Short forms people actually type; keys are `normalise`d text.
SOURCE_ALIASES: dict[str, str] = {
    "": "CoC WG",
    "coc wg": "CoC WG", "cocwg": "CoC WG", "wg": "CoC WG", "coc": "CoC WG",
    "working group": "CoC WG", "coc working group": "CoC WG",
    "dsf board": "DSF Board", "board": "DSF Board", "dsf": "DSF Board",
    "dsfboard": "DSF Board", "the board": "DSF Board",
    "local event reps": "Local Event Reps", "local": "Local Event Reps",
    "local reps": "Local Event Reps", "event reps": "Local Event Reps",
    "local event": "Local Event Reps", "locals": "Local Event Reps",
    "local event representatives": "Local Event Reps",
    "none": "None",
}  # fmt: skip


def resolve_case(cc: CommandContext, source: str) -> CommandResult:
    """Set status Resolved with today's date and `source` (idempotent)."""
    case = cc.case
    if case.status == STATUS_RESOLVED:
        when = case.resolution_date.isoformat() if case.resolution_date else "an unknown date"
        note = "" if case.resolution_source == source else \
            "; to record another source, #reopen it and #resolve again"
        return CommandResult(
            f"already resolved on {when} (source {case.resolution_source}); nothing changed"
            f"{note}")
    day = today(cc)
    case.status = STATUS_RESOLVED
    case.resolution_date = day
    case.resolution_source = source
    cc.session.add(case)
    record_event(cc, EventKind.RESOLVED, status=STATUS_RESOLVED, resolution_source=source,
                 resolution_date=day.isoformat())
    return CommandResult(
        f"status set to {STATUS_RESOLVED}, resolution date {day.isoformat()}, "
        f"resolution source {source}",
        changed={"status": STATUS_RESOLVED, "resolution_date": day.isoformat(),
                 "resolution_source": source})


@command
class Resolve(Command):
    """#resolve [source] - mark the case Resolved, dated today.

    The source is who handled the resolution: "CoC WG" (the default), "DSF Board"
    (or "board"), "Local Event Reps" (or "local"), or "None". Before resolving,
    the manual asks the chair to tell the reporter the final resolution, tell the
    group, and update the record (actions taken, outcome, review date).
    A case whose Consequences need the group's agreement (stronger than Warning)
    resolves only with an agreed proposal for them, and once a proposal is
    agreed, only after the affected parties' feedback is recorded (#feedback).
    The board's own resolution ("#resolve board") is not held.
    """

    name = "resolve"

    def run(self, cc: CommandContext) -> CommandResult:
        """Resolve the case with the given (or default) source."""
        source = choose(cc.args, SOURCE_ALIASES, RESOLUTION_SOURCES, "resolution source")
        if source != "DSF Board" and cc.case.status != STATUS_RESOLVED:
            reason = held_because(cc)
            if reason:
                return CommandResult(dec.hold(cc, "resolve", reason), ok=False)
        return resolve_case(cc, source)


def held_because(cc: CommandContext) -> str | None:
    """Why #resolve must wait (no agreed proposal for the consequence, no feedback), or None."""
    agreed = dec.agreed(cc)
    value = cc.case.consequences
    if value in dec.rules(cc).needs_agreement and (agreed is None or
                                                    agreed.consequence != value):
        return (f"the case records {value}, and no proposal for it was agreed "
                f"(#propose, #agree); {dec.DECISION_SENTENCE}")
    if agreed is not None and not agreed.feedback_recorded:
        return ("the agreed resolution waits for the affected parties' feedback "
                f"(#feedback TEXT, or #feedback none [why]): {dec.FEEDBACK_SENTENCE}")
    return None
