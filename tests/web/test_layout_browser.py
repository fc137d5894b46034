"""Pages as a new user sees them at 1280x800: nothing pushes the page sideways, code is
highlighted and given its room, Markdown is rendered, not shown as source."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.db import get_sessionmaker
from app.users.models import Role
from tests.web.browser import sign_in_staff
from tests.web.factories import (
    DEFAULT_ASSESSMENT,
    TEST_PASSWORD,
    assessment_version,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
)

pytestmark = pytest.mark.browser

LONG_URL = "https://example.com/" + "x" * 240
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _sign_in(page: Page, live_server: str, role: Role) -> None:
    with get_sessionmaker().begin() as session:
        email = make_user(session, role=role).email
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(f"{live_server}/login")


@pytest.mark.parametrize("slug", ["billing-proration", DEFAULT_ASSESSMENT])
def test_answer_key_page_gives_the_code_its_room_and_renders_the_key(
    page: Page, live_server: str, slug: str
) -> None:
    _sign_in(page, live_server, Role.author)
    with get_sessionmaker()() as session:
        number = assessment_version(session, slug).number
    page.goto(f"{live_server}/staff/assessments/{slug}/versions/{number}")
    table = page.locator("table.code").first
    expect(table).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    table_width = table.bounding_box()["width"]  # type: ignore[index]
    key_width = table.locator("td.key").first.bounding_box()["width"]  # type: ignore[index]
    # The marker column holds a short tag; the code keeps most of the width.
    assert key_width < table_width / 4
    # Highlighted as on the candidate's page: a keyword is not in the text colour.
    keyword = table.locator("span.k, span.kd, span.kn").first
    body_colour = page.evaluate("getComputedStyle(document.body).color")
    assert keyword.evaluate("e => getComputedStyle(e).color") != body_colour
    # The bug descriptions are Markdown: `code` is rendered, not shown with its backticks.
    descriptions = page.locator(".key-entry .key-description")
    expect(descriptions.first).to_be_visible()
    assert "`" not in "".join(descriptions.all_inner_texts())
    assert page.locator(".key-entry .key-description code").count() > 0


def test_candidate_preview_highlights_the_code(page: Page, live_server: str) -> None:
    _sign_in(page, live_server, Role.author)
    with get_sessionmaker()() as session:
        number = assessment_version(session).number
    page.goto(f"{live_server}/staff/assessments/{DEFAULT_ASSESSMENT}/versions/{number}/preview")
    keyword = page.locator("table.code span.k, table.code span.kn").first
    body_colour = page.evaluate("getComputedStyle(document.body).color")
    assert keyword.evaluate("e => getComputedStyle(e).color") != body_colour
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_grade_by_bug_wraps_a_long_unbroken_comment(page: Page, live_server: str) -> None:
    bug = "cache-key-ignores-params"
    with get_sessionmaker().begin() as session:
        submission = make_submission(
            session, comments=[f"The cache key ignores the model, see {LONG_URL}"]
        )
        make_auto_score(
            session,
            submission,
            score_dict(
                matches=[{"bug": bug, "comment": 0, "confidence": 0.5}],
                near_misses=[],
                comments=[{"kind": "defect", "confidence": 0.9, "tradeoff": False}],
            ),
        )
    _sign_in(page, live_server, Role.grader)
    page.goto(f"{live_server}/staff/bugs/{DEFAULT_ASSESSMENT}/{bug}")
    expect(page.locator(".group-answer").first).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_rubric_table_headers_stay_on_one_line_beside_a_long_override_reason(
    page: Page, live_server: str
) -> None:
    with get_sessionmaker().begin() as session:
        submission = make_submission(
            session,
            comments=[
                "The cache key ignores the model.",
                "A retry after the first delta repeats output.",
                "Usage is lost when the stream ends early.",
            ],
        )
        make_auto_score(session, submission)
        submission_id = submission.id
    _sign_in(page, live_server, Role.grader)
    page.goto(f"{live_server}/staff/submissions/{submission_id}")
    page.locator("#override-box summary").click()
    page.locator("#override-dimension").select_option("tradeoffs")
    page.locator("#override-value").fill("80")
    page.locator("#override-reason").fill(
        "Weighs the cost of each fix against the risk it removes and says what to measure first."
    )
    page.get_by_role("button", name="Save override").click()
    expect(page.locator('tr[data-dimension="tradeoffs"] .reason')).to_be_visible()
    lines_per_header = page.locator("table.dims th").evaluate_all(
        """cells => cells.map(c => {
            const range = document.createRange();
            range.selectNodeContents(c);
            return [c.textContent, new Set([...range.getClientRects()].map(r => r.top)).size];
        })"""
    )
    assert lines_per_header == [[name, 1] for name, _ in lines_per_header]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_a_checkbox_sits_before_its_words(page: Page, live_server: str) -> None:
    with get_sessionmaker().begin() as session:
        email = make_user(session, role=Role.admin).email
    sign_in_staff(page, live_server, email)
    page.goto(f"{live_server}/staff/models")
    box = page.locator("#retrain input[name=force]").bounding_box()
    label = page.locator("#retrain label.inline").bounding_box()
    assert box and label
    # Not stretched to the width of the form, centred on a line above its words.
    assert box["width"] < 40, box
    assert box["y"] >= label["y"] and box["y"] + box["height"] <= label["y"] + label["height"]
    assert box["x"] - label["x"] < 10
