"""Acknowledge a new report once; warn every member when it suggests physical danger.

The manual ("Initial Response") asks that a reporter hears back at once that the
report arrived.  Only the message that opens a case from a non-member is a
candidate; replies, members' mail and reports forwarded by a member (the
member handles first contact) get nothing.  Then the ``acknowledge`` rule chain
(rules/acknowledge.toml) decides when *not* to send: automatic mail, lists,
bounces, out-of-office replies, the bot's own mail, members, rate limits.
Every decision is a case event: ``acknowledgement_queued`` or
``acknowledgement_suppressed`` with the rule and its reason.

Who gets what:

- the acknowledgement goes to the report's From address (the person, not the
  envelope sender: Return-Path is often a bounce address), Cc the conduct
  address so members see what was sent;
- it names nobody but the reporter and the signer, and quotes nothing of the
  report: its subject is the group's own fixed line, without the case's code
  name (replies still thread, by In-Reply-To/References to the bot's id);
- a registered local representative whose report says action was already taken
  gets the neutral acknowledgement too: closing it with the manual's "kept on
  file" text is a member's decision (`#onfile`), which the bot suggests to the
  members (``onfile_suggested``: the urgent notice and the digest line show it).

The danger alarm is not raised here (`bot.handlers.danger`): nothing that stops
an acknowledgement may stop it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.outbound.acknowledgement import TEMPLATE_DECISION_NEEDED, queue_acknowledgement
from bot.rules.base import RuleHit, run_chain
from bot.rules.chains import Chain
from bot.rules.loader import load_rules
from bot.store.records import add_event

if TYPE_CHECKING:

    from bot.filing.context import MessageContext

log = get_logger("acknowledge")

def _suppress(ctx: MessageContext, rule: str, reason: str, *, danger: bool = False,
              **data: Any) -> None:
    add_event(ctx.session, ctx.case, EventKind.ACKNOWLEDGEMENT_SUPPRESSED,
              message_id=ctx.pm.message_id, rule=rule, reason=reason, danger=danger, **data)
    log.info("acknowledgement suppressed", case=ctx.case.code,
             message_id=ctx.pm.message_id, rule=rule)


def _is_local_representative(ctx: MessageContext) -> bool:
    sender = ctx.pm.first_from
    key = sender.key if sender else ""
    return any(rep.email == key for rep in ctx.app.config.local_representatives)


def acknowledge(ctx: MessageContext) -> None:
    """Handler: acknowledge the report that opened a case, unless a rule says not to."""
    if not ctx.is_new_case:
        return
    rules = load_rules(ctx.app.config)
    danger_hits = run_chain(rules, Chain.DANGER, ctx, first_only=True)
    if ctx.inbound.kind == "forwarded-report":
        _suppress(ctx, "forwarded-report",
                  "forwarded by a member: the member handles first contact")
        return
    if ctx.inbound.kind != "report":
        return
    if ctx.quiet:
        _suppress(ctx, "backfill", "backfill or import: old mail is filed silently")
        return
    if _is_local_representative(ctx) and run_chain(rules, Chain.ACTION_TAKEN, ctx,
                                                   first_only=True):
        add_event(ctx.session, ctx.case, EventKind.ONFILE_SUGGESTED,
                  message_id=ctx.pm.message_id, danger=bool(danger_hits))
    if not ctx.app.config.acknowledgement.enabled:
        _suppress(ctx, "disabled", "acknowledgements are disabled (acknowledgement.enabled)")
        return
    hits: list[RuleHit] = run_chain(rules, Chain.ACKNOWLEDGE, ctx, first_only=True)
    if hits:
        _suppress(ctx, hits[0].rule, hits[0].reason, danger=bool(danger_hits), **hits[0].data)
        return
    queue_acknowledgement(ctx.session, ctx.app, ctx.case, ctx.pm,
                          template=TEMPLATE_DECISION_NEEDED, danger=bool(danger_hits))


handle = acknowledge
