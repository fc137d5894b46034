"""Every page in Chromium with the Content-Security-Policy on: nothing is blocked (no inline
script or style is left), and a candidate's Markdown image is never fetched."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from app.db import get_sessionmaker
from app.settings import PROJECT_ROOT
from app.users.models import Role
from tests.web.browser import SAVED, add_inline, start
from tests.web.factories import (
    TEST_PASSWORD,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fake_grader")]

PIXEL = "http://tracker.example/pixel.png"
SLUG = "docs-rag"


def first_bug() -> str:
    """The key of the first seeded bug of SLUG, as the grade-by-bug page names it."""
    key = yaml.safe_load((PROJECT_ROOT / "seeded_bugs" / f"{SLUG}.yaml").read_text())
    return str(key["bugs"][0]["id"])


class Watch:
    """What the browser reported about the policy, and every request it made off the server."""

    def __init__(self, page: Any, live_server: str) -> None:
        self.violations: list[str] = []
        self.offsite: list[str] = []
        page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation', function (e) {"
            "  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' +"
            "                    e.sourceFile + ':' + e.lineNumber); });"
        )
        page.on(
            "console",
            lambda m: (
                self.violations.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith((live_server, "data:")) else self.offsite.append(r.url)
            ),
        )
        # Nothing may leave loopback, whatever the page asks for.
        page.route(
            re.compile(r"^(?!" + re.escape(live_server) + ").*"), lambda route: route.abort()
        )

    def check(self, page: Any, where: str) -> None:
        page.wait_for_load_state("load")
        self.violations.extend(f"{where}: {v}" for v in page.evaluate("window.__csp || []"))
        assert self.violations == [], self.violations
        assert self.offsite == [], self.offsite


def test_every_page_runs_under_the_policy(page: Any, live_server: str) -> None:
    watch = Watch(page, live_server)
    with get_sessionmaker().begin() as session:
        admin = make_user(session, role=Role.admin, name="Csp Admin")
        submission = make_submission(
            session,
            comments=[f"Tracking ![pixel]({PIXEL}) here, and `code`."],
            summary=f"![s]({PIXEL})",
        )
        make_auto_score(session, submission, score_dict(matches=[], red_flags=[]))
        email, submission_id = admin.email, submission.id

    # The candidate: start, comment with an image, confirm, submit, receipt.
    start(page, live_server)
    watch.check(page, "/take")
    page.locator("#f-client-py-L72 td.ln a").click()
    add_inline(page, f"Look: ![p]({PIXEL})", "major")
    expect(page.locator("#save-status")).to_have_text(SAVED)
    expect(page.locator("#comment-list > li").first.locator(".md code")).to_have_text(PIXEL)
    assert page.locator("img").count() == 0
    watch.check(page, "/take with a comment")
    page.locator("#review-submit").click()
    page.wait_for_url("**/take/submit")
    watch.check(page, "/take/submit")
    page.locator("#confirm-submit").click()
    page.wait_for_url("**/take/receipt")
    watch.check(page, "/take/receipt")

    # Staff: every page of the navigation, the review page and an error page.
    page.goto(f"{live_server}/")
    watch.check(page, "/")
    page.goto(f"{live_server}/login")
    watch.check(page, "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/staff/.*"))
    version = f"/staff/assessments/{SLUG}/versions/1"
    for path in (
        "/staff/queue",
        "/staff/invites",
        "/staff/users",
        "/staff/export",
        "/staff/assessments",
        version,
        f"{version}/analysis",
        f"{version}/lint",
        f"{version}/preview",
        f"{version}/try",
        "/staff/bugs",
        f"/staff/bugs/{SLUG}/{first_bug()}",
        "/staff/reference/rubric",
        "/staff/reference/formats",
    ):
        # An error page is policy-clean too, so the status is what shows the page worked.
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, (path, response)
        expect(page.locator("main h1, main h2").first).to_be_visible()
        watch.check(page, path)
    page.goto(f"{live_server}/staff/submissions/{submission_id}")
    expect(page.locator("#comment-summary code")).to_have_text(PIXEL)
    assert page.locator("img").count() == 0
    watch.check(page, "/staff/submissions/ID")

    # Creating an invite shows its link once, selected on focus by the staff script.
    page.goto(f"{live_server}/staff/invites")
    page.locator("#inv-name").fill("Csp Candidate")
    page.locator("#inv-name").press("Enter")
    link = page.locator("#invite-link")
    expect(link).to_be_visible()
    link.focus()
    assert page.evaluate("document.activeElement.selectionEnd") == len(link.input_value())
    watch.check(page, "/staff/invites after create")

    page.goto(f"{live_server}/no/such/page")
    watch.check(page, "404")
