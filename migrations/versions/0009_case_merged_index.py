"""index case.merged_into (cases merged into a case are looked up on every filing)

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


def downgrade() -> None:
    op.drop_index("ix_case_merged_into", table_name="case")
