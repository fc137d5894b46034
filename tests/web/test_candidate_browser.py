"""The candidate's page in headless Chromium: comment, reorder, survive reloads and a dropped
network, submit, and the automatic submission at the deadline."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.invites import service as invite_service
from app.scoring.models import AutoScore
from app.submissions.models import Submission, SubmissionStatus
from tests.web.browser import (
    SAVED,
    add_inline,
    expect_ui,
    new_link,
    start,
    submission_row,
)

# The live server runs in this process and grades with the instant grader.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fake_grader")]


def comment_texts(page: Any) -> list[str]:
    """The comments in the side list, as '#n severity anchor' heads and bodies."""
    items = page.locator("#comment-list > li")
    out = []
    for i in range(items.count()):
        item = items.nth(i)
        severity = item.locator("select.sev-select").input_value() or "none"
        anchor = item.locator(".anchor").inner_text()
        body = item.locator(".md").inner_text().strip()
        out.append(f"{severity} {anchor} {body}")
    return out


def test_review_flow_survives_reloads_and_a_dropped_network(page: Any, live_server: str) -> None:
    invite_id = start(page, live_server)
    expect = expect_ui()
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^1:(29|30):\d\d$"))

    # A single line, by clicking its number.
    page.locator("#f-client-py-L72 td.ln a").click()
    expect(page.locator("#compose-title")).to_have_text("Comment on client.py line 72")
    add_inline(page, "The cache key ignores **the model**.", "critical")

    # A range: click one line, Shift-click another.
    page.locator("#f-client-py-L144 td.ln a").click()
    page.locator("#f-client-py-L150 td.ln a").click(modifiers=["Shift"])
    expect(page.locator("#compose-title")).to_have_text("Comment on client.py lines 144–150")
    add_inline(page, "Retrying after the first delta duplicates output.", "major")

    # A range by keyboard alone: focus the code, arrows, Shift+arrow, Enter, Ctrl+Enter.
    page.locator("table.code[data-file='sse.py']").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#compose-title")).to_have_text("Comment on sse.py lines 3–4")
    page.keyboard.type("Is this parser shared with other services?")
    page.keyboard.press("Control+Enter")

    expect(page.locator("#comment-list > li")).to_have_count(3)
    expect(page.locator("#save-status")).to_have_text(SAVED)
    # Markdown is rendered (and sanitized) by the server once saved.
    expect(page.locator("#comment-list > li").first.locator(".md strong")).to_have_text("the model")

    # Severity from the list, then reorder: the question goes last, the retry bug first.
    page.locator("#comment-list > li").nth(2).locator("select.sev-select").select_option("minor")
    page.locator("#comment-list > li").nth(1).get_by_role("button", name="Up").click()
    page.locator("#summary-text").fill("Fix the retry loop first, then the cache key.")
    expect(page.locator("#save-status")).to_have_text(SAVED)
    expected = [
        "major client.py:144–150 Retrying after the first delta duplicates output.",
        "critical client.py:72 The cache key ignores the model.",
        "minor sse.py:3–4 Is this parser shared with other services?",
    ]
    assert comment_texts(page) == expected

    page.reload()
    expect(page.locator("#comment-list > li")).to_have_count(3)
    assert comment_texts(page) == expected
    expect(page.locator("#summary-text")).to_have_value(
        "Fix the retry loop first, then the cache key."
    )
    # Inline threads show under the last line of each range.
    expect(page.locator("#f-client-py-L150 + tr.thread-row")).to_contain_text("Retrying after")

    # Edit a comment in place.
    first = page.locator("#comment-list > li").first
    first.get_by_role("button", name=re.compile("^Edit")).click()
    first.locator("textarea").fill("Retrying after the first delta duplicates the answer.")
    first.get_by_role("button", name=re.compile("^Finish editing")).click()
    expect(page.locator("#save-status")).to_have_text(SAVED)

    # The network drops: the page says so, keeps the change, and sends it once it is back.
    page.route("**/api/candidate/draft", lambda route: route.abort())
    page.locator("#f-limits-py-L5 td.ln a").click()
    add_inline(page, "Each pod gets a sixth of the quota.", "minor")
    expect(page.locator("#save-status")).to_have_text(re.compile("Not saved"))
    assert page.locator("#save-status").get_attribute("class") == "save-status warn"
    page.unroute("**/api/candidate/draft")
    # A reload before the connection returns: the change comes back from localStorage.
    page.reload()
    expect(page.locator("#comment-list > li")).to_have_count(4)
    expect(page.locator("#save-status")).to_have_text(SAVED)
    row = submission_row(invite_id)
    assert [c.body for c in row.comments] == [
        "Retrying after the first delta duplicates the answer.",
        "The cache key ignores **the model**.",
        "Is this parser shared with other services?",
        "Each pod gets a sixth of the quota.",
    ]
    assert [(c.file, c.line, c.end_line, c.severity) for c in row.comments] == [
        ("client.py", 144, 150, "major"),
        ("client.py", 72, None, "critical"),
        ("sse.py", 3, 4, "minor"),
        ("limits.py", 5, None, "minor"),
    ]

    # Delete, then undo.
    page.locator("#comment-list > li").nth(3).get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    expect(page.locator("#comment-list > li")).to_have_count(3)
    page.locator("#banner").get_by_role("button", name="Undo").click()
    expect(page.locator("#comment-list > li")).to_have_count(4)

    # Submit: a confirmation of what is sent, then the receipt.
    page.locator("#review-submit").click()
    page.wait_for_url("**/take/submit")
    expect(page.locator(".confirm-list > li")).to_have_count(4)
    expect(page.locator(".summary-preview")).to_contain_text("Fix the retry loop first")
    page.locator("#confirm-submit").click()
    page.wait_for_url("**/take/receipt")
    expect(page.locator("h1")).to_have_text("Your review was submitted")
    row = submission_row(invite_id)
    assert row.status == SubmissionStatus.submitted
    expect(page.locator("#receipt-id")).to_have_text(row.public_id)
    expect(page.locator("#receipt-digest")).to_have_text(row.content_digest or "?")
    expect(page.locator("#receipt-count")).to_have_text("4")
    assert "score" not in page.content().lower()
    with get_sessionmaker()() as session:
        assert session.scalars(
            select(AutoScore.total).where(AutoScore.submission_id == row.id)
        ).all() == [42.0]

    # The link is used up: this browser is led to its receipt, any other gets the same page
    # as for any bad link.
    link = new_link_for_used(invite_id, live_server)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Your review was submitted")
    other = page.context.browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(link)
        expect(stranger.locator("h1")).to_have_text("This link cannot be used")
    finally:
        other.close()


def new_link_for_used(invite_id: int, live_server: str) -> str:
    """A fresh token swapped onto the used invite, to open it again as a candidate would."""
    from app.security import new_token, token_hash

    token = new_token()
    with get_sessionmaker().begin() as session:
        from app.invites.models import Invite

        invite = session.get(Invite, invite_id)
        assert invite is not None
        invite.token_hash = token_hash(token)
    return invite_service.invite_url(token, live_server)


def test_the_draft_is_submitted_when_the_time_runs_out(page: Any, live_server: str) -> None:
    expect = expect_ui()
    invite_id = start(page, live_server)
    page.locator("#f-client-py-L72 td.ln a").click()
    add_inline(page, "Cache key misses the model.", "critical")
    expect(page.locator("#save-status")).to_have_text(SAVED)

    # A comment being written but not yet added survives a reload too.
    page.locator("#f-client-py-L80 td.ln a").click()
    page.locator("#compose-body").fill("Half-written: the payload")
    page.reload()
    expect(page.locator("#compose-body")).to_have_value("Half-written: the payload")
    expect(page.locator("#banner")).to_contain_text("The comment you were writing is back")

    with get_sessionmaker().begin() as session:
        row = session.scalars(select(Submission).where(Submission.invite_id == invite_id)).one()
        row.deadline_at = utcnow() + timedelta(seconds=3)
    page.reload()
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^0:0[0-3]$"))
    # An edit in the last seconds still goes out with the automatic submission.
    page.locator("#summary-text").fill("Out of time.")
    page.wait_for_url("**/take/receipt", timeout=10_000)
    expect(page.locator("h1")).to_have_text("Time is up: your review was submitted")
    row = submission_row(invite_id)
    assert row.status == SubmissionStatus.auto_submitted
    # The unfinished comment went out with it, where it was anchored.
    assert [(c.body, c.line) for c in row.comments] == [
        ("Cache key misses the model.", 72),
        ("Half-written: the payload", 80),
    ]
    assert row.summary == "Out of time."

    # Nothing can change afterwards, even with a valid session and CSRF token.
    state = page.request.get(f"{live_server}/api/candidate").json()
    assert state["status"] == "auto_submitted" and state["draft"] is None
    response = page.request.put(
        f"{live_server}/api/candidate/draft",
        data={"base_revision": row.draft_revision, "comments": [], "summary": ""},
        headers={"X-CSRF-Token": state["csrf_token"]},
    )
    assert response.status == 409
    assert response.json()["code"] == "already_submitted"


def test_time_running_out_on_the_confirmation_page_submits(page: Any, live_server: str) -> None:
    expect = expect_ui()
    invite_id = start(page, live_server)
    page.locator("#f-sse-py-L3 td.ln a").click()
    add_inline(page, "Parser state leaks between streams?", "major")
    page.locator("#review-submit").click()
    page.wait_for_url("**/take/submit")
    with get_sessionmaker().begin() as session:
        row = session.scalars(select(Submission).where(Submission.invite_id == invite_id)).one()
        row.deadline_at = utcnow() + timedelta(seconds=2)
    page.reload()
    expect(page.locator("#confirm-time-left")).to_have_text(re.compile(r"^0:0[0-2]$"))
    page.wait_for_url("**/take/receipt", timeout=8_000)
    expect(page.locator("h1")).to_have_text("Time is up: your review was submitted")
    row = submission_row(invite_id)
    assert row.status == SubmissionStatus.auto_submitted
    assert [c.body for c in row.comments] == ["Parser state leaks between streams?"]


def test_selecting_code_with_the_mouse_comments_on_the_range(page: Any, live_server: str) -> None:
    expect = expect_ui()
    link = new_link(live_server)
    invite_id = start(page, live_server, link)
    page.locator("#f-limits-py-L14").scroll_into_view_if_needed()
    first = page.locator("#f-limits-py-L10 td.src").bounding_box()
    last = page.locator("#f-limits-py-L12 td.src").bounding_box()
    assert first and last
    page.mouse.move(first["x"] + 30, first["y"] + first["height"] / 2)
    page.mouse.down()
    page.mouse.move(last["x"] + 60, last["y"] + last["height"] / 2, steps=5)
    page.mouse.up()
    expect(page.locator("#compose-title")).to_have_text("Comment on limits.py lines 10–12")
    add_inline(page, "Why a sixth of the quota per pod?", "minor")
    expect(page.locator("#comment-list .anchor")).to_have_text("limits.py:10–12")
    # A second comment from the side form, typed without touching the mouse.
    page.locator("#compose-file").select_option("sse.py")
    page.locator("#compose-line").fill("7")
    page.locator("#compose-body").focus()
    page.keyboard.type("Event boundaries split across chunks?")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#comment-list > li")).to_have_count(2)
    # Alt+Up moves the focused comment up the order.
    page.locator("#comment-list > li").nth(1).get_by_role(
        "button", name=re.compile("^Edit")
    ).focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#comment-list > li").first.locator(".anchor")).to_have_text("sse.py:7")
    # The server drops out for a moment: the page warns, retries on its own, and catches up.
    page.route("**/api/candidate/draft", lambda route: route.fulfill(status=503, body="{}"))
    page.locator("#comment-list > li").first.locator("select.sev-select").select_option("nit")
    expect(page.locator("#save-status")).to_have_text(re.compile("Not saved"))
    page.unroute("**/api/candidate/draft")
    expect(page.locator("#save-status")).to_have_text(SAVED)
    # Steady typing still reaches the server every couple of seconds, pause or not.
    typed = "Ship after the cache key and retry fixes."
    page.locator("#summary-text").focus()
    page.keyboard.type(typed, delay=100)
    mid_typing = submission_row(invite_id).summary
    assert mid_typing and typed.startswith(mid_typing), mid_typing
    # Cancelling the inline form: it goes back to the side panel and nothing is added.
    page.locator("#f-limits-py-L20 td.ln a").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("tr.compose-row")).to_have_count(0)
    expect(page.locator("#comment-list > li")).to_have_count(2)

    # A tab closed right after a change: reopening the link finds the change.
    page.locator("#comment-list > li").first.locator("select.sev-select").select_option("major")
    context = page.context
    page.close()
    again = context.new_page()
    again.goto(link[0])
    expect(again.locator("#comment-list > li").first.locator("select.sev-select")).to_have_value(
        "major"
    )
    expect(again.locator("#save-status")).to_have_text(SAVED)
    assert submission_row(invite_id).comments[0].severity == "major"


def test_the_flow_works_without_javascript(browser: Any, live_server: str) -> None:
    expect = expect_ui()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        invite_id = start(page, live_server)
        page.locator("#f-client-py-L72 td.ln a").click()
        expect(page.locator("#compose-line")).to_have_value("72")
        page.locator("#compose-end-line").fill("74")
        page.locator("#compose-severity").select_option("critical")
        page.locator("#compose-body").fill("Cache key ignores the model.")
        page.locator("#compose-add").click()
        expect(page.locator("#comment-list > li")).to_have_count(1)
        expect(page.locator("#f-client-py-L74 + tr.thread-row")).to_contain_text("Cache key")
        page.locator("#summary-text").fill("Fix the cache.")
        page.locator("#summary-save").click()
        page.locator("#review-submit").click()
        page.locator("#confirm-submit").click()
        expect(page.locator("h1")).to_have_text("Your review was submitted")
        row = submission_row(invite_id)
        assert (row.summary, [c.end_line for c in row.comments]) == ("Fix the cache.", [74])
    finally:
        context.close()
