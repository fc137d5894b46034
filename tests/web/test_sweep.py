"""Overdue drafts are closed by the app's background sweep, never by a page that lists them."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import db, sweep
from app.db import get_session, utcnow
from app.main import create_app
from app.scoring import service as scoring_service
from app.submissions import service as submission_service
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import Role
from tests.web.factories import make_draft, make_submission, make_user, sign_in

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def overdue(session: Session, monkeypatch: pytest.MonkeyPatch) -> Submission:
    """A draft started three hours ago and never submitted (its grading is not under test)."""
    monkeypatch.setattr(scoring_service, "score_submission_safely", lambda s, sub: None)
    return make_draft(session, started_at=utcnow() - timedelta(hours=3))


@pytest.fixture
def writes(session: Session) -> Iterator[list[str]]:
    """Every INSERT, UPDATE or DELETE sent on the test's connection from now on."""
    seen: list[str] = []
    connection = session.connection()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    yield seen
    event.remove(connection, "before_cursor_execute", record)


@pytest.mark.parametrize("listing", ["/staff/queue", "/staff/invites"])
def test_listing_pages_write_nothing(
    client: TestClient,
    session: Session,
    overdue: Submission,
    writes: list[str],
    listing: str,
) -> None:
    make_submission(session, comments=["A submitted review, so the queue has a row."])
    sign_in(client, session, make_user(session, role=Role.grader))
    # Signing in wrote its session; what the page itself sends is what counts.
    writes.clear()
    page = client.get(listing)
    assert page.status_code == 200
    assert writes == []
    session.refresh(overdue)
    assert overdue.status is SubmissionStatus.in_progress


def test_the_recorder_sees_a_write(session: Session, writes: list[str]) -> None:
    # Without this, an event hook that heard nothing would pass the test above.
    make_user(session, role=Role.grader)
    assert any(w.lstrip().upper().startswith("INSERT") for w in writes)


def _invite_row(client: TestClient, invite_id: int) -> str:
    """The row of one invite on the invites page (an admin sees its erase link in any state)."""
    rows = client.get("/staff/invites").text.split("<tr")[1:]
    return next(r for r in rows if f'href="/staff/invites/{invite_id}/erase"' in r)


def test_the_sweep_submits_an_overdue_draft_and_the_queue_lists_it(
    client: TestClient, session: Session, overdue: Submission
) -> None:
    sign_in(client, session, make_user(session, role=Role.admin))
    link = f'href="/staff/submissions/{overdue.id}"'
    assert link not in client.get("/staff/queue?status=all").text
    assert "<td>started</td>" in _invite_row(client, overdue.invite_id)

    sweep.sweep_once(session)

    session.refresh(overdue)
    assert overdue.status is SubmissionStatus.auto_submitted
    assert overdue.submitted_at == overdue.deadline_at
    assert link in client.get("/staff/queue?status=all").text
    # Submitted and not yet graded, the invite hides who wrote it.
    row = _invite_row(client, overdue.invite_id)
    assert row.startswith(' class="blind">') and "<td>submitted</td>" in row
    # A second sweep finds nothing left to close.
    assert submission_service.close_overdue(session) == []


def test_a_draft_inside_its_grace_period_is_left_open(session: Session) -> None:
    draft = make_draft(session)
    minutes = draft.deadline_at - draft.started_at
    # The deadline passed a moment ago; the grace period has not.
    draft.started_at -= minutes + timedelta(seconds=5)
    draft.deadline_at -= minutes + timedelta(seconds=5)
    session.flush()
    sweep.sweep_once(session)
    session.refresh(draft)
    assert draft.status is SubmissionStatus.in_progress


def test_the_thread_sweeps_only_when_a_draft_is_due(
    session: Session, overdue: Submission, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread's own sessions, here the test's, so nothing outlives the test.
    opened: list[bool] = []

    def sessions() -> Any:
        opened.append(db.write_intent.get())
        return contextlib.nullcontext(session)

    monkeypatch.setattr(db, "get_sessionmaker", lambda: sessions)
    sweep._sweep()
    session.refresh(overdue)
    assert overdue.status is SubmissionStatus.auto_submitted
    # A read to find it, then the close, which takes SQLite's write lock up front.
    assert opened == [False, True]
    assert db.write_intent.get() is False

    opened.clear()
    sweep._sweep()
    assert opened == [False]


def test_the_app_sweeps_from_start_up_until_shutdown(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(sweep, "ENABLED", True)
    monkeypatch.setattr(sweep, "INTERVAL_SECONDS", 0.02)
    monkeypatch.setattr(sweep, "_sweep", lambda: calls.append(time.monotonic()))
    app = create_app()
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app):
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 3
        assert any(t.name == "overdue-sweep" for t in threading.enumerate())
    assert not any(t.name == "overdue-sweep" for t in threading.enumerate())
    stopped = len(calls)
    time.sleep(0.1)
    assert len(calls) == stopped


def test_a_failing_sweep_is_logged_once_and_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        if len(calls) >= 4:
            stop.set()
        raise RuntimeError("database is down")

    stop = threading.Event()
    monkeypatch.setattr(sweep, "INTERVAL_SECONDS", 0.01)
    monkeypatch.setattr(sweep, "_sweep", fail)
    with caplog.at_level("ERROR", logger="app.sweep"):
        sweep._run(stop)
    assert len(calls) == 4
    assert [r.getMessage() for r in caplog.records] == [
        "closing overdue drafts failed; retrying every few seconds"
    ]
