"""each saved draft's shape, for the composition timeline

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 03:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draft_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary_chars", sa.Integer(), nullable=False),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.Column("pastes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_draft_revision_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_revision")),
    )
    op.create_index(
        op.f("ix_draft_revision_submission_id"), "draft_revision", ["submission_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_draft_revision_submission_id"), table_name="draft_revision")
    op.drop_table("draft_revision")
