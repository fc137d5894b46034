"""audit events of created invites no longer name the candidate

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 04:10:00

An erased candidate must leave nothing identifying behind, and the audit trail cannot be
changed by the application (append-only triggers). Since this revision the application no
longer writes a candidate's name or address into it; this migration removes them from the
`invite.created` events written before, lifting the guard for that one statement only. The
names stay on the invite rows, where erasing a candidate removes them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITY = ("candidate_name", "candidate_email")
AUDIT = sa.table(
    "audit_event",
    sa.column("id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("after", sa.JSON),
)


def _set_guard(on: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The trigger function stays; only the trigger that calls it is lifted.
        op.execute(
            "ALTER TABLE audit_event "
            + ("ENABLE" if on else "DISABLE")
            + " TRIGGER audit_event_no_update"
        )
    elif on:
        op.execute(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(AUDIT.c.id, AUDIT.c.after).where(AUDIT.c.action == "invite.created")
    ).all()
    scrubbed = []
    for event_id, after in rows:
        if isinstance(after, dict) and any(key in after for key in IDENTITY):
            kept = {k: v for k, v in after.items() if k not in IDENTITY}
            kept["named"] = after.get("candidate_name") is not None
            kept["emailed"] = after.get("candidate_email") is not None
            scrubbed.append((event_id, kept))
    if not scrubbed:
        return
    _set_guard(False)
    for event_id, kept in scrubbed:
        bind.execute(AUDIT.update().where(AUDIT.c.id == event_id).values(after=kept))
    _set_guard(True)


def downgrade() -> None:
    # Nothing to undo: the removed names and addresses are still on the invite rows (or were
    # erased with them), and the trail must not be made to identify anyone again.
    pass
