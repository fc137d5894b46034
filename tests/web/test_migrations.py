"""Migrations run up, down and up again on an empty database, and agree with the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    column,
    create_engine,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import migrate
from app.db import Base, make_engine
from tests.conftest import TEST_DATABASE_URL

AUDIT = table(
    "audit_event",
    column("id", Integer),
    column("at", DateTime),
    column("actor_label", String),
    column("subject_type", String),
    column("subject_id", String),
    column("action", String),
    column("after", JSON),
)


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    """An empty database of the same kind as the test database, dropped afterwards."""
    url = make_url(TEST_DATABASE_URL)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    name = f"redline_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_and_models_match(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    assert _tables(scratch_url) == set(Base.metadata.tables)
    command.check(migrate.alembic_config(scratch_url))  # raises if models and migrations differ

    migrate.downgrade(scratch_url, "base")
    assert _tables(scratch_url) == set()

    migrate.upgrade(scratch_url)
    assert _tables(scratch_url) == set(Base.metadata.tables)
    engine = make_engine(scratch_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_audit_events_cannot_be_changed_or_deleted(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_event (at, actor_label, subject_type, subject_id, action) "
                    "VALUES (CURRENT_TIMESTAMP, 'test', 'submission', '1', 'created')"
                )
            )
        for statement in ("UPDATE audit_event SET action = 'forged'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT action FROM audit_event")).scalars().all() == [
                "created"
            ]
    finally:
        engine.dispose()


def test_old_invite_events_lose_the_candidates_identity(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, "0003")
    engine = make_engine(scratch_url)
    old = {
        "assessment": "docs-rag",
        "candidate_name": "Old Name",
        "candidate_email": "old@example.com",
        "expires_at": "2026-12-31",
    }
    try:
        with engine.begin() as connection:
            for subject, after in (("1", old), ("2", {**old, "candidate_email": None})):
                connection.execute(
                    AUDIT.insert().values(
                        at=datetime(2026, 12, 1, tzinfo=UTC),
                        actor_label="cli",
                        subject_type="invite",
                        subject_id=subject,
                        action="invite.created",
                        after=after,
                    )
                )
        migrate.upgrade(scratch_url)
        with engine.connect() as connection:
            rows = connection.execute(select(AUDIT.c.after).order_by(AUDIT.c.id)).scalars().all()
        assert rows == [
            {"assessment": "docs-rag", "expires_at": "2026-12-31", "named": True, "emailed": True},
            {"assessment": "docs-rag", "expires_at": "2026-12-31", "named": True, "emailed": False},
        ]
        # The trail is append-only again.
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("UPDATE audit_event SET action = 'forged'"))
    finally:
        engine.dispose()


def test_versions_get_the_status_they_implied_before_0006(scratch_url: str) -> None:
    migrate.upgrade(scratch_url, "0005")
    engine = make_engine(scratch_url)
    made = "'2026-12-01 00:00:00'"
    version = (
        "INSERT INTO assessment_version (id, assessment_id, number, content_digest, title, "
        "language, time_limit_minutes, brief, files, rubric, created_at) VALUES "
        "({id}, {assessment}, {number}, 'd', 't', 'python', 60, 'b', '[]', '{{}}', " + made + ")"
    )
    try:
        with engine.begin() as connection:
            for id_, slug, active in ((1, "live", True), (2, "withdrawn", False)):
                connection.execute(
                    text(
                        "INSERT INTO assessment (id, slug, title, is_active, created_at) "
                        f"VALUES ({id_}, '{slug}', '{slug}', :active, {made})"
                    ),
                    {"active": active},
                )
            for id_, assessment, number in ((1, 1, 1), (2, 1, 2), (3, 2, 1)):
                connection.execute(
                    text(version.format(id=id_, assessment=assessment, number=number))
                )
        migrate.upgrade(scratch_url)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, status, draft_id FROM assessment_version ORDER BY id")
            ).all()
        # The newest version of an active assessment was the one candidates took.
        assert [tuple(r) for r in rows] == [
            (1, "retired", None),
            (2, "published", None),
            (3, "retired", None),
        ]
        with engine.begin() as connection:
            connection.execute(text("UPDATE assessment_version SET status = 'draft' WHERE id = 2"))
        migrate.downgrade(scratch_url, "0005")
        with engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM assessment_version ORDER BY id"))
            assert ids.scalars().all() == [1, 3]  # a draft was no version before 0006
    finally:
        engine.dispose()
