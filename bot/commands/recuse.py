"""`#recuse`: a member with a conflict of interest steps out of the case."""

from __future__ import annotations

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.events import EventKind
from bot.governance.exclusion import refer_to_board_if_needed
from bot.governance.naming import member_by_name
from bot.store.records import ensure_participant
from bot.store.recusal import is_shut_out


@command
class Recuse(Command):
    """#recuse - step out of this case because of a conflict of interest.

    The manual asks you to disclose the conflict in writing on the report's
    thread; this message is that disclosure. From then on you get no reminders
    or digest lines about the case and your commands on it are refused. The
    conduct address still forwards the thread to you: please do not read further.
    #recuse takes no name: to shut out a member the report concerns, a chair
    writes #exclude NAME.
    """

    name = "recuse"

    def run(self, cc: CommandContext) -> CommandResult:
        """Mark the member recused on this case (a name other than yours changes nothing)."""
        if cc.args.strip():
            named = member_by_name(cc.app.config.members, cc.args)
            if named is None or named.email != cc.member.email:
                return CommandResult(
                    "nothing changed: #recuse steps YOU out of a case because of your own "
                    "conflict of interest (manual, \"Conflicts of Interest\"), and takes no "
                    "name. To shut out a member the report concerns (\"that member must be "
                    "excluded from the response process\"), a chair writes #exclude NAME "
                    "(two members when the member is a chair).", ok=False)
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
        if refer_to_board_if_needed(cc.session, cc.app, cc.case,
                                    message_id=cc.msg.pm.message_id, quiet=cc.msg.quiet):
            text += ("; every chair is now out of the case: the members in it were told to "
                     f"take it to the board ({cc.app.config.board.address})")
        return CommandResult(text, changed=changed)
