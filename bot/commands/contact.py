"""`#contact [name]`: who speaks to the reporter for the working group."""

from __future__ import annotations

from bot.commands._common import normalise, record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.mail.drafts import strip_tags
from bot.outbound.outbox import queue_mail, valid_address
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


NOTE_TEMPLATE = "reporter_contact"


def _split_quiet(args: str) -> tuple[str, bool]:
    """The member named in `args` and whether "quiet" was asked for."""
    words = strip_tags(args).split()
    quiet = bool(words) and words[-1].lower() == "quiet"
    return " ".join(words[:-1] if quiet else words), quiet


def tell_reporter(cc: CommandContext, member: Member) -> str:
    """Queue the short note naming `member` (first name) to the reporter; say what happened."""
    # Imported here: commands load before the handler chain (see #onfile).
    from bot.commands.onfile import report_message
    from bot.outbound.acknowledgement import first_name

    if cc.msg.quiet:
        return "imported mail: the reporter was not told"
    to = cc.case.reporter_address
    if not valid_address(to) or cc.app.config.member_for(to) is not None:
        return "the reporter's address cannot be written to; the reporter was not told"
    assert to is not None
    report = report_message(cc)
    row = queue_mail(cc.session, cc.app, kind="reporter_note", template=NOTE_TEMPLATE, to=[to],
                     cc=[cc.app.config.conduct_address], case=cc.case, reply_to=report,
                     auto_submitted="auto-generated", tag_subject=False,
                     context={"contact_first_name": first_name(member.name)})
    record_event(cc, EventKind.REPORTER_CONTACT_NOTE, outbox_message_id=row.message_id,
                 contact=member.email)
    return "the reporter was told who their point of contact is"


@command
class Contact(Command):
    """#contact [name] [quiet] - make yourself (or the named member) the point of contact.

    The point of contact speaks to the reporter for the working group and is
    available to them for questions, as the manual's "Contacting the reporter"
    stage asks of the chair. Name a member by full name, first name or address.
    The reporter gets a short note from the conduct address naming their point
    of contact by first name; "#contact quiet" (or "#contact NAME quiet") sets
    the contact without telling the reporter.
    """

    name = "contact"

    def run(self, cc: CommandContext) -> CommandResult:
        """Set the case's point of contact."""
        wanted, quiet = _split_quiet(cc.args)
        member = find_member(cc.app.config, wanted) if wanted else cc.member
        if is_shut_out(cc.session, cc.app.config, cc.case, member):
            raise CommandError(f"{member.name} is recused or excluded from this case")
        old = cc.case.point_of_contact
        if old == member.email:
            return CommandResult(f"{member.name} is already the point of contact; "
                                 "nothing changed")
        cc.case.point_of_contact = member.email
        cc.session.add(cc.case)
        record_event(cc, EventKind.POINT_OF_CONTACT_SET, old=old, new=member.email)
        told = "the reporter was not told (quiet)" if quiet else tell_reporter(cc, member)
        return CommandResult(f"point of contact set to {member.name}; {told}",
                             changed={"point_of_contact": member.email})
