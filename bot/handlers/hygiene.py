"""Thread hygiene: check replies in a case against the "hygiene" rules, warn once.

Runs the ``hygiene`` rule chain (rules/hygiene.toml, kinds in
`bot.hygiene.kinds`) on every filed message that continues an existing
case: not the report that opened it, not the bot's own mail, and never during
backfill or import (`ctx.quiet`).

For each hit the case history gets a ``hygiene_problem`` event.  Who is told
comes from the rule's policy: `notify` with `template` (``sender`` only when
the sender is a member), and, when the sender is not a member, `outsider_notify`
with `outsider_template`: outsiders are never lectured.  Every recipient is a
member (never the reporter, never anyone outside the group), each gets a
private mail addressed to them alone, and the same problem in the same thread
reaches the same member once: a ``hygiene_warning`` event keyed by rule,
thread root, problem signature and recipient is checked before sending.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.core.config import Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.filing.context import MessageContext
from bot.hygiene.findings import Finding
from bot.hygiene.identity import reporter_identity
from bot.hygiene.kinds import CHECKED_KINDS
from bot.hygiene.policies import HygienePolicy
from bot.outbound.outbox import queue_mail, valid_address
from bot.rules.base import RuleKind, run_chain
from bot.rules.chains import Chain
from bot.rules.loader import load_rules
from bot.store.records import add_event, case_events
from bot.store.recusal import is_excluded, shut_out

log = get_logger("hygiene")



def warning_key(rule: str, thread: str, signature: str, recipient: str) -> str:
    """The dedupe key of one warning: rule, thread root, problem and recipient."""
    text = "\x00".join([rule, thread, signature, recipient.lower()])
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:40]


def audience(ctx: MessageContext, who: str) -> list[Member]:
    """The members `who` names for this message's case (see HygienePolicy)."""
    config = ctx.app.config
    if who == "sender":
        # A member excluded from the case is told nothing about it, not even this.
        if ctx.sender_member is None or is_excluded(ctx.session, config, ctx.case,
                                                    ctx.sender_member):
            return []
        return [ctx.sender_member]
    recused = shut_out(ctx.session, config, ctx.case)
    if who == "point_of_contact":
        contact = config.member_for(ctx.case.point_of_contact)
        if contact is not None and contact.email not in recused:
            return [contact]
    chairs = [m for m in config.chairs if m.email not in recused]
    return chairs or [m for m in config.members if m.email not in recused]


def _role(ctx: MessageContext, member: Member) -> str:
    """Why `member` hears about this case: point of contact, chair or member."""
    if ctx.case.point_of_contact and ctx.case.point_of_contact in member.addresses:
        return "point of contact"
    return "chair" if member.role == "chair" else "member"


def _plans(ctx: MessageContext, policy: HygienePolicy,
           finding: Finding) -> list[tuple[str, str, dict[str, Any]]]:
    """(audience, template, context) for each group to tell about `finding`."""
    plans = [(who, policy.template, finding.context) for who in policy.notify
             if who != "sender" or ctx.sender_member is not None]
    if ctx.sender_member is None and policy.outsider_template:
        plans += [(who, policy.outsider_template, finding.outsider_context)
                  for who in policy.outsider_notify]
    return plans


def _warned_keys(ctx: MessageContext) -> set[str]:
    return {str(e.data.get("key")) for e in case_events(ctx.session, ctx.case)
            if e.kind == EventKind.HYGIENE_WARNING}


def act_on(ctx: MessageContext, rule: RuleKind, finding: Finding, warned: set[str]) -> int:
    """Record `finding` and queue the warnings its rule's policy asks for; return how many."""
    policy = rule.policy
    assert isinstance(policy, HygienePolicy)
    pm, now = ctx.pm, ctx.app.now_utc()
    sender = pm.first_from
    add_event(ctx.session, ctx.case, EventKind.HYGIENE_PROBLEM,
              actor=sender.key if sender else None, message_id=pm.message_id, at=now,
              rule=rule.name, thread=finding.thread,
              by_member=ctx.sender_member is not None, **finding.record)
    log.info("hygiene problem", case=ctx.case.code, message_id=pm.message_id, rule=rule.name)
    # Never the reporter, even when a member reported: warnings are about the case.
    reporters = {a.lower() for a in reporter_identity(ctx.session, ctx.case).addresses}
    queued = 0
    for who, template, context in _plans(ctx, policy, finding):
        for member in audience(ctx, who):
            if member.email in reporters or not valid_address(member.email):
                continue
            key = warning_key(rule.name, finding.thread, finding.signature, member.email)
            if key in warned:
                log.info("hygiene warning already sent", case=ctx.case.code,
                         message_id=pm.message_id, rule=rule.name)
                continue
            to_sender = who == "sender"
            row = queue_mail(
                ctx.session, ctx.app, kind="warning" if to_sender else "alert",
                template=template, to=[member.email], case=ctx.case,
                context={**context, "recipient_name": member.name,
                         "recipient_role": _role(ctx, member), "rule": rule.name,
                         "rule_description": rule.description},
                reply_to=pm if to_sender else None,
                auto_submitted="auto-replied" if to_sender else "auto-generated",
            )
            add_event(ctx.session, ctx.case, EventKind.HYGIENE_WARNING, actor=None,
                      message_id=pm.message_id, at=now, rule=rule.name, key=key,
                      to=member.email, audience=who, outbox_message_id=row.message_id)
            warned.add(key)
            queued += 1
    return queued


def hygiene(ctx: MessageContext) -> None:
    """Run the hygiene chain on a reply or forward within an existing case."""
    if ctx.quiet or ctx.is_new_case or ctx.inbound.kind not in CHECKED_KINDS:
        return
    rules = [r for r in load_rules(ctx.app.config) if r.policy.chain == Chain.HYGIENE]
    if not rules:
        return
    by_name = {r.name: r for r in rules}
    warned: set[str] | None = None
    for hit in run_chain(rules, Chain.HYGIENE, ctx):
        finding = hit.data.get("finding")
        if not isinstance(finding, Finding):
            continue
        if warned is None:
            warned = _warned_keys(ctx)
        act_on(ctx, by_name[hit.rule], finding, warned)


handle = hygiene
