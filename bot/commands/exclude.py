"""`#exclude NAME`: shut a member a report concerns out of the case."""

from __future__ import annotations

from sqlmodel import select

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.config import Member
from bot.core.events import EventKind
from bot.governance.exclusion import exclude, is_confirmed, refer_to_board_if_needed
from bot.governance.naming import member_by_name
from bot.store.models import Event
from bot.store.recusal import members_in


def _requests(cc: CommandContext, named: str) -> set[str]:
    """Members in the case who asked to exclude `named` (their latest request stands)."""
    cc.session.flush()
    rows = cc.session.exec(select(Event).where(
        Event.case_id == cc.case.id, Event.kind == EventKind.EXCLUSION_REQUESTED)).all()
    inside = {m.email for m in members_in(cc.session, cc.app.config, cc.case)}
    return {str(ev.actor) for ev in rows
            if ev.data.get("member") == named and ev.actor in inside and not ev.data.get("lift")}


@command
class Exclude(Command):
    """#exclude NAME - shut the member NAME out of this case: the report concerns them.

    The manual ("Conflicts of Interest"): "If a report concerns a possible
    violation by a current working group member, that member must be excluded
    from the response process." From then on they get nothing from the bot about
    the case (no digest line, reminder, urgent notice, transcript or warning),
    their commands on it are refused without an answer, and they do not count
    for decisions. A chair excludes; when the member named is a chair (or every
    chair is out of the case), two members each write #exclude NAME. NAME is the
    member's full name, first name or address. The bot cannot stop the conduct
    address from delivering the case's mail to them.
    """

    name = "exclude"

    def run(self, cc: CommandContext) -> CommandResult:
        """Exclude NAME (or record the first of two members' requests)."""
        config = cc.app.config
        if not cc.args.strip():
            raise CommandError("name the member to exclude, e.g. #exclude Alex Smith")
        named = member_by_name(config.members, cc.args)
        if named is None:
            raise CommandError("no member of the working group by that name or address")
        if named.email == cc.member.email:
            raise CommandError("you cannot exclude yourself; to step out, use #recuse")
        if is_confirmed(cc.session, cc.case, named):
            return CommandResult(f"{named.name} is already excluded from this case; "
                                 "nothing changed")
        inside = members_in(cc.session, config, cc.case)
        chair_can = cc.member.role == "chair" and named.role != "chair"
        chairs_left = [m for m in inside if m.role == "chair" and m.email != named.email]
        if chair_can or (cc.member.role == "chair" and not chairs_left):
            return self._done(cc, named, [cc.member.email])
        if named.role != "chair" and chairs_left:
            raise CommandError("a chair confirms an exclusion (the reporting guide: the chairs "
                               "\"will exclude the member(s) that the report concerns from "
                               "any discussion or decision making\"); ask a chair")
        record_event(cc, EventKind.EXCLUSION_REQUESTED, member=named.email)
        asked = _requests(cc, named.email) | {cc.member.email}
        if len(asked) >= 2:
            return self._done(cc, named, sorted(asked))
        return CommandResult(f"your request to exclude {named.name} is recorded; a second "
                             "member's #exclude confirms it",
                             changed={"exclusion_requested": named.name})

    def _done(self, cc: CommandContext, named_member: Member, by: list[str]) -> CommandResult:
        exclude(cc.session, cc.app, cc.case, named_member, actor=cc.member.email,
                message_id=cc.msg.pm.message_id, by=by)
        text = (f"{named_member.name} is now excluded from this case; nothing the bot sends "
                "tells them about it")
        if refer_to_board_if_needed(cc.session, cc.app, cc.case,
                                    message_id=cc.msg.pm.message_id, quiet=cc.msg.quiet):
            text += (f"; every chair is now out of the case: the members in it were told to "
                     f"take it to the board ({cc.app.config.board.address})")
        return CommandResult(text, changed={"excluded": named_member.name})
