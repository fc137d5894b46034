"""The grader's workbench: what the review page shows, and that it fits a 1280x800 screen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.reviews.page import whole_word_quote
from app.submissions.models import SubmissionStatus
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

LONG_LINE = "x" * 400


@pytest.fixture
def grader(client: TestClient, session: Session) -> tuple[User, str]:
    """A signed-in grader and the CSRF token of their session."""
    user = make_user(session, role=Role.grader, name="Wen Bench")
    return user, sign_in(client, session, user)


def test_a_flag_quote_starts_and_ends_on_whole_words() -> None:
    text = "Rewrite the whole client on LangChain; the retry loop wraps the yield anyway."
    assert whole_word_quote("ewrite the whole cli", text) == "Rewrite the whole client"
    assert whole_word_quote("LangChain", text) == "LangChain"
    assert whole_word_quote("not in the text", text) == "not in the text"


def test_flags_quote_the_candidate_but_no_questions_is_an_explanation(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    submission = make_submission(session, comments=COMMENTS, candidate_name="Quinn Quote")
    flags = [
        {"kind": "rewrite", "comment": 1, "evidence": "ewrite the whole cli"},
        {"kind": "no_questions", "comment": -1, "evidence": "no comment asks how it is used"},
    ]
    make_auto_score(session, submission, score_dict(red_flags=flags))
    page = client.get(f"/staff/submissions/{submission.id}").text
    assert "<mark>Rewrite the whole client</mark>" in page
    assert "no comment asks how it is used" in page
    assert "<mark>no comment asks" not in page


def test_the_header_shows_time_on_task_and_where_to_go_next(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    early = make_submission(session, comments=COMMENTS, status=SubmissionStatus.auto_submitted)
    early.submitted_at = early.started_at + timedelta(minutes=90, seconds=20)
    make_auto_score(session, early)
    other = make_submission(session, comments=COMMENTS)
    make_auto_score(session, other)
    session.flush()
    page = client.get(f"/staff/submissions/{early.id}").text
    assert 'id="auto-submitted"' in page and "auto-submitted at the time limit" in page
    assert "90 of 90 min used" in page
    assert 'id="next-todo"' in page and 'href="/staff/submissions/' in page
    other_page = client.get(f"/staff/submissions/{other.id}").text
    assert 'id="auto-submitted"' not in other_page and "60 of 90 min used" in other_page


def test_after_finalize_the_header_names_the_candidate(
    client: TestClient, session: Session, grader: tuple[User, str]
) -> None:
    _, csrf = grader
    submission = make_submission(session, comments=COMMENTS, candidate_name="Hedy Header")
    make_auto_score(session, submission, score_dict(matches=[], red_flags=[]))
    response = client.post(
        f"/staff/submissions/{submission.id}/finalize",
        data={"csrf_token": csrf, "version": "0"},
        headers={"X-Partial": "1"},
    )
    assert response.status_code == 200, response.text
    assert '<span id="candidate-label">Hedy Header</span>' in response.text
    assert f"Candidate #{submission.id}" not in response.text


def _layout_setup() -> tuple[str, int]:
    with get_sessionmaker().begin() as session:
        grader = make_user(session, role=Role.grader, name="Lay Out")
        long_comment = {
            "body": "A very long comment with an unbroken token " + "y" * 300,
            "file": "client.py",
            "line": 200,
            "severity": "minor",
        }
        submission = make_submission(
            session,
            comments=[*COMMENTS, long_comment],
            summary="Fix the cache key first. " * 20,
        )
        make_auto_score(session, submission)
        return grader.email, submission.id


@pytest.mark.browser
def test_the_workbench_fits_1280x800(browser: Any, live_server: str) -> None:
    email, submission_id = _layout_setup()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page: Page = context.new_page()
        sign_in_staff(page, live_server, email)
        page.goto(f"{live_server}/staff/submissions/{submission_id}")
        # The summary comes before the code; the rubric panel is beside the code.
        summary_box = page.locator("#comment-summary").bounding_box()
        first_line = page.locator("table.code td.ln").first.bounding_box()
        panel = page.locator("#decision-panel").bounding_box()
        assert summary_box and first_line and panel
        assert summary_box["y"] < first_line["y"]
        assert panel["x"] > first_line["x"] + 400 and panel["y"] < 400
        # No sideways scroll of the page, of the code, or inside the panel.
        overflow = page.evaluate(
            """() => {
              const out = [];
              const root = document.documentElement;
              if (root.scrollWidth > root.clientWidth) out.push('page ' + root.scrollWidth);
              const boxes = '.snippet-col, .snippet-col td.src, .decision-panel, .decision-panel *';
              for (const el of document.querySelectorAll(boxes)) {
                const scrolls = getComputedStyle(el).overflowX !== 'visible';
                if (scrolls && el.scrollWidth > el.clientWidth + 1)
                  out.push(el.tagName + '.' + el.className + ' ' + el.scrollWidth);
              }
              const col = document.querySelector('.snippet-col').getBoundingClientRect();
              const parts = '.snippet-col .tag, .snippet-col .comment, .snippet-col td.src';
              for (const el of document.querySelectorAll(parts)) {
                const r = el.getBoundingClientRect();
                if (r.right > col.right + 1) out.push('clipped ' + el.className);
              }
              return out;
            }"""
        )
        assert overflow == []
        # Jumping to a comment keeps the line numbers in view.
        page.locator("#decision-panel a[href='#comment-2']").first.click()
        comment = page.locator("#comment-2")
        expect(comment).to_be_in_viewport()
        row = comment.locator(
            "xpath=ancestor::tr[1]/preceding-sibling::tr[contains(@class,'line')][1]"
        )
        number = row.locator("td.ln").bounding_box()
        assert number and 0 <= number["x"] < 200
        # Code is highlighted as the candidate's is.
        assert page.locator("table.code td.src code span.k").count() > 10
        # The answer key and the audit trail are folded away until asked for.
        expect(page.locator(".answer-key ol.bugs")).to_be_hidden()
        page.locator(".answer-key > summary").click()
        expect(page.locator(".answer-key ol.bugs")).to_be_visible()
    finally:
        context.close()
