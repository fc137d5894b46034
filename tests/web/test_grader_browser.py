"""A grader's whole job in a real browser: sign in, grade the first submission, sign off."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from app.db import get_sessionmaker
from app.reviews.models import DecisionStatus, GradeDecision
from app.users.models import Role
from tests.web.browser import sign_in_staff
from tests.web.factories import (
    COMMENTS,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
)

pytestmark = pytest.mark.browser

# Every kind of red flag, needs review, exactly at the decision line, submitted long ago:
# nothing another test leaves behind can rank above it in the queue.
FLAGS = [
    {"kind": "rewrite", "comment": 1, "evidence": "Rewrite the whole client on LangChain"},
    {"kind": "framework", "comment": 1, "evidence": "LangChain"},
    {"kind": "no_questions", "comment": -1, "evidence": "asks nothing about usage"},
    {"kind": "style_only", "comment": 2, "evidence": "only style remarks"},
]


def _setup(candidate: str) -> tuple[str, int]:
    with get_sessionmaker().begin() as session:
        grader = make_user(session, role=Role.grader, name="Brow Ser")
        submission = make_submission(
            session,
            comments=COMMENTS,
            candidate_name=candidate,
            submitted_at=datetime(2020, 1, 1, tzinfo=UTC),
            summary="Fix the cache key first.",
        )
        make_auto_score(
            session,
            submission,
            score_dict(total=60.0, red_flags=FLAGS),
            evidence={
                "matches": [
                    {
                        "bug": "cache-key-ignores-params",
                        "comment": 0,
                        "words": ["cache key only hashes the messages"],
                        "explanation": "points at client.py:73, inside the bug's lines",
                    }
                ]
            },
        )
        return grader.email, submission.id


def _row(page: Page, kind: str, key: str, comment: int) -> Locator:
    attribute = "data-bug" if kind == "match" else "data-flag"
    return page.locator(f'.decision-row[{attribute}="{key}"][data-comment="{comment}"]')


def _audit(page: Page) -> Locator:
    return page.locator("#audit-trail .audit-action")


def test_grade_the_first_submission_in_the_queue(page: Page, live_server: str) -> None:
    email, submission_id = _setup("Katherine Johnson")
    sign_in_staff(page, live_server, email)
    expect(page.locator("table.queue")).not_to_contain_text("Katherine Johnson")
    page.locator("a.open-review").first.click()
    expect(page).to_have_url(f"{live_server}/staff/submissions/{submission_id}")
    expect(page.locator(".decision-panel mark").first).to_have_text(
        "cache key only hashes the messages"
    )
    expect(page.locator("#total")).to_have_text("60.0")

    _row(page, "match", "cache-key-ignores-params", 0).get_by_role("button", name="Confirm").click()
    expect(_row(page, "match", "cache-key-ignores-params", 0).locator(".verdict")).to_have_text(
        "confirmed"
    )
    expect(_audit(page)).to_have_text(["match.confirmed"])

    _row(page, "match", "stream-retry-duplicates", 1).get_by_role("button", name="Reject").click()
    expect(_row(page, "match", "stream-retry-duplicates", 1).locator(".verdict")).to_have_text(
        "rejected"
    )
    expect(page.locator("#total")).to_have_text("53.8")  # recomputed at once

    page.locator("#add-match-box summary").click()
    page.locator("#add-comment").select_option("2")
    page.locator("#add-bug").select_option("stream-usage-lost")
    page.get_by_role("button", name="Add match").click()
    expect(_row(page, "match", "stream-usage-lost", 2).locator(".verdict")).to_have_text("added")
    expect(page.locator("#total")).to_have_text("75.0")

    _row(page, "flag", "rewrite", 1).get_by_role("button", name="Dismiss").click()
    expect(_row(page, "flag", "rewrite", 1).locator(".verdict")).to_have_text("dismissed")
    for kind, comment in (("framework", 1), ("no_questions", -1), ("style_only", 2)):
        _row(page, "flag", kind, comment).get_by_role("button", name="Confirm").click()
        expect(_row(page, "flag", kind, comment).locator(".verdict")).to_have_text("confirmed")

    page.locator("#override-box summary").click()
    page.locator("#override-dimension").select_option("tradeoffs")
    page.locator("#override-value").fill("90")
    page.locator("#override-reason").fill("Sequences the hotfix before the refactor.")
    page.get_by_role("button", name="Save override").click()
    dimension = page.locator('tr[data-dimension="tradeoffs"]')
    expect(dimension.locator(".dim-value")).to_have_text("90.0")
    expect(dimension).to_contain_text("Sequences the hotfix before the refactor.")
    expect(page.locator("#total")).to_have_text("85.0")

    page.get_by_role("button", name=re.compile("^Finalize grade")).click()
    # Signed: straight on to the next submission that needs a grader (or the queue).
    expect(page).not_to_have_url(f"{live_server}/staff/submissions/{submission_id}")
    page.goto(f"{live_server}/staff/submissions/{submission_id}")
    expect(page.locator("#status")).to_have_text("final")
    expect(page.locator(".decision-panel")).to_contain_text("Katherine Johnson")
    expect(page.locator("#candidate-label")).to_have_text("Katherine Johnson")
    expect(_audit(page)).to_have_text(
        [
            "match.confirmed",
            "match.rejected",
            "match.added",
            "flag.dismissed",
            "flag.confirmed",
            "flag.confirmed",
            "flag.confirmed",
            "dimension.overridden",
            "grade.finalized",
        ]
    )
    # A full reload shows the same signed state: nothing lived only in the browser.
    page.reload()
    expect(page.locator("#status")).to_have_text("final")
    expect(page.locator("#total")).to_have_text("85.0")


def test_keyboard_shortcuts(page: Page, live_server: str) -> None:
    email, submission_id = _setup("Dorothy Vaughan")
    sign_in_staff(page, live_server, email)
    page.goto(f"{live_server}/staff/submissions/{submission_id}")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_contain_text("confirm the selected match")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("c")  # the first match is selected when the page opens
    expect(_row(page, "match", "cache-key-ignores-params", 0).locator(".verdict")).to_have_text(
        "confirmed"
    )
    # Focus moves on to the next item still to decide, without a key.
    expect(_row(page, "match", "stream-retry-duplicates", 1)).to_be_focused()
    page.keyboard.press("r")
    expect(_row(page, "match", "stream-retry-duplicates", 1).locator(".verdict")).to_have_text(
        "rejected"
    )
    # The near miss needs no decision: the next one to decide is the first red flag.
    expect(_row(page, "flag", "rewrite", 1)).to_be_focused()
    page.keyboard.press("d")
    expect(_row(page, "flag", "rewrite", 1).locator(".verdict")).to_have_text("dismissed")
    expect(_row(page, "flag", "framework", 1)).to_be_focused()
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(page.locator(".decision-row.selected")).to_have_attribute("data-kind", "near_miss")
    page.keyboard.press("k")
    expect(page.locator(".decision-row.selected")).to_have_attribute(
        "data-bug", "stream-retry-duplicates"
    )
    expect(_audit(page)).to_have_text(["match.confirmed", "match.rejected", "flag.dismissed"])
    expect(page.locator("#audit-trail .audit-sentence").first).to_have_text(
        "Brow Ser confirmed the match of comment 1 to cache-key-ignores-params; total 60.0 → 60.0."
    )
    page.keyboard.press("f")
    expect(page.locator("#finalize")).to_be_focused()
    page.keyboard.press("o")
    expect(page.locator("#override-dimension")).to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page.locator("#add-comment")).to_be_focused()
    page.locator("h1").click()
    next_url = page.locator("#next-todo").get_attribute("href")
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server}{next_url}")


def _clean_setup() -> tuple[str, int]:
    """A submission whose two matches are both confident: nothing to override or flag."""
    with get_sessionmaker().begin() as session:
        grader = make_user(session, role=Role.grader, name="Kay Board")
        submission = make_submission(
            session, comments=COMMENTS[:2], candidate_name="Clean Candidate"
        )
        make_auto_score(
            session,
            submission,
            score_dict(
                total=75.0,
                matches=[
                    {"bug": "cache-key-ignores-params", "comment": 0, "confidence": 0.97},
                    {"bug": "stream-retry-duplicates", "comment": 1, "confidence": 0.95},
                ],
                red_flags=[],
                near_misses=[],
                needs_review=False,
            ),
        )
        return grader.email, submission.id


def test_a_clean_submission_is_signed_off_with_the_keyboard_alone(
    page: Page, live_server: str
) -> None:
    email, submission_id = _clean_setup()
    sign_in_staff(page, live_server, email)
    page.goto(f"{live_server}/staff/submissions/{submission_id}")
    # Each key waits for the page to be ready for the next, as a person would.
    steps = [
        ("c", _row(page, "match", "stream-retry-duplicates", 1)),
        ("c", page.locator("#finalize")),  # nothing left to decide: Finalize has the focus
        ("Enter", None),
    ]
    keys = [key for key, _ in steps]
    started = time.monotonic()
    for key, focused_next in steps:
        page.keyboard.press(key)
        if focused_next is not None:
            expect(focused_next).to_be_focused()
    expect(page).not_to_have_url(f"{live_server}/staff/submissions/{submission_id}")
    assert time.monotonic() - started < 60
    assert len(keys) == 3
    with get_sessionmaker()() as session:
        decision = session.scalars(
            select(GradeDecision).where(GradeDecision.submission_id == submission_id)
        ).one()
        assert decision.status is DecisionStatus.final
        assert sorted(m.verdict.value for m in decision.match_decisions) == [
            "confirmed",
            "confirmed",
        ]


def test_grading_works_without_javascript(browser: Any, live_server: str) -> None:
    email, submission_id = _setup("Mary Jackson")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in_staff(page, live_server, email)
        page.goto(f"{live_server}/staff/submissions/{submission_id}")
        _row(page, "match", "cache-key-ignores-params", 0).get_by_role(
            "button", name="Confirm"
        ).click()
        expect(page).to_have_url(f"{live_server}/staff/submissions/{submission_id}")
        expect(_row(page, "match", "cache-key-ignores-params", 0).locator(".verdict")).to_have_text(
            "confirmed"
        )
        expect(_audit(page)).to_have_text(["match.confirmed"])
    finally:
        context.close()


def test_a_second_grader_gets_a_clear_conflict(browser: Any, live_server: str) -> None:
    email, submission_id = _setup("Annie Easley")
    with get_sessionmaker().begin() as session:
        other_email = make_user(session, role=Role.grader).email
    contexts = [browser.new_context(), browser.new_context()]
    try:
        first, second = (context.new_page() for context in contexts)
        sign_in_staff(first, live_server, email)
        sign_in_staff(second, live_server, other_email)
        for page in (first, second):
            page.goto(f"{live_server}/staff/submissions/{submission_id}")
        _row(first, "match", "cache-key-ignores-params", 0).get_by_role(
            "button", name="Confirm"
        ).click()
        expect(_audit(first)).to_have_text(["match.confirmed"])
        # The second page still carries version 0: its save is refused, not merged.
        _row(second, "match", "cache-key-ignores-params", 0).get_by_role(
            "button", name="Reject"
        ).click()
        expect(second.locator(".banner.conflict")).to_contain_text(
            "Another grader saved this submission"
        )
        expect(
            _row(second, "match", "cache-key-ignores-params", 0).locator(".verdict")
        ).to_have_text("confirmed")
        expect(_audit(second)).to_have_text(["match.confirmed"])
        # Now on the current version, the same click goes through.
        _row(second, "match", "cache-key-ignores-params", 0).get_by_role(
            "button", name="Reject"
        ).click()
        expect(
            _row(second, "match", "cache-key-ignores-params", 0).locator(".verdict")
        ).to_have_text("rejected")
    finally:
        for context in contexts:
            context.close()
