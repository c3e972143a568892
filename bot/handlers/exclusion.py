"""Handler: a new report that names a member shuts that member out at once.

Runs first, so that everything the report causes (the urgent notice, the
acknowledgement's copy, the first digest line) already leaves the named member
out.  The report's text, HTML and attachments are searched for each member's
full name and addresses (`bot.governance.naming`); the member who wrote or
forwarded it (when their mail authenticates) is not "named" by their own
signature.  Backfilled mail records the exclusion but sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.governance.exclusion import name_members, refer_to_board_if_needed
from bot.governance.naming import members_named, report_text
from bot.mail.auth import verify_member

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
    named = members_named(report_text(ctx.pm, ctx.inbound.raw, inner), config.members, skip)
    if not named:
        return
    name_members(ctx.session, ctx.app, ctx.case, named, message_id=ctx.pm.message_id,
                 quiet=ctx.quiet)
    # The confirmation request already carries the board instruction when every
    # chair is named; this only records it for other ways of getting there.
    refer_to_board_if_needed(ctx.session, ctx.app, ctx.case, message_id=ctx.pm.message_id,
                             quiet=True)
