"""The candidate flow through the JSON API and the plain-form pages: tokens, drafts, limits,
deadlines, submission and grading, and that nothing from the answer key reaches a candidate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.db import utcnow
from app.invites import service as invite_service
from app.scoring import service as scoring_service
from app.scoring.models import AutoScore
from app.settings import PROJECT_ROOT, get_settings
from app.submissions import service as submission_service
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import Role
from grading import DIMENSIONS
from tests.web.factories import FakeGrader, make_draft, make_invite, make_user, sign_in

SLUG = "llm-gateway-client"


def open_session(client: TestClient, token: str) -> dict[str, Any]:
    """Exchange a token through the API; returns the state (with the CSRF token)."""
    response = client.post("/api/candidate/session", json={"token": token})
    assert response.status_code == 200, response.text
    return response.json()


def started(client: TestClient, session: Session) -> tuple[dict[str, Any], dict[str, str]]:
    """A candidate who opened a fresh invite and pressed Start: their state and headers."""
    state = open_session(client, make_invite(session).token)
    headers = {"X-CSRF-Token": state["csrf_token"]}
    response = client.post("/api/candidate/start", headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), headers


def comment(**overrides: Any) -> dict[str, Any]:
    """One comment as the API takes it."""
    body: dict[str, Any] = {
        "file": "client.py",
        "line": 10,
        "severity": "major",
        "body": "This blocks the event loop.",
    }
    body.update(overrides)
    return body


def save(
    client: TestClient,
    headers: dict[str, str],
    revision: int,
    comments: list[dict[str, Any]],
    summary: str = "",
) -> Any:
    """PUT a whole draft."""
    return client.put(
        "/api/candidate/draft",
        headers=headers,
        json={"base_revision": revision, "comments": comments, "summary": summary},
    )


def submission_of(session: Session, state: dict[str, Any]) -> Submission:
    """The row behind a candidate's state."""
    session.expire_all()
    return session.scalars(
        select(Submission).where(Submission.public_id == state["submission_id"])
    ).one()


def csrf_from(html: str) -> str:
    """The CSRF token of a rendered candidate page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


# -- links and sessions ------------------------------------------------------------------------


def test_opening_the_link_sets_a_session_cookie_and_drops_the_token(
    client: TestClient, session: Session
) -> None:
    new = make_invite(session)
    assert len(new.token) >= 22  # at least 128 bits, URL-safe base64
    assert new.invite.token_hash != new.token and new.token not in new.invite.token_hash
    response = client.get(f"/i/{new.token}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/take"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("redline_candidate=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert new.token not in cookie
    page = client.get("/take")
    assert page.status_code == 200
    assert "Start the assessment (90 minutes)" in page.text
    assert new.token not in page.text


def _unusable_links(session: Session, client: TestClient) -> dict[str, str]:
    expired = make_invite(session, expires_at=utcnow() + timedelta(seconds=1))
    expired.invite.expires_at = utcnow() - timedelta(minutes=1)
    revoked = make_invite(session)
    invite_service.revoke_invite(session, revoked.invite)
    used = make_invite(session)
    used_submission = submission_service.start_submission(session, used.invite)
    submission_service.submit(session, used_submission)
    session.commit()
    return {
        "unknown": "x" * 43,
        "expired": expired.token,
        "revoked": revoked.token,
        "used": used.token,
    }


@pytest.mark.usefixtures("fake_grader")
def test_invalid_expired_revoked_and_used_links_get_the_same_page(
    client: TestClient, session: Session
) -> None:
    links = _unusable_links(session, client)
    pages = {
        name: client.get(f"/i/{token}", follow_redirects=False) for name, token in links.items()
    }
    bodies = {response.text for response in pages.values()}
    assert {response.status_code for response in pages.values()} == {404}
    assert len(bodies) == 1, "the reason must not show"
    body = bodies.pop()
    assert "This link cannot be used" in body
    assert "Traceback" not in body
    assert all("set-cookie" not in response.headers for response in pages.values())
    api = {
        name: client.post("/api/candidate/session", json={"token": token})
        for name, token in links.items()
    }
    assert {r.status_code for r in api.values()} == {404}
    assert len({r.text for r in api.values()}) == 1


@pytest.mark.usefixtures("fake_grader")
def test_after_submitting_the_link_leads_only_its_own_browser_to_the_receipt(
    client: TestClient, session: Session
) -> None:
    new = make_invite(session)
    state = open_session(client, new.token)
    headers = {"X-CSRF-Token": state["csrf_token"]}
    client.post("/api/candidate/start", headers=headers)
    client.post("/api/candidate/submit", headers=headers)
    again = client.get(f"/i/{new.token}")
    assert again.status_code == 200 and "Your review was submitted" in again.text
    stranger = TestClient(client.app)
    assert stranger.get(f"/i/{new.token}").status_code == 404


def test_without_a_session_the_pages_and_api_say_so(client: TestClient) -> None:
    page = client.get("/take")
    assert page.status_code == 401
    assert "Open the link from your invite again" in page.text
    api = client.get("/api/candidate")
    assert api.status_code == 401
    assert api.json()["code"] == "unavailable"


def test_reopening_the_link_keeps_this_browser_and_signs_out_others(
    client: TestClient, session: Session
) -> None:
    new = make_invite(session)
    first = client.get(f"/i/{new.token}", follow_redirects=False).cookies["redline_candidate"]
    again = client.get(f"/i/{new.token}", follow_redirects=False)
    assert "set-cookie" in again.headers
    assert again.cookies["redline_candidate"] == first
    other = TestClient(client.app)
    other.get(f"/i/{new.token}", follow_redirects=False)
    assert other.get("/take").status_code == 200
    client.cookies.set("redline_candidate", first)
    assert client.get("/take").status_code == 401


def test_writes_need_the_csrf_token(client: TestClient, session: Session) -> None:
    open_session(client, make_invite(session).token)
    response = client.post("/api/candidate/start")
    assert response.status_code == 403
    response = client.post("/api/candidate/start", headers={"X-CSRF-Token": "forged"})
    assert response.status_code == 403
    assert client.post("/take/start", data={"csrf_token": "forged"}).status_code == 403


def test_an_invite_that_expired_before_start_cannot_be_started(
    client: TestClient, session: Session
) -> None:
    new = make_invite(session)
    state = open_session(client, new.token)
    new.invite.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    response = client.post("/api/candidate/start", headers={"X-CSRF-Token": state["csrf_token"]})
    assert response.status_code == 410
    assert response.json()["code"] == "invite_closed"


# -- the draft ---------------------------------------------------------------------------------


def test_start_shows_files_and_the_clock_runs_on_the_server(
    client: TestClient, session: Session
) -> None:
    state = open_session(client, make_invite(session).token)
    assert state["status"] == "not_started"
    assert state["assessment"]["files"] == []
    assert state["assessment"]["judged_on"]
    headers = {"X-CSRF-Token": state["csrf_token"]}
    first = client.post("/api/candidate/start", headers=headers).json()
    assert first["status"] == "in_progress"
    assert [f["name"] for f in first["assessment"]["files"]] == ["client.py", "limits.py", "sse.py"]
    assert 90 * 60 - 5 <= first["seconds_left"] <= 90 * 60
    again = client.post("/api/candidate/start", headers=headers).json()
    assert again["deadline_at"] == first["deadline_at"], "starting twice must not reset the clock"


def test_draft_round_trip_with_range_order_and_markdown(
    client: TestClient, session: Session
) -> None:
    _state, headers = started(client, session)
    comments = [
        comment(client_id="a", line=72, end_line=74, severity="critical", body="Key **only**"),
        comment(client_id="b", file=None, line=None, severity=None, body="General question?"),
        comment(client_id="c", file="sse.py", line=3, severity="nit", body="<script>x</script>"),
    ]
    response = save(client, headers, 0, comments, summary="Fix the *cache* first.")
    assert response.status_code == 200, response.text
    draft = response.json()["draft"]
    assert draft["revision"] == 1
    assert [c["client_id"] for c in draft["comments"]] == ["a", "b", "c"]
    assert draft["comments"][0]["end_line"] == 74
    assert draft["comments"][0]["body_html"] == "<p>Key <strong>only</strong></p>\n"
    assert "<script>" not in draft["comments"][2]["body_html"]
    assert draft["summary_html"] == "<p>Fix the <em>cache</em> first.</p>\n"

    reordered = [comments[2], comments[0]]
    response = save(client, headers, 1, reordered)
    assert response.status_code == 200
    reloaded = client.get("/api/candidate").json()["draft"]
    assert reloaded["revision"] == 2
    assert [c["client_id"] for c in reloaded["comments"]] == ["c", "a"]
    assert reloaded["summary"] == ""


def test_a_stale_tab_cannot_overwrite_newer_work(client: TestClient, session: Session) -> None:
    _state, headers = started(client, session)
    assert save(client, headers, 0, [comment(client_id="new", body="newer")]).status_code == 200
    late = save(client, headers, 0, [comment(client_id="old", body="older")])
    assert late.status_code == 409
    assert late.json()["code"] == "draft_conflict"
    assert "another tab" in late.json()["detail"]
    draft = client.get("/api/candidate").json()["draft"]
    assert [c["body"] for c in draft["comments"]] == ["newer"]


def test_every_problem_is_named_and_nothing_saved_is_lost(
    client: TestClient, session: Session
) -> None:
    _state, headers = started(client, session)
    assert save(client, headers, 0, [comment(client_id="keep")], "kept").status_code == 200
    bad = [
        comment(client_id="keep"),
        comment(line=999),
        comment(body="x" * 25_000),
        comment(severity="huge", line=20, end_line=12),
        comment(file="nope.py"),
        comment(body="   "),
    ]
    response = save(client, headers, 1, bad, summary="y" * 50_001)
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert problems == [
        "comment 2: line 999 is outside client.py (lines 1 to 173)",
        "comment 3: body is 25,000 characters, the limit is 20,000",
        "comment 4: severity 'huge' is not one of critical, major, minor, nit",
        "comment 4: the range ends at line 12, before it starts at line 20",
        "comment 5: file 'nope.py' is not part of this assessment "
        "(files: client.py, limits.py, sse.py)",
        "comment 6: body is empty; write what is wrong or what you would ask",
        "summary is 50,001 characters, the limit is 50,000",
    ]
    draft = client.get("/api/candidate").json()["draft"]
    assert draft["revision"] == 1
    assert draft["summary"] == "kept"
    assert [c["client_id"] for c in draft["comments"]] == ["keep"]


def test_malformed_requests_name_the_comment_and_field(
    client: TestClient, session: Session
) -> None:
    _state, headers = started(client, session)
    response = client.put(
        "/api/candidate/draft",
        headers=headers,
        json={"base_revision": 0, "comments": [comment(), comment(line="ten", colour="red")]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["problems"] == [
        "comment 2: line: Input should be a valid integer, unable to parse string as an integer",
        "comment 2: colour: is not a known field",
    ]
    missing = client.put("/api/candidate/draft", headers=headers, json={"comments": []})
    assert missing.json()["problems"] == ["base_revision: Field required"]


def test_too_many_comments_and_oversized_bodies(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state, headers = started(client, session)
    settings = get_settings()
    monkeypatch.setattr(settings, "max_comments", 2)
    monkeypatch.setattr(settings, "max_comment_chars", 100)
    monkeypatch.setattr(settings, "max_summary_chars", 100)
    response = save(client, headers, 0, [comment(), comment(), comment()])
    assert response.status_code == 422
    assert response.json()["problems"][0] == "there are 3 comments, the limit is 2"
    huge = save(client, headers, 0, [comment(body="z" * 200_000)])
    assert huge.status_code == 413
    assert "the limit is" in huge.json()["detail"]
    form = client.post(
        "/take/summary", data={"csrf_token": headers["X-CSRF-Token"], "summary": "s" * 200_000}
    )
    assert form.status_code == 413
    assert client.get("/api/candidate").json()["draft"]["revision"] == 0


# -- deadline and submission -------------------------------------------------------------------


def test_saves_inside_the_grace_period_count(client: TestClient, session: Session) -> None:
    state, headers = started(client, session)
    submission = submission_of(session, state)
    submission.deadline_at = utcnow() - timedelta(seconds=5)
    session.commit()
    assert save(client, headers, 0, [comment(body="just in time")]).status_code == 200


@pytest.mark.usefixtures("fake_grader")
def test_edits_after_the_deadline_are_refused_and_the_draft_is_submitted(
    client: TestClient, session: Session
) -> None:
    state, headers = started(client, session)
    assert save(client, headers, 0, [comment(body="last saved")]).status_code == 200
    submission = submission_of(session, state)
    grace = get_settings().deadline_grace_seconds
    submission.deadline_at = utcnow() - timedelta(seconds=grace + 1)
    session.commit()
    late = save(client, headers, 1, [comment(body="too late")])
    assert late.status_code == 409
    assert late.json()["code"] == "already_submitted"
    assert "submitted" in late.json()["detail"]
    submission = submission_of(session, state)
    assert submission.status == SubmissionStatus.auto_submitted
    assert submission.submitted_at == submission.deadline_at
    assert [c.body for c in submission.comments] == ["last saved"]
    receipt = client.get("/api/candidate/receipt").json()
    assert receipt["automatic"] is True
    page = client.post(
        "/take/comments", data={"csrf_token": headers["X-CSRF-Token"], "body": "later"}
    )
    assert page.status_code == 409
    assert "already submitted" in page.text and "See your receipt" in page.text


@pytest.mark.usefixtures("fake_grader")
def test_deadline_check_refuses_a_save_in_the_same_request(
    client: TestClient, session: Session
) -> None:
    state, _headers = started(client, session)
    submission = submission_of(session, state)
    with pytest.raises(submission_service.DeadlinePassed, match="time ran out"):
        submission_service.save_draft(
            session,
            submission,
            submission_service.Draft(summary="x"),
            base_revision=0,
            now=submission.deadline_at
            + timedelta(seconds=get_settings().deadline_grace_seconds + 1),
        )


def test_close_overdue_submits_drafts_of_candidates_who_never_came_back(
    session: Session, fake_grader: FakeGrader
) -> None:
    new = make_invite(session)
    submission = submission_service.start_submission(session, new.invite)
    submission_service.save_draft(
        session,
        submission,
        submission_service.Draft(
            comments=[submission_service.DraftComment(body="found it", file="client.py", line=72)],
            summary="ship it later",
        ),
        base_revision=0,
    )
    on_time = make_draft(session, started_at=utcnow() + timedelta(minutes=30))
    session.flush()
    later = submission.deadline_at + timedelta(seconds=get_settings().deadline_grace_seconds + 1)
    closed = submission_service.close_overdue(session, now=later)
    assert submission in closed and on_time not in closed
    from app.scoring.service import commit_and_score

    assert commit_and_score(session) >= 1
    assert submission.status == SubmissionStatus.auto_submitted
    assert on_time.status == SubmissionStatus.in_progress
    assert submission_service.close_overdue(session, now=later) == []
    # Other tests' committed drafts may be closed too; only ours is asserted on.
    [review] = [r for r in fake_grader.reviews if r.id == submission.public_id]
    assert review.comments[0].body == "found it"
    assert on_time.public_id not in {r.id for r in fake_grader.reviews}


def test_close_overdue_command_runs(capsys: pytest.CaptureFixture[str], engine: Any) -> None:
    from app.cli import main

    assert main(["submissions", "close-overdue"]) == 0
    assert "overdue draft(s) submitted" in capsys.readouterr().out


def test_submit_twice_is_harmless_and_stores_the_grade(
    client: TestClient, session: Session, fake_grader: FakeGrader
) -> None:
    state, headers = started(client, session)
    body = [
        comment(client_id="a", line=72, end_line=74, severity="critical", body="cache key"),
        comment(client_id="b", body="second"),
    ]
    assert save(client, headers, 0, body, summary="sum").status_code == 200
    first = client.post("/api/candidate/submit", headers=headers)
    assert first.status_code == 200, first.text
    receipt = first.json()
    assert set(receipt) == {
        "submission_id",
        "status",
        "submitted_at",
        "content_digest",
        "comment_count",
        "automatic",
    }
    assert receipt["status"] == "submitted" and receipt["comment_count"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", receipt["content_digest"])
    second = client.post("/api/candidate/submit", headers=headers)
    assert second.status_code == 200
    assert second.json() == receipt
    form = client.post("/take/submit", data={"csrf_token": headers["X-CSRF-Token"]})
    assert form.status_code == 200 and receipt["content_digest"] in form.text

    submission = submission_of(session, state)
    scores = session.scalars(select(AutoScore).where(AutoScore.submission_id == submission.id))
    [score] = scores.all()
    assert score.total == 42.0 and score.grader_version == "fake-1"
    assert [(m.bug_key, m.comment_index) for m in score.matches] == [
        ("cache-key-ignores-params", 0)
    ]
    assert [f.kind for f in score.flags] == ["no_questions"]
    review = fake_grader.reviews[0]
    assert [c.body for c in review.comments] == ["cache key", "second"]
    assert review.comments[0].end_line == 74 and review.summary == "sum"
    late = save(client, headers, 1, body)
    assert late.status_code == 409 and late.json()["code"] == "already_submitted"


def test_a_grading_failure_never_loses_the_submission(
    client: TestClient, session: Session, fake_grader: FakeGrader
) -> None:
    fake_grader.fail = True
    state, headers = started(client, session)
    assert save(client, headers, 0, [comment()]).status_code == 200
    response = client.post("/api/candidate/submit", headers=headers)
    assert response.status_code == 200
    submission = submission_of(session, state)
    assert submission.status == SubmissionStatus.submitted
    assert (
        session.scalars(select(AutoScore).where(AutoScore.submission_id == submission.id)).first()
        is None
    )
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id == submission.public_id)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_label, e.action) for e in events] == [
        ("candidate", "submission.submitted"),
        ("system:auto-grader", "auto_score.failed"),
    ]
    event = events[1]
    assert "model file missing" in event.after["error"]  # type: ignore[index]


def test_a_failed_grading_can_be_run_again(
    client: TestClient, session: Session, fake_grader: FakeGrader
) -> None:
    fake_grader.fail = True
    state, headers = started(client, session)
    assert client.post("/api/candidate/submit", headers=headers).status_code == 200
    submission = submission_of(session, state)
    assert submission in scoring_service.unscored_submissions(session)
    fake_grader.fail = False
    score = scoring_service.score_submission_safely(session, submission)
    assert score is not None and score.total == 42.0
    assert submission not in scoring_service.unscored_submissions(session)


def test_grade_command_reports_unknown_ids(capsys: pytest.CaptureFixture[str], engine: Any) -> None:
    from app.cli import main

    assert main(["submissions", "grade"]) == 2
    assert main(["submissions", "grade", "no-such-id"]) == 1
    assert "no submission no-such-id" in capsys.readouterr().err


def test_real_grader_version_names_the_engine_source() -> None:
    version = scoring_service._grader_version(object())
    assert re.fullmatch(r"src-[0-9a-f]{12}", version)


# -- the pages without JavaScript --------------------------------------------------------------


@pytest.mark.usefixtures("fake_grader")
def test_the_flow_works_with_plain_forms(client: TestClient, session: Session) -> None:
    new = make_invite(session)
    start_page = client.get(f"/i/{new.token}")
    csrf = csrf_from(start_page.text)
    review = client.post("/take/start", data={"csrf_token": csrf})
    assert review.status_code == 200
    assert '<span class="k">def</span>' in review.text  # highlighted
    assert 'id="f-client-py-L72"' in review.text
    prefilled = client.get("/take", params={"file": "client.py", "line": "72"})
    assert 'value="72"' in prefilled.text

    def add(**fields: str) -> Any:
        """Post the add-comment form."""
        return client.post("/take/comments", data={"csrf_token": csrf, **fields})

    assert (
        add(
            file="client.py",
            line="72",
            end_line="74",
            severity="critical",
            body="Cache key **ignores** the model",
        ).status_code
        == 200
    )
    assert add(file="", severity="nit", body="General remark").status_code == 200
    page = client.get("/take")
    assert "client.py:72–74" in page.text and "<strong>ignores</strong>" in page.text

    rejected = add(file="client.py", line="abc", body="My long careful text")
    assert rejected.status_code == 422
    assert "comment 3: line &#39;abc&#39; is not a line number" in rejected.text
    assert "My long careful text" in rejected.text, "the typed text must come back"

    submission = session.scalars(
        select(Submission).where(Submission.invite_id == new.invite.id)
    ).one()
    first, second = (c.client_id for c in submission.comments)
    client.post(f"/take/comments/{second}/move", data={"csrf_token": csrf, "direction": "up"})
    client.post(
        f"/take/comments/{first}",
        data={
            "csrf_token": csrf,
            "file": "client.py",
            "line": "72",
            "end_line": "",
            "severity": "major",
            "body": "Edited",
        },
    )
    client.post("/take/summary", data={"csrf_token": csrf, "summary": "Overall fine"})
    session.expire_all()
    assert [(c.body, c.severity) for c in submission.comments] == [
        ("General remark", "nit"),
        ("Edited", "major"),
    ]
    assert submission.summary == "Overall fine"
    client.post(f"/take/comments/{second}/delete", data={"csrf_token": csrf})
    session.expire_all()
    assert [c.body for c in submission.comments] == ["Edited"]

    confirm = client.get("/take/submit")
    assert "Submit your review?" in confirm.text and "Overall fine" in confirm.text
    receipt = client.post("/take/submit", data={"csrf_token": csrf})
    assert "Your review was submitted" in receipt.text
    assert submission.public_id in receipt.text
    assert client.get("/take", follow_redirects=False).headers["location"] == "/take/receipt"


# -- the answer key stays secret ---------------------------------------------------------------


def _secrets(slug: str) -> list[str]:
    key = yaml.safe_load((PROJECT_ROOT / "seeded_bugs" / f"{slug}.yaml").read_text())
    out: list[str] = []
    for bug in key["bugs"]:
        out += [bug["id"], bug["title"], *bug.get("phrases", [])]
        out += [line.strip() for line in bug["description"].splitlines() if len(line.strip()) > 30]
    for decoy in key.get("decoys", []):
        out.append(decoy["id"])
        out += [line.strip() for line in decoy["why"].splitlines() if len(line.strip()) > 30]
    return out


def _candidate_responses(client: TestClient, session: Session, slug: str) -> Iterator[str]:
    new = make_invite(session, assessment=slug)
    opened = client.get(f"/i/{new.token}")
    yield opened.text
    csrf = csrf_from(opened.text)
    headers = {"X-CSRF-Token": csrf}
    yield client.get("/api/candidate").text
    yield client.post("/api/candidate/start", headers=headers).text
    files = client.get("/api/candidate").json()["assessment"]["files"]
    first = files[0]["name"]
    yield save(
        client, headers, 0, [comment(file=first, line=1, body="Looks odd.")], summary="Hmm."
    ).text
    yield save(client, headers, 0, [comment(file=first, line=1, body="x")]).text  # 409
    yield save(client, headers, 1, [comment(file=first, line=10_000)]).text  # 422
    yield client.get("/take").text
    yield client.get("/take/submit").text
    for response in (
        client.post("/api/candidate/submit", headers=headers),
        client.get("/api/candidate/receipt"),
        client.get("/api/candidate"),
    ):
        assert '"total"' not in response.text and '"matches"' not in response.text
        yield response.text
    yield client.get("/take/receipt").text
    yield client.get("/openapi.json").text


@pytest.mark.usefixtures("fake_grader")
@pytest.mark.parametrize(
    "slug", sorted(p.stem for p in (PROJECT_ROOT / "seeded_bugs").glob("*.yaml"))
)
def test_no_candidate_response_reveals_the_answer_key(
    client: TestClient, session: Session, slug: str
) -> None:
    secrets = _secrets(slug)
    assert secrets
    for text in _candidate_responses(client, session, slug):
        leaked = [s for s in secrets if s.lower() in text.lower()]
        assert leaked == []


def test_openapi_documents_the_candidate_api(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.grader))
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/candidate",
        "/api/candidate/session",
        "/api/candidate/start",
        "/api/candidate/draft",
        "/api/candidate/submit",
        "/api/candidate/receipt",
    } <= set(paths)
    assert "409" in paths["/api/candidate/draft"]["put"]["responses"]


def test_the_api_reference_is_rendered_here_and_loads_nothing_from_elsewhere(
    client: TestClient, session: Session
) -> None:
    assert client.get("/docs", follow_redirects=False).status_code == 303  # staff only
    sign_in(client, session, make_user(session, role=Role.grader))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "<code>PUT</code>" in page.text and "<code>/api/candidate/draft</code>" in page.text
    assert "https://" not in page.text and "<script>" not in page.text
    assert "cdn." not in page.headers["content-security-policy"]


def test_the_real_grader_scores_a_submission(session: Session) -> None:
    """The true wiring from rows to the grading engine and back (trains it once per process)."""
    from app.scoring.service import score_submission

    new = make_invite(session)
    submission = submission_service.start_submission(session, new.invite)
    submission_service.save_draft(
        session,
        submission,
        submission_service.Draft(
            comments=[
                submission_service.DraftComment(
                    file="client.py",
                    line=72,
                    end_line=74,
                    severity="critical",
                    body="The cache key only hashes the messages: a gw-small answer is served "
                    "for a "
                    "gw-large request, and temperature 0.9 outputs are replayed to everyone.",
                ),
            ]
        ),
        base_revision=0,
    )
    submission_service.submit(session, submission)
    score = score_submission(session, submission)
    assert 0 <= score.total <= 100
    assert "cache-key-ignores-params" in {m.bug_key for m in score.matches}
    assert set(score.dimensions) == set(DIMENSIONS)


def test_a_retried_save_whose_answer_was_lost_succeeds(
    client: TestClient, session: Session
) -> None:
    _state, headers = started(client, session)

    def put(base: int, save_id: str, body: str) -> Any:
        draft = {"base_revision": base, "save_id": save_id, "comments": [comment(body=body)]}
        return client.put("/api/candidate/draft", headers=headers, json=draft)

    assert put(0, "s-first", "Blocks the loop.").json()["draft"]["revision"] == 1
    # The answer to that save never arrived; the page retries it with the same id, with
    # what the candidate typed since.
    retried = put(0, "s-first", "Blocks the event loop on every call.")
    assert retried.status_code == 200, retried.text
    assert retried.json()["draft"]["revision"] == 2
    assert retried.json()["draft"]["comments"][0]["body"] == "Blocks the event loop on every call."
    # Another tab's stale save (another id, or the same retry once more) is still a conflict.
    assert put(0, "s-other-tab", "Overwrite").json()["code"] == "draft_conflict"
    assert put(0, "s-first", "Overwrite").json()["code"] == "draft_conflict"
