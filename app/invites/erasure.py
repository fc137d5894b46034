"""Erase a candidate: their invite, submission, comments, scores and grading decisions.

Rows are found through the schema's foreign keys rather than a hand-kept list, so a table
added later that points at an invite or a submission is erased too. The audit trail cannot
be changed (the database refuses it), so it never holds who a candidate is: its events name
invites and submissions by id only, and the names and e-mail addresses live on the invite
row, which is erased here. What remains is one pseudonymous event saying that invite N was
erased, by whom, and how many rows went.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, delete, func, or_, select
from sqlalchemy.orm import Session

import app.models  # noqa: F401 -- the whole schema, so that every dependent table is found
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.db import Base, utcnow
from app.invites.models import Invite
from app.users.models import User


class CandidateNotFound(LookupError):
    """No invite has that id (it may already have been erased)."""


@dataclass(frozen=True)
class Erasure:
    """What was erased: rows per table, and the audit event that records it."""

    invite_id: int
    rows: dict[str, int]
    event: AuditEvent


def _rows_to_erase(session: Session, invite_id: int) -> dict[Table, list[ColumnElement[bool]]]:
    """For the invite and every table that depends on it, conditions that pick its rows."""
    invite_table = Invite.__table__
    assert isinstance(invite_table, Table)
    ids: dict[Table, set[object]] = {invite_table: {invite_id}}
    found: dict[Table, list[ColumnElement[bool]]] = {invite_table: [invite_table.c.id == invite_id]}
    # sorted_tables puts every table after the tables it refers to, so one pass reaches the
    # whole tree: invite -> submission -> auto_score -> score_match, and so on.
    for table in Base.metadata.sorted_tables:
        if table is invite_table or table.name == AuditEvent.__tablename__:
            continue
        conditions = [
            fk.parent.in_(ids[fk.column.table])
            for fk in table.foreign_keys
            if isinstance(fk.column.table, Table) and ids.get(fk.column.table)
        ]
        if not conditions:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) == 1:
            rows = set(session.scalars(select(keys[0]).where(or_(*conditions))).all())
            if rows:
                ids[table] = rows
                found[table] = [keys[0].in_(rows)]
        elif session.scalar(select(func.count()).select_from(table).where(or_(*conditions))):
            found[table] = [or_(*conditions)]
    return found


def _count(session: Session, table: Table, conditions: list[ColumnElement[bool]]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(or_(*conditions))) or 0)


def rows_to_erase(session: Session, invite_id: int) -> dict[str, int]:
    """How many rows of each table erasing this invite's candidate would delete."""
    found = _rows_to_erase(session, invite_id)
    return {
        table.name: _count(session, table, where)
        for table, where in sorted(found.items(), key=lambda item: item[0].name)
    }


def erase_candidate(session: Session, invite_id: int, *, actor: User | str) -> Erasure:
    """Delete everything about the candidate of one invite; keep a pseudonymous audit event."""
    invite = session.get(Invite, invite_id)
    if invite is None:
        raise CandidateNotFound(invite_id)
    session.flush()
    found = _rows_to_erase(session, invite_id)
    rows: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        if table in found:
            rows[table.name] = _count(session, table, found[table])
            session.execute(delete(table).where(or_(*found[table])))
    session.expire_all()  # objects loaded before the deletes must be read afresh
    event = audit_service.record(
        session,
        actor,
        "invite",
        invite_id,
        "candidate.erased",
        None,
        {"erased_at": utcnow(), "rows": dict(sorted(rows.items()))},
    )
    return Erasure(invite_id=invite_id, rows=dict(sorted(rows.items())), event=event)
