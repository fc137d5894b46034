"""each assessment version has a status: draft, published or retired

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:00:00

Until this revision a version's status was implied: the newest version of an active
assessment was the one candidates took, every other was retired, and a draft existed only as
a folder. Existing rows get the status they implied.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSION = sa.table(
    "assessment_version",
    sa.column("id", sa.Integer),
    sa.column("assessment_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("status", sa.String),
)
ASSESSMENT = sa.table("assessment", sa.column("id", sa.Integer), sa.column("is_active", sa.Boolean))


def upgrade() -> None:
    with op.batch_alter_table("assessment_version") as batch:
        batch.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "draft",
                    "published",
                    "retired",
                    name="versionstatus",
                    native_enum=False,
                    length=20,
                ),
                nullable=False,
                server_default="published",
            )
        )
        batch.add_column(sa.Column("draft_id", sa.String(length=16), nullable=True))
    newer = sa.alias(VERSION, "newer")
    has_newer = (
        sa.select(newer.c.id)
        .where(newer.c.assessment_id == VERSION.c.assessment_id, newer.c.number > VERSION.c.number)
        .exists()
    )
    withdrawn = VERSION.c.assessment_id.in_(
        sa.select(ASSESSMENT.c.id).where(ASSESSMENT.c.is_active == sa.false())
    )
    op.execute(VERSION.update().where(sa.or_(has_newer, withdrawn)).values(status="retired"))
    with op.batch_alter_table("assessment_version") as batch:
        batch.alter_column("status", server_default=None)


def downgrade() -> None:
    # Before this revision a draft was no version at all, and the newest version of an active
    # assessment was published whatever its row said: drafts go, and so does the status.
    drafts = sa.select(VERSION.c.id).where(VERSION.c.status == "draft")
    for child in ("seeded_bug", "decoy"):
        rows = sa.table(child, sa.column("version_id", sa.Integer))
        op.execute(rows.delete().where(rows.c.version_id.in_(drafts)))
    op.execute(VERSION.delete().where(VERSION.c.status == "draft"))
    with op.batch_alter_table("assessment_version") as batch:
        batch.drop_column("draft_id")
        batch.drop_column("status")
