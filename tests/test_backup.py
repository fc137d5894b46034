"""`redline backup` and `redline restore` round-trip the whole database, on SQLite always and
on PostgreSQL when the suite runs there (a scratch database beside the test database)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL

REDLINE = [sys.executable, "-m", "app.cli"]


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    env["REDLINE_DATA_DIR"] = str(tmp_path / "data")
    env["REDLINE_DATABASE_URL"] = url
    return env


def _redline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REDLINE, *args], env=env, capture_output=True, text=True, timeout=180)


def _ok(env: dict[str, str], *args: str) -> str:
    result = _redline(env, *args)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def _names(url: str) -> list[str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT candidate_name FROM invite ORDER BY id"))
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def _round_trip(tmp_path: Path, url: str) -> None:
    env = _env(tmp_path, url)
    _ok(env, "db", "upgrade")
    _ok(env, "content", "sync")
    _ok(env, "invite", "create", "--assessment", "docs-rag", "--name", "Before Backup")
    saved = tmp_path / "backups" / "redline.backup"
    assert _ok(env, "backup", str(saved)).startswith(f"backed up to {saved} (")
    again = _redline(env, "backup", str(saved))
    assert (again.returncode, again.stderr) == (
        1,
        f"error: {saved} already exists; choose a new file name\n",
    )

    # Life goes on: a new invite, and the first candidate erased.
    _ok(env, "invite", "create", "--assessment", "docs-rag", "--name", "After Backup")
    _ok(env, "candidate", "erase", "--invite", "1")
    assert _names(url) == ["After Backup"]

    refused = _redline(env, "restore", str(saved))
    assert refused.returncode == 2 and "run again with --yes" in refused.stderr
    restored = _ok(env, "restore", "--yes", str(saved))
    assert restored.startswith(f"restored from {saved} (schema revision ")
    assert _names(url) == ["Before Backup"]
    # The restored database works: the audit trail is still append-only, commands run.
    _ok(env, "invite", "create", "--assessment", "docs-rag", "--name", "After Restore")
    assert _names(url) == ["Before Backup", "After Restore"]


def test_sqlite_backup_and_restore_round_trip(tmp_path: Path) -> None:
    _round_trip(tmp_path, f"sqlite:///{tmp_path / 'data' / 'redline.sqlite3'}")
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'data' / 'redline.sqlite3'}")
    with (
        closing(sqlite3.connect(tmp_path / "data" / "redline.sqlite3")) as db,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        db.execute("DELETE FROM audit_event")
    stranger = tmp_path / "not-redline.sqlite3"
    with closing(sqlite3.connect(stranger)) as db:
        db.execute("CREATE TABLE t (x)")
    for bad, message in (
        (stranger, f"error: {stranger} is an SQLite file but not a Redline database\n"),
        (tmp_path / "missing", f"error: there is no backup file at {tmp_path / 'missing'}\n"),
    ):
        result = _redline(env, "restore", "--yes", str(bad))
        assert (result.returncode, result.stderr) == (1, message)


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("runs when REDLINE_TEST_DATABASE_URL is a PostgreSQL database")
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_backup"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_postgresql_backup_and_restore_round_trip(tmp_path: Path, scratch_postgres: str) -> None:
    _round_trip(tmp_path, scratch_postgres)
