"""Tables for the manual's records beyond the case row: people, the identity key,
per-person outcomes, case extras (space, types, documents) and onboarding.

Real names and addresses of reported people are never stored in clear: a
`Person` row holds them only as a token encrypted with the identity key (which
is not in the database), and `PersonIndex` holds keyed blind-index digests of
their normalised forms, so the same person can be recognised again without
the database being able to say who they are (`bot.records.identitykey`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.models import utcnow


class Person(SQLModel, table=True):
    """A reported person, known to the records by a persistent Person Code Name."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    # Fernet token of {"names": [...], "addresses": [...]}; None when unknown or purged.
    identity: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class PersonIndex(SQLModel, table=True):
    """One keyed digest (HMAC) of a normalised address or name of a person."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    digest: str = Field(unique=True, max_length=64)
    kind: str = Field(default="address", max_length=16)  # address | name


class CasePerson(SQLModel, table=True):
    """A person recorded in a case: one row of the records spreadsheet per person."""

    __table_args__ = (UniqueConstraint("case_id", "person_id", name="uq_case_person"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    # One of the manual's five record types (bot.records.ladder.RECORD_TYPES).
    record_type: str | None = Field(default=None, max_length=32)
    consequence: str | None = None
    suspension_start: date | None = None
    suspension_end: date | None = Field(default=None, index=True)
    conditions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    readmission_reminded_at: datetime | None = None
    added_at: datetime = Field(default_factory=utcnow)


class CaseExtra(SQLModel, table=True):
    """Record fields of a case beyond the original row: space, types, documents, purge."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    space: str | None = Field(default=None, max_length=64)
    # The case's record type when it holds no person (e.g. "unidentified").
    record_type: str | None = Field(default=None, max_length=32)
    types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    documents: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    purged_at: datetime | None = None
    # Kept for the statistics when a purge deletes the mail they were derived from.
    acknowledged_at: datetime | None = None
    first_response_at: datetime | None = None
    retention_reminded_at: datetime | None = None


class ConflictStatement(SQLModel, table=True):
    """A member's onboarding: when they were asked about conflicts, and their answer."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    asked_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    conflicts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
