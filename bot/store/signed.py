"""Signed content the bot has seen: replay detection for members' mail.

Headers prepended above a genuinely signed member mail keep ``dkim=pass``, and
a signed mail can be sent again under a new Message-ID.  Every authenticated
member mail leaves a fingerprint here (its DKIM signature values; without one,
a hash of sender, date, subject and text); the same fingerprint under another
Message-ID is a replay, and its commands are held.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from bot.mail.message import ParsedMessage
from bot.store.models import utcnow

_SPACE_RE = re.compile(r"\s+")


class SignedContent(SQLModel, table=True):
    """One fingerprint of a member's signed mail, first seen under `message_id`."""

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(unique=True, max_length=80)
    message_id: str = Field(max_length=1000)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    seen_at: datetime = Field(default_factory=utcnow)


def _dkim_signature_values(pm: ParsedMessage) -> list[str]:
    """The ``b=`` tag of every DKIM-Signature header, whitespace removed."""
    out: list[str] = []
    for header in pm.header_all("DKIM-Signature"):
        for part in header.split(";"):
            tag, eq, value = part.partition("=")
            if eq and tag.strip() == "b":
                value = _SPACE_RE.sub("", value)
                if value:
                    out.append(value)
    return out


def fingerprints(pm: ParsedMessage) -> list[str]:
    """What identifies the signed content of `pm`, whatever its Message-ID."""
    values = _dkim_signature_values(pm)
    if values:
        return ["dkim:" + hashlib.sha256(v.encode()).hexdigest()[:64] for v in values]
    # Unsigned content: what a sender writes, including what it answers (two
    # identical one-word approvals of different drafts are two mails, not a replay).
    sender = pm.first_from.key if pm.first_from else ""
    basis = "\x00".join([sender, pm.header("Date") or "", " ".join(pm.in_reply_to),
                         _SPACE_RE.sub(" ", pm.subject),
                         _SPACE_RE.sub(" ", pm.text_body or "").strip()])
    return ["text:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()[:64]]


def seen_under_other_id(session: Session, prints: Sequence[str],
                        message_id: str | None) -> bool:
    """True when any of `prints` was recorded for a message with another id."""
    if not prints:
        return False
    rows = session.exec(select(SignedContent.message_id).where(
        col(SignedContent.fingerprint).in_(list(prints)))).all()
    return any(mid != (message_id or "") for mid in rows)


def remember(session: Session, prints: Sequence[str], message_id: str | None,
             case_id: int | None) -> None:
    """Record `prints` for `message_id` (the first sighting of each wins)."""
    if not prints:
        return
    known = set(session.exec(select(SignedContent.fingerprint).where(
        col(SignedContent.fingerprint).in_(list(prints)))).all())
    for fp in dict.fromkeys(prints):
        if fp not in known:
            session.add(SignedContent(fingerprint=fp, message_id=message_id or "",
                                      case_id=case_id))
    session.flush()
