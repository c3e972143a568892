"""`#contact [name]`: who speaks to the reporter for the working group."""

from __future__ import annotations

from bot.commands._common import normalise, record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.store.recusal import is_shut_out


def find_member(config: Config, text: str) -> Member:
    """The member `text` names: address, alias, full name or unique first name."""
    wanted = text.strip().strip("<>").lower()
    by_address = config.member_for(wanted)
    if by_address is not None:
        return by_address
    key = normalise(wanted)
    full = [m for m in config.members if normalise(m.name) == key]
    if len(full) == 1:
        return full[0]
    first = [m for m in config.members if normalise(m.name).split(" ")[:1] == [key]]
    if len(first) == 1:
        return first[0]
    names = ", ".join(m.name for m in config.members)
    if len(first) > 1:
        raise CommandError(f"{text!r} matches more than one member; use the full name "
                           f"({names})")
    raise CommandError(f"no member called {text!r}; members are: {names}")


@command
class Contact(Command):
    """#contact [name] - make yourself (or the named member) the point of contact.

    The point of contact speaks to the reporter for the working group and is
    available to them for questions, as the manual's "Contacting the reporter"
    stage asks of the chair. Name a member by full name, first name or address.
    """

    name = "contact"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set the case's point of contact."""
        member = find_member(cc.app.config, cc.args) if cc.args.strip() else cc.member
        if is_shut_out(cc.session, cc.app.config, cc.case, member):
            raise CommandError(f"{member.name} is recused or excluded from this case")
        old = cc.case.point_of_contact
        if old == member.email:
            return CommandResult(f"{member.name} is already the point of contact; "
                                 "nothing changed")
        cc.case.point_of_contact = member.email
        cc.session.add(cc.case)
        record_event(cc, EventKind.POINT_OF_CONTACT_SET, old=old, new=member.email)
        return CommandResult(f"point of contact set to {member.name}",
                             changed={"point_of_contact": member.email})
