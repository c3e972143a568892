"""records: people, identity index, per-person outcomes, case extras, onboarding

Revision ID: 0008
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_dt = sqlmodel.sql.sqltypes.UTCDateTime
_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", _str(length=64), nullable=False),
        sa.Column("identity", sa.Text(), nullable=True),
        sa.Column("created_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_code", "person", ["code"], unique=True)
    op.create_table(
        "personindex",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("digest", _str(length=64), nullable=False),
        sa.Column("kind", _str(length=16), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_personindex_person_id", "personindex", ["person_id"])
    op.create_table(
        "caseperson",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("record_type", _str(length=32), nullable=True),
        sa.Column("consequence", _str(), nullable=True),
        sa.Column("suspension_start", sa.Date(), nullable=True),
        sa.Column("suspension_end", sa.Date(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("readmission_reminded_at", _dt(), nullable=True),
        sa.Column("added_at", _dt(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "person_id", name="uq_case_person"),
    )
    op.create_index("ix_caseperson_case_id", "caseperson", ["case_id"])
    op.create_index("ix_caseperson_person_id", "caseperson", ["person_id"])
    op.create_index("ix_caseperson_suspension_end", "caseperson", ["suspension_end"])
    op.create_table(
        "caseextra",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("space", _str(length=64), nullable=True),
        sa.Column("record_type", _str(length=32), nullable=True),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("documents", sa.Text(), nullable=True),
        sa.Column("purged_at", _dt(), nullable=True),
        sa.Column("acknowledged_at", _dt(), nullable=True),
        sa.Column("first_response_at", _dt(), nullable=True),
        sa.Column("retention_reminded_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "conflictstatement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", _str(length=320), nullable=False),
        sa.Column("asked_at", _dt(), nullable=False),
        sa.Column("answered_at", _dt(), nullable=True),
        sa.Column("conflicts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conflictstatement_email", "conflictstatement", ["email"], unique=True)
    op.create_table(
        "caseclock",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("next_check_at", _dt(), nullable=True),
        sa.Column("config_key", _str(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_caseclock_next_check_at", "caseclock", ["next_check_at"])
    # Scale: the records and clocks look cases up by status and date, and the
    # digest and export read events and messages by case.
    op.create_index("ix_case_status_date", "case", ["status", "date_reported"])


def downgrade() -> None:
    op.drop_index("ix_caseclock_next_check_at", table_name="caseclock")
    op.drop_table("caseclock")
    op.drop_index("ix_case_status_date", table_name="case")
    op.drop_index("ix_conflictstatement_email", table_name="conflictstatement")
    op.drop_table("conflictstatement")
    op.drop_table("caseextra")
    op.drop_index("ix_caseperson_suspension_end", table_name="caseperson")
    op.drop_index("ix_caseperson_person_id", table_name="caseperson")
    op.drop_index("ix_caseperson_case_id", table_name="caseperson")
    op.drop_table("caseperson")
    op.drop_index("ix_personindex_person_id", table_name="personindex")
    op.drop_table("personindex")
    op.drop_index("ix_person_code", table_name="person")
    op.drop_table("person")
