"""`#recuse`: a member with a conflict of interest steps out of the case."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.store.records import ensure_participant
from bot.store.recusal import is_shut_out


@command
class Recuse(Command):
    """#recuse - step out of this case because of a conflict of interest.

    The manual asks you to disclose the conflict in writing on the report's
    thread; this message is that disclosure. From then on you get no reminders
    or digest lines about the case and your commands on it are refused. The
    conduct address still forwards the thread to you: please do not read further.
    """

    name = "recuse"

    def run(self, cc: CommandContext) -> CommandResult:
        """Mark the member recused on this case."""
        if is_shut_out(cc.session, cc.app.config, cc.case, cc.member):
            return CommandResult("you are already recused from this case; nothing changed")
        row = ensure_participant(cc.session, cc.case, cc.member.email, cc.member.name, "member")
        row.recused = True
        cc.session.add(row)
        changed: dict[str, object] = {"recused": cc.member.email}
        if cc.case.point_of_contact in cc.member.addresses:
            # A recused member cannot stay the reporter's point of contact.
            record_event(cc, EventKind.POINT_OF_CONTACT_CLEARED, old=cc.case.point_of_contact,
                         reason="recused")
            cc.case.point_of_contact = None
            cc.session.add(cc.case)
            changed["point_of_contact"] = None
        record_event(cc, EventKind.RECUSED, member=cc.member.email)
        text = "you are now recused from this case"
        if "point_of_contact" in changed:
            text += "; you are no longer its point of contact"
        return CommandResult(text, changed=changed)
