"""`#outcome TYPE [PERSON]`: the manual's record type for a person (or the case)."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.records.casextra import extra_for
from bot.records.enforce import Change, OutcomeRefused, apply_outcome
from bot.records.ladder import RECORD_TYPES, record_type
from bot.records.people import PersonError, case_people, person_in_case


@command
class Outcome(Command):
    """#outcome no-violation|unidentified|resolved|flagged|banned [PERSON] - record type.

    The manual groups every record into five types: no violation occurred; a
    violation by someone who cannot be identified; a violation resolved; a
    violation with the person flagged (the group should tell a conference if
    they attend); a violation with the person banned temporarily or
    permanently. Name the person by code name when the case has several;
    without a person it applies to everyone in the case (or, with nobody
    recorded, to the case itself, e.g. "unidentified").
    """

    name = "outcome"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set the record type."""
        words = cc.args.split()
        kind = record_type(words[0]) if words else None
        if kind is None:
            raise CommandError(f"say which record type: {', '.join(RECORD_TYPES)}")
        who = " ".join(words[1:])
        try:
            targets = [person_in_case(cc.session, cc.case, who)] if who else \
                case_people(cc.session, cc.case)
        except PersonError as exc:
            raise CommandError(str(exc)) from None
        if not targets:
            extra = extra_for(cc.session, cc.case)
            if extra.record_type == kind:
                return CommandResult(f"record type is already {kind}; nothing changed")
            extra.record_type = kind
            cc.session.add(extra)
            record_event(cc, EventKind.RECORD_TYPE_SET, person=None, record_type=kind)
            return CommandResult(f"record type of the case set to {kind}",
                                 changed={"record_type": kind})
        texts = []
        for link, person in targets:
            try:
                changed = apply_outcome(cc.session, cc.app, cc.case, link, person,
                                        Change(record_type=kind), actor=cc.member.email,
                                        message_id=cc.msg.pm.message_id)
            except OutcomeRefused as exc:
                raise CommandError(str(exc)) from None
            texts.append(f"{person.code}: record type {kind}" if changed else
                         f"{person.code}: already {kind}")
        return CommandResult("; ".join(texts), changed={"record_type": kind})
