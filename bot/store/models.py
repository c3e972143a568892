"""The records schema (SQLModel tables).

Raw mail is stored as bytes and never altered.  Case events are append-only:
an ORM-level guard refuses updates and deletes of `Event` rows.  Times are
timezone-aware UTC datetimes (SQLModel refuses naive ones).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

_clock: Callable[[], datetime] | None = None


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Make record timestamps follow `clock` (the running App's, frozen under --now)."""
    global _clock
    _clock = clock


def utcnow() -> datetime:
    """Aware UTC now (per the App's clock), the storage convention of this schema."""
    if _clock is not None:
        return _clock().astimezone(UTC)
    return datetime.now(UTC)


class Setting(SQLModel, table=True):
    """Small key/value store (e.g. the generated secret for Message-ID hashes)."""

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))


class Member(SQLModel, table=True):
    """A roster entry; `active_until` set when they left the group."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str = Field(index=True)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    role: str = "member"
    active_from: datetime = Field(default_factory=utcnow)
    active_until: datetime | None = None


class Case(SQLModel, table=True):
    """One report and everything that follows it: the manual's record row."""

    # Records and statistics select by status and date of report.
    __table_args__ = (Index("ix_case_status_date", "status", "date_reported"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    status: str = "Ongoing"
    date_reported: datetime
    resolution_source: str | None = None
    resolution_date: date | None = None
    safety_risk: str | None = None
    ongoing_harassment: str | None = None
    consequences: str | None = None
    reporter_address: str | None = None
    reporter_name: str | None = None
    point_of_contact: str | None = None
    review_date: date | None = None
    merged_into: int | None = Field(default=None, foreign_key="case.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class InboundMessage(SQLModel, table=True):
    """A message as it arrived (raw bytes, untouched) and where it was filed."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=1000)
    message_id: str | None = Field(default=None, index=True, max_length=1000)
    raw_sha256: str = Field(index=True, max_length=64)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    source: str = ""
    received_at: datetime = Field(default_factory=utcnow)
    date: datetime | None = None
    from_address: str | None = None
    subject: str = ""
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kind: str = "inbound"  # inbound | report | own | forwarded | backfill
    parent_message_id: str | None = Field(default=None, max_length=1000)


class CaseMessage(SQLModel, table=True):
    """Link of a message id to its case (also ids only ever cited, never seen)."""

    __table_args__ = (UniqueConstraint("message_id", name="uq_casemessage_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=1000)
    case_id: int = Field(foreign_key="case.id", index=True)
    seen: bool = False
    inbound_id: int | None = Field(default=None, foreign_key="inboundmessage.id")
    added_at: datetime = Field(default_factory=utcnow)


class Participant(SQLModel, table=True):
    """Someone who wrote or was written to in a case."""

    __table_args__ = (UniqueConstraint("case_id", "address", name="uq_participant"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    address: str = Field(max_length=320)
    name: str = ""
    role: str = "other"  # reporter | member | other
    recused: bool = False


class Event(SQLModel, table=True):
    """Append-only history of a case."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(index=True, max_length=64)
    actor: str | None = None
    message_id: str | None = Field(default=None, index=True, max_length=1000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ImapCursor(SQLModel, table=True):
    """Where IMAP intake stopped: (UIDVALIDITY, last UID) per folder."""

    folder: str = Field(primary_key=True, max_length=300)
    uidvalidity: int
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class Quarantine(SQLModel, table=True):
    """Mail that could not be filed, kept with the reason."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=1000)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers_only: bool = False
    size: int = 0
    reason: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = "unparsable"  # unparsable | oversize | spam | error
    source: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    released_at: datetime | None = None


class Outbox(SQLModel, table=True):
    """A mail the bot decided to send; the sender delivers it later."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, max_length=1000)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kind: str = Field(max_length=64)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="queued", index=True)  # queued | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    refused: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The instance (see bot.store.lease) whose sender claimed the row for an attempt in
    # flight; a new lease holder takes over such rows at once.
    claimed_by: str | None = Field(default=None, max_length=300)


class DigestClaim(SQLModel, table=True):
    """One digest per recipient per day, claimed atomically by a unique key."""

    __table_args__ = (UniqueConstraint("recipient", "day", name="uq_digest_claim"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320)
    day: date
    claimed_at: datetime = Field(default_factory=utcnow)
    outbox_message_id: str | None = Field(default=None, max_length=1000)


class AppendOnlyError(RuntimeError):
    """Someone tried to change or delete a case event."""


@event.listens_for(OrmSession, "before_flush")
def _events_are_append_only(session: OrmSession, _ctx: Any, _inst: Any) -> None:
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, Event) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError("case events are append-only")
