"""`#person NAME [<address>]`: record a reported person in the case."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.records.identitykey import IdentityKeyError, load_key, verify_key
from bot.records.notices import repeat_person_notice
from bot.records.people import PersonError, parse_people, record_person
from bot.records.scrub import scrub_case


@command
class PersonCommand(Command):
    """#person NAME [<address>] - record a reported person in this case.

    Put it on a line at the top of the body rather than in the subject:
    subjects show in everyone's mail list. Each reported person gets a
    persistent Person Code Name (e.g. "Blue Jay"), the same one every time
    they are reported: the bot recognises them by their address (however it
    is written: case, dots, +tags) or name, without keeping either in clear.
    Name several people separated by ";" or ",", or put one #person line per
    person at the top of the message. A person already known can be named by
    code name: #person Blue Jay.

    The real name and address go into the encrypted identity key only; the
    bot's stored copy of this thread shows [Blue Jay] instead. When the person
    has earlier records, the chairs get a notice with code names only.
    """

    name = "person"
    # The argument is a real name and address: never repeated in a transcript.
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record each named person and tell the chairs about repeat reports."""
        try:
            key = load_key(cc.app.config)
            if key is not None:
                verify_key(cc.session, key)
            people = parse_people(cc.args)
            recorded = [record_person(cc.session, key, cc.case, named) for named in people]
        except (PersonError, IdentityKeyError) as exc:
            raise CommandError(str(exc)) from None
        texts: list[str] = []
        for rec in recorded:
            code = rec.person.code
            record_event(cc, EventKind.PERSON_RECORDED, person=code, new=rec.new_person,
                         matched_by=rec.matched_by, added=rec.new_in_case)
            if not rec.new_in_case:
                texts.append(f"person {code} was already recorded in this case")
                continue
            how = "new person" if rec.new_person else f"known person, matched by {rec.matched_by}"
            texts.append(f"recorded person {code} ({how})")
            history = rec.history
            if history is not None and history.cases and not cc.msg.quiet:
                repeat_person_notice(cc.session, cc.app, cc.case, history.summary(code), code,
                                     cc.member.email)
                texts.append(f"{code} has earlier records: the chairs were told")
        if key is not None:
            scrub_case(cc.session, key, cc.case)
        if "#person" in (cc.msg.pm.subject or "").lower():
            # A subject shows in every member's mail list and replies repeat it
            # (each reply-all would record the person again, harmlessly but noisily).
            texts.append("tip: put #person on a line at the top of the message body, not in "
                         "the subject: subjects show in everyone's mail list and replies "
                         "repeat them")
        return CommandResult("; ".join(texts),
                             changed={"people": [r.person.code for r in recorded]})
