"""`#readmit NAME`: undo an exclusion when the report is not about that member."""

from __future__ import annotations

from sqlmodel import select

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.governance.naming import member_by_name
from bot.store.models import Event
from bot.store.recusal import is_excluded, members_in


@command
class Readmit(Command):
    """#readmit NAME - let a member back into a case the report is not about after all.

    A report that names a member shuts them out at once; when it only mentions
    them (a witness, a helper), a chair lets them back in with this. When the
    member is a chair, or no chair is in the case, two members each write it,
    as for #exclude. From then on they hear about the case like everyone else.
    """

    name = "readmit"

    def run(self, cc: CommandContext) -> CommandResult:
        """Lift NAME's exclusion (or record the first of two members' requests)."""
        config = cc.app.config
        named = member_by_name(config.members, cc.args) if cc.args.strip() else None
        if named is None:
            raise CommandError("name the member to let back in, e.g. #readmit Alex Smith")
        if not is_excluded(cc.session, config, cc.case, named):
            return CommandResult(f"{named.name} is not excluded from this case; nothing changed")
        inside = members_in(cc.session, config, cc.case)
        chairs_in = [m for m in inside if m.role == "chair"]
        if cc.member.role == "chair" and named.role != "chair":
            by = [cc.member.email]
        elif named.role != "chair" and chairs_in:
            raise CommandError("a chair lets an excluded member back in; ask a chair")
        else:
            earlier = {str(ev.actor) for ev in self._requests(cc, named.email)}
            earlier &= {m.email for m in inside}
            record_event(cc, EventKind.EXCLUSION_REQUESTED, member=named.email, lift=True)
            if not (earlier - {cc.member.email}):
                return CommandResult(f"your request to let {named.name} back in is recorded; "
                                     "a second member's #readmit confirms it")
            by = sorted(earlier | {cc.member.email})
        record_event(cc, EventKind.EXCLUSION_LIFTED, member=named.email, by=by)
        return CommandResult(f"{named.name} is no longer excluded from this case",
                             changed={"readmitted": named.name})

    @staticmethod
    def _requests(cc: CommandContext, member: str) -> list[Event]:
        cc.session.flush()
        rows = cc.session.exec(select(Event).where(
            Event.case_id == cc.case.id, Event.kind == EventKind.EXCLUSION_REQUESTED)).all()
        return [ev for ev in rows if ev.data.get("member") == member and ev.data.get("lift")]
