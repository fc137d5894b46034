"""The one writer of the append-only audit trail, and its readers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.users.models import User

SYSTEM_ACTOR = "system"


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # Round-trip through JSON so that dates, enums and decimals are stored as the text a
    # reader sees, and a later change to the caller's dict cannot alter the stored event.
    if value is None:
        return None
    return dict(json.loads(json.dumps(dict(value), default=str, sort_keys=True)))


def record(
    session: Session,
    actor: User | str | None,
    subject_type: str,
    subject_id: int | str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditEvent:
    """Append one event: who (a user, or a label such as "cli"), what, and the state around it."""
    if isinstance(actor, User):
        actor_id: int | None = actor.id
        label = actor.email
    else:
        actor_id, label = None, actor or SYSTEM_ACTOR
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=label,
        subject_type=subject_type,
        subject_id=str(subject_id),
        action=action,
        before=_plain(before),
        after=_plain(after),
    )
    session.add(event)
    session.flush()
    return event


def list_events(session: Session, subject_type: str, subject_id: int | str) -> list[AuditEvent]:
    """Every event about one thing, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id)
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def list_recent(session: Session, subject_type: str, *, limit: int = 50) -> list[AuditEvent]:
    """The newest events about one kind of thing, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == subject_type)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
