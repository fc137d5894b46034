"""rate limits shared by workers, and the id of a draft's last save

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_counter",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counter")),
    )
    op.create_index(
        op.f("ix_rate_counter_window_start"), "rate_counter", ["window_start"], unique=False
    )
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("last_save_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("last_save_id")
    op.drop_index(op.f("ix_rate_counter_window_start"), table_name="rate_counter")
    op.drop_table("rate_counter")
