"""Alternate copies: the same Message-ID arriving again with different bytes.

A relay that adds headers, a list that rewrites From, a second delivery path:
the copy is the same message to the group, but its bytes may matter (headers
that show its route, a changed body).  It is kept beside the filed message,
shown in `cocbot case CODE`, and never acted on (no second acknowledgement,
no second command run).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from bot.store.models import InboundMessage, utcnow


class AlternateCopy(SQLModel, table=True):
    """Another copy of a filed message: same Message-ID, other bytes."""

    __tablename__ = "alternatecopy"
    __table_args__ = (UniqueConstraint("inbound_id", "raw_sha256", name="uq_alternate_copy"),)

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inboundmessage.id", index=True)
    raw_sha256: str = Field(max_length=64)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    source: str = ""
    received_at: datetime = Field(default_factory=utcnow)


def keep_copy(session: Session, original: InboundMessage, raw: bytes, sha: str,
              source: str) -> bool:
    """Store `raw` as an alternate copy of `original` once; True when it was new."""
    if original.id is None or original.raw_sha256 == sha:
        return False
    known = session.exec(select(AlternateCopy.id).where(
        AlternateCopy.inbound_id == original.id, AlternateCopy.raw_sha256 == sha)).first()
    if known is not None:
        return False
    session.add(AlternateCopy(inbound_id=original.id, raw_sha256=sha, raw=raw, size=len(raw),
                              source=source))
    session.flush()
    return True


def copies_of(session: Session, inbound_ids: list[int]) -> dict[int, list[AlternateCopy]]:
    """Alternate copies of the given inbound messages, oldest first."""
    if not inbound_ids:
        return {}
    rows = session.exec(select(AlternateCopy).where(col(AlternateCopy.inbound_id).in_(
        inbound_ids)).order_by(col(AlternateCopy.id))).all()
    found: dict[int, list[AlternateCopy]] = {}
    for row in rows:
        found.setdefault(row.inbound_id, []).append(row)
    return found
