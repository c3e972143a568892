"""index case.merged_into and event.message_id (looked up on every filing and digest)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_merged_into", "case", ["merged_into"])
    op.create_index("ix_event_message_id", "event", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_event_message_id", table_name="event")
    op.drop_index("ix_case_merged_into", table_name="case")
