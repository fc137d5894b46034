"""auto-scores record the version of the trained models that made them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 06:20:00

`redline retrain` saves new models in the data directory and switches the service to them;
each auto-score names the models it came from. Scores made before stay without one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auto_score") as batch:
        batch.add_column(sa.Column("model_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auto_score") as batch:
        batch.drop_column("model_version")
