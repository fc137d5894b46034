"""Erasing a candidate: every row about them goes, others stay, the audit trail keeps one
pseudonymous event and never held their name; from the command line and the admin page."""

from __future__ import annotations

import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.db import Base, get_sessionmaker
from app.invites import erasure
from app.invites import service as invite_service
from app.invites.models import Invite
from app.reviews import decisions
from app.users.models import Role
from tests.web.factories import (
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
    sign_in,
    unique,
)

NAME = "Erin Erasable"


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _graded(session: Session, name: str = NAME) -> tuple[int, str]:
    """A submitted, auto-scored and finalized review; its invite id and candidate e-mail."""
    email = f"{unique('erase')}@example.com"
    grader = make_user(session, role=Role.grader)
    submission = make_submission(
        session, comments=["The cache key ignores the model.", "Retry dupes."],
        candidate_name=name,
    )  # fmt: skip
    submission.invite.candidate_email = email
    make_auto_score(session, submission, score_dict(matches=[], red_flags=[]))
    decisions.finalize(session, submission.id, grader, version=0)
    session.flush()
    return submission.invite_id, email


def test_erase_removes_every_row_about_the_candidate_and_nothing_else(session: Session) -> None:
    keep_id, _ = _graded(session, name="Kept Candidate")
    before = _counts(session)
    invite_id, email = _graded(session)
    added = {t: n - before[t] for t, n in _counts(session).items() if n != before[t]}
    assert {t for t in added if t != "audit_event"} >= {
        "invite", "submission", "review_comment", "auto_score", "grade_decision",
    }  # fmt: skip
    expected = {t: n for t, n in added.items() if t not in {"audit_event", "user"}}
    assert erasure.rows_to_erase(session, invite_id) == dict(sorted(expected.items()))

    erased = erasure.erase_candidate(session, invite_id, actor="test")
    assert erased.rows == dict(sorted(expected.items()))
    after = _counts(session)
    for table, count in after.items():
        if table == "audit_event":
            assert count == before[table] + added[table] + 1  # nothing removed, one added
        elif table == "user":
            assert count == before[table] + added[table]  # the grader stays
        else:
            assert count == before[table], table
    assert session.get(Invite, keep_id) is not None
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "candidate.erased")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and (event.subject_type, event.subject_id) == (
        "invite",
        str(invite_id),
    )
    trail = " ".join(
        f"{e.before} {e.after} {e.actor_label}" for e in session.scalars(select(AuditEvent))
    )
    assert NAME not in trail and email not in trail


def test_erasing_twice_says_it_is_gone(session: Session) -> None:
    invite_id, _ = _graded(session)
    erasure.erase_candidate(session, invite_id, actor="test")
    try:
        erasure.erase_candidate(session, invite_id, actor="test")
    except erasure.CandidateNotFound:
        pass
    else:
        raise AssertionError("a second erase must say the invite is gone")


def _redline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_erases_by_invite_and_by_address(engine: Engine) -> None:
    with get_sessionmaker().begin() as session:
        first, email = _graded(session)
        second = invite_service.create_invite(
            session, assessment="docs-rag", candidate_name=NAME, candidate_email=email.upper()
        ).invite.id
        third, _ = _graded(session, name="Other Person")
    by_id = _redline("candidate", "erase", "--invite", str(third))
    assert by_id.returncode == 0, by_id.stderr
    assert by_id.stdout.startswith(f"invite {third}: erased (")
    by_address = _redline("candidate", "erase", "--email", email)
    assert by_address.returncode == 0, by_address.stderr
    assert [line.split(":")[0] for line in by_address.stdout.splitlines()] == [
        f"invite {first}",
        f"invite {second}",
    ]
    with get_sessionmaker()() as session:
        assert (
            session.scalars(select(Invite.id).where(Invite.id.in_([first, second, third]))).all()
            == []
        )
    again = _redline("candidate", "erase", "--invite", str(first))
    assert (again.returncode, again.stderr) == (
        1,
        f"error: no invite {first} (it may have been erased already)\n",
    )
    nobody = _redline("candidate", "erase", "--email", email)
    assert (nobody.returncode, nobody.stderr) == (1, f"error: no invite was sent to {email}\n")


def test_admin_page_shows_what_goes_then_erases(client: TestClient, session: Session) -> None:
    invite_id, email = _graded(session)
    admin = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, admin)
    listing = client.get("/staff/invites")
    assert f'href="/staff/invites/{invite_id}/erase"' in listing.text
    page = client.get(f"/staff/invites/{invite_id}/erase")
    assert page.status_code == 200
    assert "<td>review_comment</td><td>2</td>" in page.text
    done = client.post(
        f"/staff/invites/{invite_id}/erase", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, "/staff/invites")
    assert session.get(Invite, invite_id) is None
    assert email not in client.get("/staff/invites").text
    gone = client.post(f"/staff/invites/{invite_id}/erase", data={"csrf_token": csrf})
    assert gone.status_code == 404


def test_graders_cannot_erase(client: TestClient, session: Session) -> None:
    invite_id, _ = _graded(session)
    csrf = sign_in(client, session, make_user(session, role=Role.grader))
    assert "/erase" not in client.get("/staff/invites").text
    refused = client.post(f"/staff/invites/{invite_id}/erase", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert session.get(Invite, invite_id) is not None
