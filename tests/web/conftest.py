"""Fixtures for tests of the web app: a migrated database, per-test rollback, clients, a live
server and a headless browser."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, text
from sqlalchemy.orm import Session

from app import migrate, sweep, warm
from app.authoring import upload
from app.db import get_engine, get_session
from app.main import create_app
from app.scoring import service as scoring_service
from app.settings import PROJECT_ROOT, get_settings
from app.users.models import Role
from tests.conftest import TEST_DATABASE_URL
from tests.web.factories import FakeGrader, make_user, sign_in

# The app shares each test's uncommitted session, which a grading thread could not see: tests
# in this process grade in the request, as the command-line tools do, and close overdue
# drafts by calling the sweep themselves. Nor does a started assessment train the real grader
# in the background: the tests that grade for real train it when they need it.
scoring_service.BACKGROUND_GRADING = False
scoring_service.WARM_UP_ENABLED = False
sweep.ENABLED = False
# Nor does each test's app get ready for a rush it will not see (`tests/web/test_warm.py`).
warm.ENABLED = False

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _empty_database(engine: Engine) -> None:
    """Drop everything, including Alembic's version table, so migrations start from zero."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            reflected = MetaData()
            reflected.reflect(connection)
            reflected.drop_all(connection)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The test database, emptied and migrated to head once per run, with content loaded."""
    engine = get_engine()
    _empty_database(engine)
    migrate.upgrade(TEST_DATABASE_URL)
    from app.assessments.service import sync_content
    from app.db import get_sessionmaker

    with get_sessionmaker().begin() as session:
        sync_content(session, PROJECT_ROOT / "assessments", PROJECT_ROOT / "seeded_bugs")
    yield engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, even what the app committed."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def fake_grader(monkeypatch: pytest.MonkeyPatch) -> FakeGrader:
    """An instant grader in place of the default one, for requests and the live server alike
    (it runs in this process)."""
    fake = FakeGrader()
    monkeypatch.setattr(scoring_service, "default_grader", lambda: fake)
    return fake


@pytest.fixture
def client(session: Session) -> Iterator[TestClient]:
    """A test client whose requests share the test's session."""
    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def author_csrf(client: TestClient, session: Session) -> str:
    """Sign `client` in as a new author; the CSRF token its forms need."""
    return sign_in(client, session, make_user(session, role=Role.author))


@pytest.fixture
def content(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Empty content folders of this test's own in place of the shipped ones, so publishing
    from the browser writes there and not into the project; drafts the test leaves behind
    are removed with it (the database rolls back, the data directory does not)."""
    settings = get_settings()
    for name in ("assessments", "seeded_bugs"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(settings, "assessments_dir", tmp_path / "assessments")
    monkeypatch.setattr(settings, "seeded_bugs_dir", tmp_path / "seeded_bugs")
    drafts = upload.drafts_dir(settings.data_dir)
    before = set(drafts.iterdir()) if drafts.is_dir() else set()
    yield tmp_path
    for left in (set(drafts.iterdir()) if drafts.is_dir() else set()) - before:
        shutil.rmtree(left, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(engine: Engine) -> Iterator[str]:
    """The real app served over HTTP on loopback, on the migrated test database.

    Unlike `client`, its writes are committed: browser tests create their own rows and
    assert only on those.
    """
    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page per test (no shared cookies or storage)."""
    context = browser.new_context(viewport={"width": 1366, "height": 800})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
