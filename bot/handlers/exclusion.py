"""Handler: a new report that names a member shuts that member out at once.

Later mail from outside the group that names a member shuts nobody out; the
members who would confirm an exclusion are told (`mention_members`).

Runs first, so that everything the report causes (the urgent notice, the
acknowledgement's copy, the first digest line) already leaves the named member
out.  The report's text, HTML and attachments are searched for each member's
full name and addresses (`bot.governance.naming`); the member who wrote it
(when their mail authenticates) is not "named" by their own signature, nor is a
forwarding member by their words around the forward; the forwarded report
itself names whoever it names.  Backfilled mail records the exclusion but sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.governance.exclusion import mention_members, name_members, refer_to_board_if_needed
from bot.governance.naming import members_named, report_text, without_header_lines
from bot.mail.auth import verify_member
from bot.mail.quoting import top_text

if TYPE_CHECKING:
    from bot.filing.context import MessageContext


def handle(ctx: MessageContext) -> None:
    """Shut out the members a new report names (see module docstring)."""
    if not ctx.is_new_case:
        _later_mail(ctx)
        return
    if ctx.inbound.kind not in ("report", "forwarded-report"):
        return
    config = ctx.app.config
    skip: list[str] = []
    if ctx.sender_member is not None and verify_member(ctx.inbound.raw, config).ok:
        skip = list(ctx.sender_member.addresses)
    inner = ctx.forwarded if ctx.inbound.kind == "forwarded-report" else None
    if inner is None:
        named = members_named(report_text(ctx.pm, ctx.inbound.raw), config.members, skip)
    else:
        # The forwarded report itself names whoever it names, the forwarding member
        # too (a member forwarding a report about themselves must not escape it);
        # only the forwarder's own words around it skip their signature.
        named = members_named(report_text(inner, ctx.inbound.raw), config.members)
        own = "\n".join(top_text(ctx.pm.text_body, ctx.pm.html_body))
        named += [m for m in members_named(f"{ctx.pm.subject}\n{own}", config.members, skip)
                  if m not in named]
    if not named:
        return
    name_members(ctx.session, ctx.app, ctx.case, named, message_id=ctx.pm.message_id,
                 quiet=ctx.quiet)
    # The confirmation request already carries the board instruction when every
    # chair is named; this only records it for other ways of getting there.
    refer_to_board_if_needed(ctx.session, ctx.app, ctx.case, message_id=ctx.pm.message_id,
                             quiet=True)


def _later_mail(ctx: MessageContext) -> None:
    """Later mail from outside the group that names a member: tell the confirmers.

    Only what the sender wrote counts (their new text and subject, not what
    they quote), and nobody is shut out: anyone can write into a case, and
    an outsider must not change who handles it.
    """
    if ctx.sender_member is not None or ctx.quiet or _automatic(ctx):
        return
    own = "\n".join(top_text(ctx.pm.text_body, ctx.pm.html_body))
    named = members_named(without_header_lines(own), ctx.app.config.members)
    if named:
        mention_members(ctx.session, ctx.app, ctx.case, named, message_id=ctx.pm.message_id)


def _automatic(ctx: MessageContext) -> bool:
    """Bounces, auto-replies and our own address: they quote mail, they report nothing."""
    pm = ctx.pm
    auto = [v.strip().lower() for v in pm.header_all("auto-submitted")]
    return (pm.is_dsn or "multipart/report" in (pm.content_type or "").lower()
            or any(v and not v.startswith("no") for v in auto)
            or any(a.key == ctx.app.config.conduct_address for a in pm.from_))
