"""Handler: danger triage on every path (see `bot.governance.danger`).

Checked: the message that opens a case (a report, a relayed form, a member's own
report, a member's forward), and any later message in an open case whose sender
is not an authenticated member (a forged member From is a stranger's mail).
Runs after the acknowledgement handler only to say in the notice whether the
reporter was acknowledged; whether it was never decides whether members hear.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmodel import select

from bot.core.events import EventKind
from bot.governance.danger import raise_alarm
from bot.governance.naming import attachment_texts
from bot.mail.auth import verify_member
from bot.mail.quoting import html_to_text, top_text
from bot.rules.base import run_chain
from bot.rules.chains import Chain
from bot.rules.loader import load_rules
from bot.store.models import Event
from bot.store.records import STATUS_ONGOING

if TYPE_CHECKING:
    from bot.filing.context import MessageContext


def _path(ctx: MessageContext) -> str | None:
    """Which path the message came by, or None when it is not checked."""
    kind = ctx.inbound.kind
    if ctx.is_new_case:
        if kind == "forwarded-report":
            return "forward"
        if kind == "report":
            return "member" if ctx.sender_member is not None else "report"
        return None
    if kind in ("own", "forwarded") or ctx.case.status != STATUS_ONGOING:
        return None
    if ctx.sender_member is not None and verify_member(ctx.inbound.raw, ctx.app.config).ok:
        return None
    return "reply"


def _event_for_message(ctx: MessageContext, kind: EventKind) -> Event | None:
    mid = ctx.pm.message_id
    if not mid:
        return None
    return ctx.session.exec(select(Event).where(
        Event.case_id == ctx.case.id, Event.kind == kind, Event.message_id == mid)).first()


def handle(ctx: MessageContext) -> None:
    """Raise the alarm when the message may involve physical danger."""
    path = _path(ctx)
    if path is None or ctx.quiet:
        return
    checked = ctx
    if path != "reply":
        # The whole report: a forward attached as a message, text attachments.
        parts = [ctx.pm.text_body or ""]
        if ctx.pm.html_body:
            parts.append(html_to_text(ctx.pm.html_body))
        inner = ctx.forwarded
        if inner is not None:
            parts += [inner.subject or "", inner.text_body or ""]
            if inner.html_body:
                parts.append(html_to_text(inner.html_body))
        parts += attachment_texts(ctx.inbound.raw)
        checked = replace(ctx, pm=replace(ctx.pm, text_body="\n".join(parts), html_body=None))
    else:
        # Only what this sender wrote: a reply quoting the report must not raise
        # the alarm again once a member has answered it.
        own = "\n".join(top_text(ctx.pm.text_body, ctx.pm.html_body))
        # The subject is the thread's ("Re: death threat"): only new words count.
        checked = replace(ctx, pm=replace(ctx.pm, subject="", text_body=own, html_body=None))
    hits = run_chain(load_rules(ctx.app.config), Chain.DANGER, checked, first_only=True)
    if not hits:
        return
    ctx.session.flush()
    acknowledged = _event_for_message(ctx, EventKind.ACKNOWLEDGEMENT_QUEUED) is not None
    onfile = _event_for_message(ctx, EventKind.ONFILE_SUGGESTED) is not None
    raise_alarm(ctx.session, ctx.app, ctx.case, reason=hits[0].reason, rule=hits[0].rule,
                message_id=ctx.pm.message_id, path=path, acknowledged=acknowledged,
                onfile_suggested=onfile)
