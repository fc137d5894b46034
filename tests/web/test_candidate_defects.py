"""Candidate-side defects found in use: nothing typed is lost, the brief stays reachable, and
"Saved at" is in UTC like the deadline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.submissions.models import SubmissionStatus
from tests.web.browser import (
    add_inline,
    expect_ui,
    new_link,
    start,
    submission_row,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fake_grader")]


def test_a_typed_but_not_added_comment_is_submitted(page: Any, live_server: str) -> None:
    expect = expect_ui()
    invite_id = start(page, live_server)
    page.locator("#f-client-py-L72 td.ln a").click()
    add_inline(page, "The cache key ignores the model.", "critical")
    page.locator("#f-client-py-L150 td.ln a").click()
    page.locator("#compose-body").fill("Retries after the first delta duplicate output.")
    page.locator("#review-submit").click()
    page.wait_for_url("**/take/submit")
    expect(page.locator(".confirm-list > li")).to_have_count(2)
    expect(page.locator(".confirm-list > li").nth(1)).to_contain_text("duplicate output")
    page.locator("#confirm-submit").click()
    page.wait_for_url("**/take/receipt")
    row = submission_row(invite_id)
    assert row.status == SubmissionStatus.submitted
    assert [(c.line, c.body) for c in row.comments] == [
        (72, "The cache key ignores the model."),
        (150, "Retries after the first delta duplicate output."),
    ]


def test_the_losing_tab_brings_its_text_back(page: Any, live_server: str) -> None:
    expect = expect_ui()
    invite_id = start(page, live_server)
    other = page.context.new_page()  # the same browser: same cookie, same localStorage
    other.goto(f"{live_server}/take")
    other.wait_for_selector("table.code[data-file='client.py']")

    page.locator("#f-client-py-L72 td.ln a").click()
    add_inline(page, "Winner: the cache key ignores the model.", "critical")
    expect(page.locator("#save-status")).to_have_text(re.compile("Saved at"))

    other.locator("#summary-text").fill("Loser: fix the retry loop before anything else.")
    other.locator("#f-client-py-L150 td.ln a").click()
    add_inline(other, "Loser: retries duplicate streamed output.", "major")
    expect(other.locator("#banner")).to_contain_text("another tab")
    other.locator("#banner").get_by_role("button", name="Reload").click()

    expect(other.locator("#comment-list > li")).to_have_count(1)
    other.locator("#banner").get_by_role(
        "button", name="Bring back the text from the other tab"
    ).click()
    expect(other.locator("#comment-list > li")).to_have_count(2)
    expect(other.locator("#banner")).to_contain_text("Brought back 1 comment and the summary")
    expect(other.locator("#save-status")).to_have_text(re.compile("Saved at"))
    row = submission_row(invite_id)
    assert [c.body for c in row.comments] == [
        "Winner: the cache key ignores the model.",
        "Loser: retries duplicate streamed output.",
    ]
    assert row.summary == "Loser: fix the retry loop before anything else."


def test_the_brief_stays_reachable_after_start(page: Any, live_server: str) -> None:
    expect = expect_ui()
    start(page, live_server)
    brief = page.locator("#brief")
    expect(brief.locator(".brief")).to_be_hidden()
    brief.locator("summary").click()
    expect(brief.locator(".brief")).to_contain_text("About 120,000 requests a day")
    page.reload()  # reopening goes straight to the review, and the brief is still there
    page.locator("#brief summary").click()
    expect(page.locator("#brief .brief")).to_contain_text("Who uses it")


def test_saved_at_is_in_utc_whatever_the_browser_zone(browser: Any, live_server: str) -> None:
    expect = expect_ui()
    # Kiritimati is UTC+14: no local clock reading can pass for UTC there.
    context = browser.new_context(timezone_id="Pacific/Kiritimati", locale="en-US")
    try:
        page = context.new_page()
        start(page, live_server, new_link(live_server))
        before = datetime.now(UTC)
        page.locator("#summary-text").fill("Fix the cache key first.")
        status = page.locator("#save-status")
        expect(status).to_have_text(re.compile(r"^Saved at \d\d:\d\d:\d\d UTC$"))
        shown = status.inner_text().removeprefix("Saved at ").removesuffix(" UTC")
        moments = {(before + timedelta(seconds=s)).strftime("%H:%M:%S") for s in range(-1, 12)}
        assert shown in moments
        page.reload()
        expect(status).to_have_text(re.compile(r"^Saved at \d\d:\d\d:\d\d UTC$"))
    finally:
        context.close()
