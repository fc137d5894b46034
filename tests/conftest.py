"""Test-wide configuration: which database the tests use, and a private data directory.

Set REDLINE_TEST_DATABASE_URL to run the suite against PostgreSQL; by default it runs on a
fresh SQLite file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
