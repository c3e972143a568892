"""Handler: a new report that names a member shuts that member out at once.

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

from bot.governance.exclusion import name_members, refer_to_board_if_needed
from bot.governance.naming import members_named, report_text
from bot.mail.auth import verify_member
from bot.mail.quoting import top_text

if TYPE_CHECKING:
    from bot.filing.context import MessageContext


def handle(ctx: MessageContext) -> None:
    """Shut out the members a new report names (see module docstring)."""
    if not ctx.is_new_case or ctx.inbound.kind not in ("report", "forwarded-report"):
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
