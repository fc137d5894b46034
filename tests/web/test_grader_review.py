"""Grading: the queue, the review page, decisions, recomputation, sign-off, conflicts, audit."""

from __future__ import annotations

import random
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.db import get_sessionmaker
from app.reviews import decisions, integrity, queue
from app.reviews import service as reviews
from app.reviews.models import GradeDecision
from app.submissions.models import Submission
from app.users.models import Role, User
from tests.web.factories import make_auto_score, make_submission, make_user, score_dict, sign_in

COMMENTS: list[dict[str, Any]] = [
    {
        "body": "The cache key only hashes the messages, so a gw-small answer is served for a "
        "gw-large request.",
        "file": "client.py",
        "line": 73,
        "severity": "critical",
    },
    {
        "body": "The retry loop wraps the yield: a mid-stream disconnect replays the response.",
        "file": "client.py",
        "line": 150,
        "severity": "major",
    },
    {
        "body": "Usage is recorded after the loop, not in a finally, so early exits lose it.",
        "file": "client.py",
        "line": 170,
    },
]
EVIDENCE = {
    "matches": [
        {
            "bug": "cache-key-ignores-params",
            "comment": 0,
            "words": ["cache key", "hashes", "messages"],
            "explanation": "comment 1 points at `client.py:73`, inside the bug's lines 72-74",
        }
    ]
}


def _graded(session: Session, **score: Any) -> Submission:
    submission = make_submission(
        session,
        comments=COMMENTS,
        summary="Fix the cache key first.",
        candidate_name="Grace Hopper",
    )
    make_auto_score(session, submission, score_dict(**score), evidence=EVIDENCE)
    return submission


@pytest.fixture
def grader(client: TestClient, session: Session) -> tuple[User, str]:
    """A signed-in grader and the CSRF token of their session."""
    user = make_user(session, role=Role.grader, name="Gia Grader")
    return user, sign_in(client, session, user)


def _api(client: TestClient, csrf: str, submission: Submission, **body: Any):
    return client.post(
        f"/api/staff/submissions/{submission.id}/decisions",
        json=body,
        headers={"X-CSRF-Token": csrf},
    )


def _actions(session: Session, submission: Submission) -> list[str]:
    return [e.action for e in audit.list_events(session, "submission", submission.public_id)]


def test_queue_puts_what_needs_a_human_first(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    calm = _graded(session, needs_review=False, red_flags=[], total=95.0)
    flagged = _graded(
        session,
        needs_review=True,
        total=62.0,
        red_flags=[
            {"kind": "rewrite", "comment": 0, "evidence": "rewrite"},
            {"kind": "no_questions", "comment": -1, "evidence": "no questions"},
        ],
    )
    unsure = _graded(session, needs_review=True, red_flags=[], total=58.0)
    borderline = _graded(session, needs_review=False, red_flags=[], total=61.0)
    # The grader's decision lines are 50 and 70: a total a point off one outranks the middle.
    edge = _graded(session, needs_review=False, red_flags=[], total=69.0)
    ours = {calm.id, flagged.id, unsure.id, borderline.id, edge.id}
    rows = {r.submission_id: r for r in queue.list_queue(session) if r.submission_id in ours}
    order = list(rows)
    assert order == [flagged.id, unsure.id, edge.id, borderline.id, calm.id]
    assert "near the line" in rows[borderline.id].reasons
    assert "near the line" not in rows[calm.id].reasons

    page = client.get("/staff/queue?assessment=llm-gateway-client")
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'href="/staff/submissions/(\d+)"', page.text)]
    assert [i for i in ids if i in ours] == order
    assert "Grace Hopper" not in page.text  # blind until final
    assert f"Candidate #{flagged.id}" in page.text
    assert "between the decision lines (50 and 70)" in page.text


def test_queue_filters_by_assessment_and_status(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    submission = _graded(session)
    other = make_submission(session, assessment="docs-rag", comments=["a"])
    make_auto_score(session, other, score_dict(matches=[], red_flags=[], near_misses=[]))
    gateway = {r.submission_id for r in queue.list_queue(session, assessment="llm-gateway-client")}
    assert submission.id in gateway and other.id not in gateway
    assert submission.id not in {r.submission_id for r in queue.list_queue(session, status="final")}
    _, csrf = grader
    _api(
        client,
        csrf,
        submission,
        version=0,
        action="override",
        dimension="tradeoffs",
        value=70,
        reason="weighs the retry cost",
    )
    assert submission.id in {r.submission_id for r in queue.list_queue(session, status="open")}
    assert submission.id not in {
        r.submission_id for r in queue.list_queue(session, status="pending")
    }
    assert client.get("/staff/queue?status=bogus").status_code == 200


def test_drafts_are_not_gradable(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    from app.submissions.models import SubmissionStatus

    draft = make_submission(session, comments=["x"], status=SubmissionStatus.in_progress)
    assert client.get(f"/staff/submissions/{draft.id}").status_code == 404
    assert draft.id not in {r.submission_id for r in queue.list_queue(session, status="all")}


def test_review_page_shows_the_evidence(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    submission = _graded(session, false_alarms=[{"decoy": "cache-hit-not-billed", "comment": 2}])
    page = client.get(f"/staff/submissions/{submission.id}").text
    assert "Count it as a find" in page  # the near miss can be turned into a match
    # Comments sit inline in the snippet, and the answer key is beside it.
    assert 'id="comment-0"' in page and 'class="inline-comment"' in page
    assert "Cache key ignores model, temperature and max_tokens" in page
    assert "limiter-sleeps-under-lock" in page  # a decoy
    assert "0.93" in page and "0.55" in page
    assert (
        "The <mark>cache key</mark> only <mark>hashes</mark> the <mark>messages</mark>, so" in page
    )
    # The engine's explanation is Markdown, rendered.
    assert "points at <code>client.py:73</code>, inside the bug's lines 72-74" in page
    assert "Near miss (misdiagnosed)" in page and "stream-usage-lost" in page
    assert "calls the decoy <code>cache-hit-not-billed</code>" in page
    assert "no comment asks how the client is used" in page
    assert "Grace Hopper" not in page
    for key in ("j", "k", "c", "r", "d", "a", "o", "f"):
        assert f"<kbd>{key}</kbd>" in page


def test_the_review_page_says_why_a_human_is_asked(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    """The engine's reasons for routing a review sit in the panel, each tied to the comment it
    is about, with the candidate's words beside the key's; a signed grade no longer asks."""
    submission = make_submission(session, comments=COMMENTS, summary="Streams hang on retry.")
    why = [
        "uncertain match: 'stream-retry-duplicates' found with best confidence 0.55",
        "comment 3 points at the lines of 'stream-usage-lost' but is not credited with finding "
        'it: "usage is logged <twice>"; the key says: "Streaming usage is recorded on success"',
        "the summary reports a symptom of the function holding 'stream-retry-duplicates' but is "
        'not credited with finding it: "Streams hang on retry."; the key says: "Retrying"',
    ]
    make_auto_score(
        session, submission, score_dict(), evidence={**EVIDENCE, "needs_review_because": why}
    )
    page = client.get(f"/staff/submissions/{submission.id}").text
    panel = page[page.index("Why a human is asked") :]
    assert "Uncertain match: &#39;stream-retry-duplicates&#39; found" in panel
    assert (
        '<a href="#comment-2">Comment 3</a> points at the lines of &#39;stream-usage-lost&#39;'
        in panel
    )
    assert "usage is logged &lt;twice&gt;" in panel  # the candidate's words, escaped
    assert '<a href="#comment-summary">Summary</a> reports a symptom of the function' in panel

    no_reasons = _graded(session)
    assert "Why a human is asked" not in client.get(f"/staff/submissions/{no_reasons.id}").text


def test_decisions_recompute_the_total(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = _graded(session)
    state = client.get(f"/api/staff/submissions/{submission.id}").json()
    assert (state["version"], state["total"], state["status"]) == (0, 61.25, "pending")

    state = _api(
        client,
        csrf,
        submission,
        version=0,
        action="match",
        bug="cache-key-ignores-params",
        comment=0,
        verdict="confirmed",
    ).json()
    assert (state["version"], state["total"]) == (1, 61.25)  # nothing changed in the score

    state = _api(
        client,
        csrf,
        submission,
        version=1,
        action="match",
        bug="stream-retry-duplicates",
        comment=1,
        verdict="rejected",
    ).json()
    assert state["dimensions"] == {
        "detection": 25.0,
        "severity": 75.0,
        "tradeoffs": 50.0,
        "tool_taste": 75.0,
    }
    assert state["sources"]["detection"] == "recomputed"
    assert state["total"] == 53.8

    state = _api(
        client,
        csrf,
        submission,
        version=2,
        action="match",
        bug="stream-usage-lost",
        comment=2,
        verdict="added",
    ).json()
    assert (state["dimensions"]["detection"], state["dimensions"]["severity"]) == (75.0, 100.0)
    assert state["total"] == 75.0

    state = _api(
        client,
        csrf,
        submission,
        version=3,
        action="override",
        dimension="tradeoffs",
        value=90,
        reason="Sequences the fixes by risk.",
    ).json()
    assert state["total"] == 85.0
    assert state["overrides"] == {
        "tradeoffs": {"value": 90.0, "reason": "Sequences the fixes by risk."}
    }
    # An override wins over recomputation.
    state = _api(
        client,
        csrf,
        submission,
        version=4,
        action="override",
        dimension="detection",
        value=10,
        reason="The finds are vague.",
    ).json()
    assert (state["dimensions"]["detection"], state["sources"]["detection"]) == (10.0, "override")
    state = _api(
        client, csrf, submission, version=5, action="override", dimension="detection", reason=""
    ).json()
    assert state["dimensions"]["detection"] == 75.0
    assert _actions(session, submission) == [
        "match.confirmed",
        "match.rejected",
        "match.added",
        "dimension.overridden",
        "dimension.overridden",
        "dimension.override_cleared",
    ]


def test_finalize_needs_every_decision_and_then_locks(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    user, csrf = grader
    submission = _graded(session)
    refused = _api(client, csrf, submission, version=0, action="finalize")
    assert refused.status_code == 422
    assert "stream-retry-duplicates" in refused.json()["detail"]
    assert (
        session.scalars(
            select(GradeDecision).where(GradeDecision.submission_id == submission.id)
        ).first()
        is None
    )  # nothing written
    steps = [
        dict(action="match", bug="cache-key-ignores-params", comment=0, verdict="confirmed"),
        dict(action="match", bug="stream-retry-duplicates", comment=1, verdict="confirmed"),
        dict(action="flag", kind="no_questions", comment=-1, verdict="dismissed"),
    ]
    for version, step in enumerate(steps):
        assert _api(client, csrf, submission, version=version, **step).status_code == 200
    state = _api(client, csrf, submission, version=3, action="finalize").json()
    assert (state["status"], state["total"]) == ("final", 61.25)
    decision = session.scalars(
        select(GradeDecision).where(GradeDecision.submission_id == submission.id)
    ).one()
    assert decision.finalized_by_id == user.id and decision.finalized_at is not None
    late = _api(
        client,
        csrf,
        submission,
        version=4,
        action="override",
        dimension="tradeoffs",
        value=0,
        reason="too late",
    )
    assert late.status_code == 409
    assert "final" in late.json()["detail"]
    page = client.get(f"/staff/submissions/{submission.id}").text
    assert "Grace Hopper" in page  # the name shows once the grade is final
    assert f"Signed by {user.name}" in page  # people by display name


def test_invalid_decisions_are_refused_with_a_reason(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = _graded(session)
    cases = [
        (dict(action="match", bug="no-such-bug", comment=0, verdict="added"), "not a seeded"),
        (dict(action="match", bug="stream-usage-lost", comment=9, verdict="added"), "no comment"),
        (
            dict(action="match", bug="cache-key-ignores-params", comment=0, verdict="added"),
            "confirm it instead",
        ),
        (
            dict(action="match", bug="stream-usage-lost", comment=2, verdict="confirmed"),
            "only the auto-grader",
        ),
        (dict(action="flag", kind="rewrite", comment=0, verdict="dismissed"), "no such red flag"),
        (dict(action="override", dimension="tradeoffs", value=50, reason=""), "reason"),
        (dict(action="override", dimension="charm", value=50, reason="nice"), "dimension"),
        (dict(action="match", bug="stream-usage-lost", verdict="added"), "comment is required"),
    ]
    for body, message in cases:
        response = _api(client, csrf, submission, version=0, **body)
        assert response.status_code == 422, body
        assert message in response.json()["detail"], body
    assert (
        _api(
            client,
            csrf,
            submission,
            version=0,
            action="override",
            dimension="tradeoffs",
            value=101,
            reason="x",
        ).status_code
        == 422
    )
    assert _actions(session, submission) == []


def test_forms_work_without_javascript(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = _graded(session)
    url = f"/staff/submissions/{submission.id}"
    response = client.post(
        f"{url}/matches",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "version": "0",
            "bug": "cache-key-ignores-params",
            "comment": "0",
            "verdict": "confirmed",
        },
    )
    assert (response.status_code, response.headers["location"]) == (303, url)
    response = client.post(
        f"{url}/overrides",
        data={
            "csrf_token": csrf,
            "version": "1",
            "dimension": "tool_taste",
            "value": "abc",
            "reason": "x",
        },
    )
    assert response.status_code == 422
    assert "must be a number" in response.text
    response = client.post(
        f"{url}/flags",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "version": "1",
            "kind": "no_questions",
            "comment": "-1",
            "verdict": "confirmed",
        },
    )
    assert response.status_code == 303
    partial = client.post(
        f"{url}/overrides",
        headers={"X-Partial": "1"},
        data={
            "csrf_token": csrf,
            "version": "2",
            "dimension": "tool_taste",
            "value": "100",
            "reason": "Calls out the needless cache layer.",
        },
    )
    assert partial.status_code == 200
    # Only the panel and the header: no page around them.
    assert partial.text.lstrip().startswith('<aside id="decision-panel"')
    assert 'id="review-head"' in partial.text and "<html" not in partial.text
    assert 'data-version="3"' in partial.text
    assert "Calls out the needless cache layer." in partial.text


def test_a_stale_form_gets_a_clear_conflict_and_the_current_state(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = _graded(session)
    url = f"/staff/submissions/{submission.id}"
    first = {
        "csrf_token": csrf,
        "version": "0",
        "dimension": "tradeoffs",
        "value": "80",
        "reason": "Weighs each fix.",
    }
    second = {**first, "value": "20", "reason": "Only prescriptions."}
    assert client.post(f"{url}/overrides", data=first, follow_redirects=False).status_code == 303
    stale = client.post(f"{url}/overrides", data=second)
    assert stale.status_code == 409
    assert "Another grader saved this submission" in stale.text
    assert "Weighs each fix." in stale.text  # the current state is shown
    state = client.get(f"/api/staff/submissions/{submission.id}").json()
    assert state["overrides"]["tradeoffs"]["value"] == 80.0


def test_two_concurrent_overrides_give_one_success_and_one_conflict(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = _graded(session)
    body = dict(version=0, action="override", dimension="tradeoffs", reason="reason one")
    responses = [
        _api(client, csrf, submission, value=80, **body),
        _api(client, csrf, submission, value=20, **{**body, "reason": "reason two"}),
    ]
    assert [r.status_code for r in responses] == [200, 409]
    conflict = responses[1].json()
    assert "Another grader saved this submission" in conflict["detail"]
    assert conflict["current"]["version"] == 1
    assert conflict["current"]["overrides"]["tradeoffs"] == {"value": 80.0, "reason": "reason one"}


def test_a_write_race_between_two_sessions_is_a_conflict(engine: object) -> None:
    # Real separate sessions: the second read its state before the first committed, so only
    # the database can tell (unique decision, version check, or SQLite's stale snapshot).
    maker = get_sessionmaker()
    with maker.begin() as setup:
        first, second = make_user(setup), make_user(setup)
        submission = make_submission(setup, comments=COMMENTS)
        make_auto_score(setup, submission)
        ids = (submission.id, first.id, second.id)
    for start_version in (0, 1):
        one, two = maker(), maker()
        try:
            reviews.get_submission(two, ids[0])
            decisions.override_dimension(
                one,
                ids[0],
                one.get(User, ids[1]),
                version=start_version,
                dimension="tradeoffs",
                value=80,
                reason="first",
            )
            reviews.get_decision(two, ids[0])
            one.commit()
            with pytest.raises(reviews.DecisionConflict):
                decisions.override_dimension(
                    two,
                    ids[0],
                    two.get(User, ids[2]),
                    version=start_version,
                    dimension="tradeoffs",
                    value=20,
                    reason="second",
                )
            two.rollback()
        finally:
            one.close()
            two.close()
    with maker() as check:
        state = reviews.current_state(check, ids[0])
        assert (state["version"], state["overrides"]["tradeoffs"]["reason"]) == (2, "first")


def test_near_duplicate_reviews_are_flagged(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    # Wording of its own, so that reviews other tests committed cannot match it.
    bodies = [
        "Rate limiter refills the bucket from wall-clock time; a clock jump drains it.",
        "The SSE parser drops the final event when the stream ends without a blank line.",
        "Backoff has no jitter, so all six pods retry the provider in lockstep at peak.",
    ]
    original = make_submission(session, comments=bodies)
    copy = make_submission(session, comments=[bodies[0].replace("drains", "empties"), *bodies[1:]])
    unrelated = make_submission(
        session,
        comments=[
            "Naming is inconsistent across the module and the docstrings are thin.",
            "Consider splitting the client into smaller classes for testability overall.",
        ],
    )
    assert [other for other, _ in integrity.find_near_duplicates(session, copy)] == [original.id]
    assert integrity.find_near_duplicates(session, unrelated) == []
    page = client.get(f"/staff/submissions/{copy.id}").text
    assert "Near-duplicate of another candidate" in page
    assert f'href="/staff/submissions/{original.id}"' in page


def test_audit_events_are_append_only(session: Session, grader: tuple[User, str]) -> None:
    user, _ = grader
    submission = _graded(session)
    decisions.override_dimension(
        session,
        submission.id,
        user,
        version=0,
        dimension="tradeoffs",
        value=75,
        reason="Several conditioned fixes.",
    )
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == submission.public_id)
    ).one()
    assert (event.actor_id, event.actor_label, event.action) == (
        user.id,
        user.email,
        "dimension.overridden",
    )
    assert event.before == {
        "dimension": "tradeoffs",
        "value": 50.0,
        "override": None,
        "reason": None,
        "total": 61.25,
    }
    assert event.after == {
        "dimension": "tradeoffs",
        "value": 75.0,
        "override": 75.0,
        "reason": "Several conditioned fixes.",
        "total": 67.5,
        "version": 1,
    }
    for statement in (
        "UPDATE audit_event SET action = 'forged' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement), {"id": event.id})


def test_the_review_page_reads_a_real_auto_score(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    from app.scoring import service as scoring_service

    submission = make_submission(session, comments=COMMENTS, summary="Fix the cache key first.")
    auto = scoring_service.score_submission(session, submission)
    page = client.get(f"/staff/submissions/{submission.id}")
    assert page.status_code == 200
    found = {(m["bug"], m["comment"]) for m in auto.result["matches"]}
    assert found == {
        ("cache-key-ignores-params", 0),
        ("stream-retry-duplicates", 1),
        ("stream-usage-lost", 2),
    }
    for bug, comment in found:
        assert f'data-bug="{bug}" data-comment="{comment}"' in page.text
    assert "<mark>" in page.text
    state = client.get(f"/api/staff/submissions/{submission.id}").json()
    assert (state["total"], state["version"]) == (auto.total, 0)


def test_an_admin_can_reopen_a_final_grade_with_a_reason(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    user, csrf = grader
    submission = _graded(session, matches=[], red_flags=[])
    decisions.finalize(session, submission.id, user, version=0)
    url = f"/staff/submissions/{submission.id}/reopen"
    assert (
        client.post(url, data={"csrf_token": csrf, "version": "1", "reason": "typo"}).status_code
        == 403
    )  # graders cannot take back a signature
    admin = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, admin)
    assert "Reopen this grade" in client.get(f"/staff/submissions/{submission.id}").text
    refused = client.post(url, data={"csrf_token": csrf, "version": "1", "reason": ""})
    assert refused.status_code == 422
    response = client.post(
        url,
        follow_redirects=False,
        data={"csrf_token": csrf, "version": "1", "reason": "Signed the wrong submission."},
    )
    assert response.status_code == 303
    state = client.get(f"/api/staff/submissions/{submission.id}").json()
    assert (state["status"], state["version"]) == ("open", 2)
    event = audit.list_events(session, "submission", submission.public_id)[-1]
    assert (event.action, event.actor_id) == ("grade.reopened", admin.id)
    assert event.after == {"status": "open", "reason": "Signed the wrong submission.", "version": 2}
    assert "Grace Hopper" not in client.get(f"/staff/submissions/{submission.id}").text


def test_simultaneous_overrides_over_http_give_one_success_and_one_conflict(
    live_server: str,
) -> None:
    import threading

    import httpx

    from app.auth import SESSION_COOKIE
    from app.security import csrf_token_for
    from app.users import service as users_service

    with get_sessionmaker().begin() as setup:
        graders = [make_user(setup), make_user(setup)]
        tokens = [users_service.start_session(setup, g) for g in graders]
        submission = make_submission(setup, comments=COMMENTS)
        make_auto_score(setup, submission)
        submission_id = submission.id
    barrier = threading.Barrier(2)
    results: list[httpx.Response] = []

    csrf = {token: csrf_token_for(token) for token in tokens}

    def save(token: str, value: float) -> None:
        with httpx.Client(base_url=live_server, cookies={SESSION_COOKIE: token}) as http:
            barrier.wait()
            results.append(
                http.post(
                    f"/api/staff/submissions/{submission_id}/decisions",
                    headers={"X-CSRF-Token": csrf[token]},
                    json={
                        "version": 0,
                        "action": "override",
                        "dimension": "tradeoffs",
                        "value": value,
                        "reason": f"set to {value}",
                    },
                    timeout=60,
                )
            )

    threads = [
        threading.Thread(target=save, args=(t, v)) for t, v in zip(tokens, (80, 20), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    won = next(r for r in results if r.status_code == 200).json()
    lost = next(r for r in results if r.status_code == 409).json()
    assert "Another grader saved this submission" in lost["detail"]
    assert lost["current"]["version"] == won["version"] == 1
    assert lost["current"]["overrides"] == won["overrides"]


def test_a_busy_database_delays_a_save_but_does_not_refuse_it(live_server: str) -> None:
    import threading

    import httpx

    from app.auth import SESSION_COOKIE
    from app.db import get_engine
    from app.security import csrf_token_for
    from app.users import service as users_service

    with get_sessionmaker().begin() as setup:
        token = users_service.start_session(setup, make_user(setup))
        submission = make_submission(setup, comments=COMMENTS)
        make_auto_score(setup, submission)
        submission_id = submission.id
    csrf = csrf_token_for(token)
    # Another writer (a candidate's autosave, say) holds SQLite's write lock for a moment.
    blocker = get_engine().connect()
    transaction = blocker.begin()
    blocker.execute(text("UPDATE assessment SET title = title"))
    release = threading.Timer(0.5, transaction.commit)
    release.start()
    try:
        response = httpx.post(
            f"{live_server}/api/staff/submissions/{submission_id}/decisions",
            cookies={SESSION_COOKIE: token},
            headers={"X-CSRF-Token": csrf},
            json={
                "version": 0,
                "action": "override",
                "dimension": "tool_taste",
                "value": 60,
                "reason": "one heavy dependency",
            },
            timeout=60,
        )
    finally:
        release.join()
        blocker.close()
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1


def test_no_code_rewrites_the_audit_trail() -> None:
    from app.settings import PROJECT_ROOT

    pattern = re.compile(
        r"(update|delete)\(\s*AuditEvent|(UPDATE|DELETE FROM)\s+audit_event", re.IGNORECASE
    )
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "app").rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_near_duplicate_check_stays_fast_on_drafts_at_the_size_limits(
    session: Session,
) -> None:
    # Long drafts of different random words: comparing them whole is quadratic (minutes);
    # only their start is compared, so the check takes milliseconds and still finds a copy.
    rng = random.Random(11)
    vocabulary = [f"{word}{n}" for word in ("cache", "retry", "lock", "queue") for n in range(99)]

    def long_body() -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(2_800))[:20_000]

    first = make_submission(session, comments=[long_body() for _ in range(20)])
    second = make_submission(session, comments=[long_body() for _ in range(20)])
    copy = make_submission(session, comments=[c.body for c in first.comments])
    started = time.perf_counter()
    found = integrity.find_near_duplicates(session, second)
    assert time.perf_counter() - started < 2.0
    assert first.id not in [other for other, _ in found]
    assert first.id in [other for other, _ in integrity.find_near_duplicates(session, copy)]
