"""Re-scoring past submissions when a key changes: the preview lists exactly what changes,
applying re-scores only what no grader finalized, with audit events."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.models import VersionStatus
from app.audit.models import AuditEvent
from app.authoring import rescore
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring import service as scoring_service
from app.scoring.models import AutoScore
from app.submissions.models import Submission
from app.users.models import Role
from tests.web.factories import (
    assessment_version,
    copy_version,
    make_submission,
    make_user,
    sign_in,
)

CACHE = {
    "file": "client.py",
    "line": 72,
    "end_line": 74,
    "severity": "critical",
    "body": "The cache key only hashes the messages, so a gw-large request gets the cached "
    "gw-small answer.",
}
RETRY = {
    "file": "client.py",
    "line": 150,
    "severity": "major",
    "body": "A retry after a partial stream re-yields tokens: the customer sees the beginning "
    "of the answer twice.",
}
NOTHING = {"file": "client.py", "line": 10, "body": "Nice module docstring."}


def _graded(session: Session, slug: str, *comments: dict[str, object]) -> Submission:
    submission = make_submission(session, assessment=slug, comments=list(comments))
    scoring_service.score_submission(session, submission)
    return submission


def test_preview_lists_exactly_the_changed_scores_and_apply_leaves_final_grades(
    client: TestClient, session: Session
) -> None:
    author = make_user(session, role=Role.author)
    csrf = sign_in(client, session, author)
    v1 = copy_version(session, assessment_version(session))
    slug = v1.assessment.slug
    finds_cache = _graded(session, slug, CACHE)
    finds_retry = _graded(session, slug, RETRY)
    finds_nothing = _graded(session, slug, NOTHING)
    finalized = _graded(session, slug, CACHE, RETRY)
    session.add(
        GradeDecision(
            submission_id=finalized.id, status=DecisionStatus.final, total=77.0, dimensions={}
        )
    )
    for s in (finds_cache, finds_retry, finalized):
        assert scoring_service.latest_score(session, s).matches  # type: ignore[union-attr]
    assert not scoring_service.latest_score(session, finds_nothing).matches  # type: ignore[union-attr]
    v2 = copy_version(session, v1, same_assessment=True, subtle=["cache-key-ignores-params"])

    result = rescore.preview(session, v2)
    # A subtle bug weighs twice: detection changes for every review that found a bug, and
    # for no review that found none.
    assert result.checked == 4
    assert {r.submission_id for r in result.rows} == {finds_cache.id, finds_retry.id, finalized.id}
    rows = {r.submission_id: r for r in result.rows}
    assert (
        rows[finds_cache.id].new_dimensions["detection"]
        > rows[finds_cache.id].old_dimensions["detection"]
    )
    assert (
        rows[finds_retry.id].new_dimensions["detection"]
        < rows[finds_retry.id].old_dimensions["detection"]
    )
    assert [r.submission_id for r in result.would_differ] == [finalized.id]

    base = f"/staff/assessments/{slug}/versions/2/rescore"
    page = client.get(base + "?sort=submission")
    assert page.status_code == 200
    assert f'id="rescore-{finds_cache.id}" class="open"' in page.text
    assert f'id="rescore-{finalized.id}" class="final"' in page.text
    assert f'id="rescore-{finds_nothing.id}"' not in page.text
    assert page.text.index(f"rescore-{finds_cache.id}") < page.text.index(
        f"rescore-{finds_retry.id}"
    )
    assert client.get(f"/staff/assessments/{slug}/versions/1/rescore").status_code == 200

    refused = client.post(base, data={"csrf_token": csrf})
    assert refused.status_code == 422
    # A draft key can be previewed against past reviews, but nothing moves onto a draft.
    v2.status = VersionStatus.draft
    session.flush()
    draft_page = client.get(base).text
    assert 'id="rescore-draft"' in draft_page and 'id="rescore-form"' not in draft_page
    assert client.post(base, data={"csrf_token": csrf, "confirm": "yes"}).status_code == 409
    v2.status = VersionStatus.published
    session.flush()
    before_final = [
        a.id
        for a in session.scalars(select(AutoScore).where(AutoScore.submission_id == finalized.id))
    ]
    done = client.post(base, data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?applied=2")
    for s in (finds_cache, finds_retry):
        session.refresh(s)
        assert s.version_id == v2.id
        assert scoring_service.latest_score(session, s).total == rows[s.id].new_total  # type: ignore[union-attr]
    session.refresh(finalized)
    session.refresh(finds_nothing)
    assert finalized.version_id == v1.id and finds_nothing.version_id == v1.id
    after_final = [
        a.id
        for a in session.scalars(select(AutoScore).where(AutoScore.submission_id == finalized.id))
    ]
    assert after_final == before_final
    decision = session.scalars(
        select(GradeDecision).where(GradeDecision.submission_id == finalized.id)
    ).one()
    assert decision.total == 77.0 and decision.status == DecisionStatus.final
    actions = [
        e.action
        for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("%rescored")))
        if e.subject_id in (finds_cache.public_id, finds_retry.public_id, slug)
    ]
    assert sorted(actions) == ["assessment.rescored", "auto_score.rescored", "auto_score.rescored"]
    # Nothing is left to re-score against this key.
    assert [r.submission_id for r in rescore.preview(session, v2).rows] == [finalized.id]


def test_versions_with_other_code_are_left_out(session: Session) -> None:
    v1 = copy_version(session, assessment_version(session))
    v2 = copy_version(session, v1, same_assessment=True, subtle=["cache-key-ignores-params"])
    v2.files = [{"name": "client.py", "text": "print('other code')\n"}]
    session.flush()
    result = rescore.preview(session, v2)
    assert not result.applicable
    assert "Versions 1 showed candidates other code" in result.reason
    first = rescore.preview(session, v1)
    assert not first.applicable and "first version" in first.reason
