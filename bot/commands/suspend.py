"""`#suspend [PERSON] 60d [conditions]` and `#ban [PERSON]`: the ladder's upper steps."""

from __future__ import annotations

import re

from bot.commands._common import today, without_identities
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.records.enforce import Change, OutcomeRefused, apply_outcome, earlier_suspensions
from bot.records.ladder import needs_readmission_request, parse_duration, suspension_end
from bot.records.people import PersonError, person_in_case

_DURATION_RE = re.compile(r"(?<!\S)(\d{1,4}\s*[dwmyDWMY]?)(?!\S)")


@command
class Suspend(Command):
    """#suspend [PERSON] DURATION [conditions] - a temporary suspension from today.

    DURATION is days ("60d", or "60"), weeks ("8w"), months ("3m") or years
    ("1y"). Up to 90 days is the ladder's short suspension: a readmission
    request is required, and on the end date the point of contact is reminded.
    Longer is an extended suspension; write the conditions for return after
    the duration. The consequence recorded is "First Suspension" (or "Second
    Suspension" when the person was suspended in an earlier case).
    """

    name = "suspend"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the suspension for the person."""
        match = _DURATION_RE.search(cc.args)
        days = parse_duration(match.group(1)) if match else None
        if match is None or days is None:
            raise CommandError("say how long: #suspend PERSON 60d [conditions]")
        who = cc.args[:match.start()].strip()
        conditions = without_identities(cc, cc.args[match.end():].strip()) or None
        try:
            link, person = person_in_case(cc.session, cc.case, who)
        except PersonError as exc:
            raise CommandError(str(exc)) from None
        start = today(cc)
        end = suspension_end(start, days)
        consequence = "Second Suspension" if earlier_suspensions(cc.session, person, cc.case) \
            else "First Suspension"
        change = Change(record_type="banned", consequence=consequence, suspension_start=start,
                        suspension_end=end, conditions=conditions)
        try:
            changed = apply_outcome(cc.session, cc.app, cc.case, link, person, change,
                                    actor=cc.member.email, message_id=cc.msg.pm.message_id,
                                    event=EventKind.SUSPENDED)
        except OutcomeRefused as exc:
            raise CommandError(str(exc)) from None
        if not changed:
            return CommandResult(f"{person.code} is already suspended until {end}; "
                                 "nothing changed")
        kind = "short" if needs_readmission_request(days) else "extended"
        text = (f"{person.code}: {consequence} ({kind}, {days} days) from {start} to {end}")
        if needs_readmission_request(days):
            text += "; a readmission request is required: the point of contact is reminded " \
                    "on the end date"
        return CommandResult(text, changed={"consequence": consequence,
                                            "suspension_end": end.isoformat()})


@command
class Ban(Command):
    """#ban [PERSON] - a permanent ban from all Django spaces (the ladder's last step)."""

    name = "ban"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the ban for the person."""
        try:
            link, person = person_in_case(cc.session, cc.case, cc.args)
        except PersonError as exc:
            raise CommandError(str(exc)) from None
        try:
            changed = apply_outcome(cc.session, cc.app, cc.case, link, person,
                                    Change(record_type="banned", consequence="Ban"),
                                    actor=cc.member.email, message_id=cc.msg.pm.message_id,
                                    event=EventKind.BANNED)
        except OutcomeRefused as exc:
            raise CommandError(str(exc)) from None
        if not changed:
            return CommandResult(f"{person.code} is already banned; nothing changed")
        return CommandResult(f"{person.code}: Ban (permanent)", changed={"consequence": "Ban"})
