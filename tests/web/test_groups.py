"""Grade by bug: one seeded bug across every submission, decided in place."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.reviews.models import GradeDecision, MatchVerdict
from app.users.models import Role, User
from tests.web.browser import sign_in_staff
from tests.web.factories import (
    COMMENTS,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
    sign_in,
)

BUG = "cache-key-ignores-params"
GROUP = f"/staff/bugs/llm-gateway-client/{BUG}"


@pytest.fixture
def grader(client: TestClient, session: Session) -> tuple[User, str]:
    """A signed-in grader and the CSRF token of their session."""
    user = make_user(session, role=Role.grader, name="Bea Bug")
    return user, sign_in(client, session, user)


def _answers(session: Session, count: int) -> list[int]:
    ids = []
    for i in range(count):
        submission = make_submission(session, comments=COMMENTS, candidate_name=f"Group {i}")
        make_auto_score(session, submission)  # matches BUG on comment 0, near-misses another
        ids.append(submission.id)
    return ids


def test_every_answer_to_a_bug_in_one_list(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    first, second = _answers(session, 2)
    page = client.get(GROUP)
    assert page.status_code == 200
    for submission_id in (first, second):
        assert f'id="answer-{submission_id}-0"' in page.text
    assert "Group 0" not in page.text and "Group 1" not in page.text  # still blind
    listing = client.get("/staff/bugs").text
    assert f'href="{GROUP}"' in listing

    response = client.post(
        GROUP,
        data={
            "csrf_token": csrf,
            "submission": str(first),
            "version": "0",
            "comment": "0",
            "verdict": "rejected",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{GROUP}#answer-{first}-0"
    decision = session.scalars(
        select(GradeDecision).where(GradeDecision.submission_id == first)
    ).one()
    assert [(m.bug_key, m.comment_index, m.verdict) for m in decision.match_decisions] == [
        (BUG, 0, MatchVerdict.rejected)
    ]
    # The same page, a stale version: refused with the current state, nothing saved.
    stale = client.post(
        GROUP,
        data={
            "csrf_token": csrf,
            "submission": str(first),
            "version": "0",
            "comment": "0",
            "verdict": "confirmed",
        },
    )
    assert stale.status_code == 409
    assert "Another grader saved this submission" in stale.text


def test_unknown_assessment_or_bug_is_a_404(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    assert client.get("/staff/bugs/no-such-assessment/x").status_code == 404
    missing = client.get("/staff/bugs/llm-gateway-client/no-such-bug")
    assert missing.status_code == 404 and "no-such-bug" in missing.text


def _row(page: Page, submission_id: int) -> Locator:
    return page.locator(f"#answer-{submission_id}-0")


@pytest.mark.browser
def test_two_graders_grade_one_bug_across_submissions(browser: Any, live_server: str) -> None:
    with get_sessionmaker().begin() as session:
        emails = [make_user(session, role=Role.grader).email for _ in range(2)]
        ids = []
        for i in range(3):
            submission = make_submission(session, comments=COMMENTS, candidate_name=f"Two {i}")
            make_auto_score(session, submission, score_dict(red_flags=[]))
            ids.append(submission.id)
    contexts = [browser.new_context(), browser.new_context()]
    try:
        first, second = (context.new_page() for context in contexts)
        for page, email in ((first, emails[0]), (second, emails[1])):
            sign_in_staff(page, live_server, email)
            page.goto(f"{live_server}{GROUP}")
        _row(first, ids[0]).get_by_role("button", name="Confirm").click()
        expect(_row(first, ids[0]).locator(".verdict")).to_have_text("confirmed")
        # Focus moves on to the next answer still to decide: keys alone go on from there.
        expect(_row(first, ids[1])).to_be_focused()
        first.keyboard.press("r")
        expect(_row(first, ids[1]).locator(".verdict")).to_have_text("rejected")

        # The second grader's page is stale for the first submission: refused, not merged.
        _row(second, ids[0]).get_by_role("button", name="Reject").click()
        expect(second.locator(".banner.conflict")).to_contain_text(
            "Another grader saved this submission"
        )
        expect(_row(second, ids[0]).locator(".verdict")).to_have_text("confirmed")
        # An answer nobody touched goes through at once.
        _row(second, ids[2]).get_by_role("button", name="Confirm").click()
        expect(_row(second, ids[2]).locator(".verdict")).to_have_text("confirmed")
        first.reload()
        expect(_row(first, ids[2]).locator(".verdict")).to_have_text("confirmed")
    finally:
        for context in contexts:
            context.close()
    with get_sessionmaker()() as session:
        verdicts = {
            d.submission_id: [m.verdict.value for m in d.match_decisions if m.bug_key == BUG]
            for d in session.scalars(
                select(GradeDecision).where(GradeDecision.submission_id.in_(ids))
            )
        }
    assert verdicts == {ids[0]: ["confirmed"], ids[1]: ["rejected"], ids[2]: ["confirmed"]}
