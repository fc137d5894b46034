"""How a review grew: saved drafts are kept (bounded) and shown to the grader as a timeline."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.submissions import composition
from app.submissions import service as submissions
from app.submissions.models import DraftRevision, Submission, SubmissionStatus
from app.submissions.service import Draft, DraftComment
from app.users.models import Role
from tests.web.factories import (
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
    sign_in,
)

TYPED = "The cache key ignores the model"
PASTED = "Retrying after the first streamed delta re-sends the request. " * 6


def _save(
    session: Session,
    submission: Submission,
    comments: list[tuple[str, str]],
    summary: str,
    minute: float,
) -> Submission:
    draft = Draft(
        comments=[
            DraftComment(body=body, client_id=cid, file="client.py", line=72)
            for cid, body in comments
        ],
        summary=summary,
    )
    return submissions.save_draft(
        session,
        submission,
        draft,
        base_revision=submission.draft_revision,
        now=submission.started_at + timedelta(minutes=minute),
    )


def test_the_timeline_shows_when_comments_appeared_grew_and_were_pasted(
    client: TestClient, session: Session
) -> None:
    submission = make_submission(session, status=SubmissionStatus.in_progress)
    _save(session, submission, [("a", TYPED[:10])], "", 2.0)
    _save(session, submission, [("a", TYPED)], "", 3.0)
    # A new comment arrives whole from the comment box: no sign of how it was written.
    _save(session, submission, [("a", TYPED), ("b", PASTED)], "", 10.0)
    # 360 characters more in a saved comment, within one autosave: pasted.
    _save(session, submission, [("b", PASTED), ("a", TYPED + PASTED)], "Fix it.", 12.0)
    _save(session, submission, [("a", TYPED + PASTED)], "Fix it.", 12.1)  # "b" deleted
    growth = composition.timeline(session, submission)
    assert [(g.label, g.appeared, g.points, g.kept) for g in growth] == [
        ("Comment 1", 2.0, [(2.0, 10), (3.0, len(TYPED)), (12.0, len(TYPED + PASTED))], True),
        ("Summary", 12.0, [(12.0, 7)], True),
        ("A deleted comment", 10.0, [(10.0, len(PASTED))], False),
    ]
    assert [(at, chars, text) for at, chars, text in growth[0].pastes] == [
        (12.0, len(PASTED), PASTED[:300])
    ]
    assert growth[2].pastes == []

    submission.status = SubmissionStatus.submitted
    submission.submitted_at = submission.started_at + timedelta(minutes=13)
    make_auto_score(
        session, submission, score_dict(matches=[], red_flags=[], near_misses=[], comments=[])
    )
    sign_in(client, session, make_user(session, role=Role.grader))
    response = client.get(f"/staff/submissions/{submission.id}")
    assert response.status_code == 200, response.text[:500]
    page = response.text
    assert f"pasted {len(PASTED)} characters at 12.0 min" in page
    assert 'id="growth"' in page and "A deleted comment" in page


def test_saves_seconds_apart_share_a_row_and_the_count_is_bounded(session: Session) -> None:
    submission = make_submission(session, status=SubmissionStatus.in_progress)
    for i in range(30):  # a save every 2 s for a minute, typing a character each time
        _save(session, submission, [("a", "x" * (i + 1))], "", 1 + i / 30)
    rows = session.scalar(select(func.count()).where(DraftRevision.submission_id == submission.id))
    assert rows == 3  # one row per 20 seconds of steady typing
    assert composition.timeline(session, submission)[0].chars == 30
