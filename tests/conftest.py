"""Test-wide configuration: which database the tests use, and a private data directory.

Set REDLINE_TEST_DATABASE_URL to run the suite against PostgreSQL; by default it runs on a
fresh SQLite file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_DATA_DIR = Path(tempfile.mkdtemp(prefix="redline-test-"))
TEST_DATABASE_URL = os.environ.get("REDLINE_TEST_DATABASE_URL") or (
    f"sqlite:///{_DATA_DIR / 'test.sqlite3'}"
)

# Before anything imports the app, so that every cached setting points at the test database.
os.environ["REDLINE_DATABASE_URL"] = TEST_DATABASE_URL
os.environ["REDLINE_DATA_DIR"] = str(_DATA_DIR)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SECRET_KEY", None)
os.environ.pop("REDLINE_SECRET_KEY", None)


@pytest.fixture(autouse=True)
def _no_unexpected_server_error(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A 500 is always a bug, even on a page a test only looks at for something else: any
    request the app answered with its unexpected-error page fails the test that made it.
    A test that provokes one on purpose says so with `@pytest.mark.server_error`."""
    yield
    if request.node.get_closest_marker("server_error"):
        return
    crashes = [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.name == "app.guard" and record.getMessage().startswith("unexpected error")
    ]
    assert crashes == [], f"the app answered 500 to: {crashes}"
