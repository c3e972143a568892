"""Which messages a message cites, and which of them the bot has: threads and gaps.

`citation_gaps` finds the messages cited after one the bot knows that never
reached it (someone's reply left the conduct address out); `find_parent` and
`load_message` read filed (or sent) messages back for the recipient comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from bot.mail.message import ParsedMessage
from bot.mail.msgids import own_case_id
from bot.mail.parse import ParseError, extract_forwarded, parse_message
from bot.outbound.render import clean_header
from bot.store.models import CaseMessage, InboundMessage, Outbox

# Longest subject quoted in a warning.
SUBJECT_LIMIT = 200


def thread_root(pm: ParsedMessage) -> str:
    """The first message of `pm`'s thread as far as it knows (else its own id)."""
    if pm.references:
        return pm.references[0]
    if pm.in_reply_to:
        return pm.in_reply_to[0]
    return pm.message_id or ""


def citation_gaps(references: Sequence[str], in_reply_to: Sequence[str],
                  known: set[str], unseen: set[str]) -> list[str]:
    """Unseen ids cited *after* a message the bot knows, oldest first.

    References lists a thread oldest first; ids before the first known one are the
    thread's history before the group was involved (a report citing the mail it
    complains about), not a gap.  The In-Reply-To id goes last when References
    lacks it.  Without any known id the position of a gap cannot be told: none.
    """
    order = list(dict.fromkeys([*references, *[i for i in in_reply_to if i not in references]]))
    anchor = next((i for i, mid in enumerate(order) if mid in known), None)
    if anchor is None:
        return []
    return [mid for mid in order[anchor + 1 :] if mid in unseen and mid not in known]


def load_message(session: Session, app_secret: str, mid: str) -> ParsedMessage | None:
    """The filed (or sent) message with Message-ID `mid`, parsed, or None.

    A forward filed as its original is found inside the forward's raw bytes; the
    bot's own mail whose copy has not come back yet is read from the outbox.
    """
    row = session.exec(select(CaseMessage).where(CaseMessage.message_id == mid)).first()
    raw: bytes | None = None
    if row is not None and row.seen and row.inbound_id is not None:
        inbound = session.get(InboundMessage, row.inbound_id)
        raw = inbound.raw if inbound is not None else None
    if raw is None and own_case_id(app_secret, mid) is not None:
        out = session.exec(select(Outbox).where(Outbox.message_id == mid)).first()
        raw = out.raw if out is not None else None
    if raw is None:
        return None
    try:
        pm = parse_message(raw)
    except ParseError:
        return None
    if pm.message_id != mid:
        inner = extract_forwarded(pm)
        if inner is not None and inner.message_id == mid:
            return inner
    return pm


def find_parent(session: Session, app_secret: str, pm: ParsedMessage) -> ParsedMessage | None:
    """The message `pm` answers: its In-Reply-To if filed, else the newest filed reference."""
    for mid in [*pm.in_reply_to[:1], *reversed(pm.references)]:
        parent = load_message(session, app_secret, mid)
        if parent is not None:
            return parent
    return None


def seen_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """Those of `ids` that a filed message carries."""
    if not ids:
        return set()
    return set(session.exec(
        select(CaseMessage.message_id).where(col(CaseMessage.message_id).in_(list(ids)),
                                             CaseMessage.seen == True)  # noqa: E712
    ).all())


def known_subject(session: Session, secret: str, mid: str) -> str:
    """The sanitised subject of the known message `mid` ("" when unknown)."""
    row = session.exec(select(CaseMessage).where(CaseMessage.message_id == mid)).first()
    if row is not None and row.inbound_id is not None:
        inbound = session.get(InboundMessage, row.inbound_id)
        if inbound is not None and inbound.subject:
            return clean_header(inbound.subject, limit=SUBJECT_LIMIT)
    if own_case_id(secret, mid) is not None:
        out = session.exec(select(Outbox).where(Outbox.message_id == mid)).first()
        if out is not None:
            try:
                return clean_header(parse_message(out.raw).subject, limit=SUBJECT_LIMIT)
            except ParseError:
                return ""
    return ""
