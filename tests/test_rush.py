"""A short deadline rush against a real `redline serve` with two workers: every candidate
opens, starts, autosaves and submits while graders work the queue and staff sign in; no
request fails, no acknowledged save or submission is lost, and no invite token reaches the
server's log. On SQLite, and on PostgreSQL when the suite runs there (in a database of its
own on the same server)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.settings import PROJECT_ROOT
from tests.conftest import TEST_DATABASE_URL

RUSH = [
    sys.executable,
    str(PROJECT_ROOT / "benchmarks" / "load.py"),
    "--candidates",
    "40",
    "--arrival",
    "2",
    "--duration",
    "10",
    "--save-every",
    "3",
    "--workers",
    "2",
    "--cold",
]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new, empty database for the rush: an SQLite file, or a PostgreSQL database."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield ""  # the benchmark makes its own SQLite file
        return
    name = f"redline_rush_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_deadline_rush_loses_nothing_and_fails_no_request(database_url: str) -> None:
    command = [*RUSH, "--database-url", database_url] if database_url else RUSH
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "lost or changed: 0" in output
    assert re.search(
        r"verified: (3\d|40) candidates' last acknowledged saves, 40 submissions", output
    )
    assert "RESULT: ok" in output
