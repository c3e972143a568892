"""Answers to the onboarding mail: `#conflict CODE...` / `#noconflict` with no case.

The onboarding mail belongs to no case, so a reply to it is filed without one
(`bot.filing.pipeline`); this handler reads the conflict statement in it.
Only an authenticated member's reply counts; anything else changes nothing.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.commands.tags import body_tags, subject_tags
from bot.core.app import App
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.mail.auth import verify_member
from bot.mail.message import ParsedMessage
from bot.mail.quoting import top_text
from bot.outbound.outbox import queue_mail
from bot.records.onboarding import parse_codes, record_statement
from bot.store.records import add_event

log = get_logger("onboarding")


def caseless(app: App, session: Session, pm: ParsedMessage, raw: bytes, quiet: bool) -> None:
    """Record a conflict statement from a member's reply to case-less bot mail."""
    tags = [t for t in [*subject_tags(pm.subject), *body_tags(top_text(pm.text_body,
                                                                      pm.html_body))]
            if t.name in ("conflict", "noconflict")]
    if not tags:
        return
    verdict = verify_member(raw, app.config)
    member = app.config.member_for(verdict.address) if verdict.ok else None
    if member is None:
        add_event(session, None, EventKind.COMMAND_HELD, message_id=pm.message_id,
                  at=app.now_utc(), reason="conflict statement from an unauthenticated "
                  "sender or a non-member", commands=[t.name for t in tags])
        return
    codes: list[str] = []
    for tag in tags:
        if tag.name == "conflict":
            codes.extend(parse_codes(tag.args))
    result = record_statement(session, app, member, codes, message_id=pm.message_id)
    log.info("conflict statement", recorded=result["recorded"], recused=len(result["recused"]))
    if quiet:
        return
    queue_mail(session, app, kind="transcript", template="conflict_recorded", to=[member.email],
               reply_to=pm, auto_submitted="auto-replied",
               context={"member_name": member.name, **result})
