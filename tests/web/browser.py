"""Steps several browser tests take on the live server: a candidate's page, a staff sign-in."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.db import get_sessionmaker
from app.invites import service as invite_service
from app.submissions.models import Submission
from tests.web.factories import DEFAULT_ASSESSMENT, TEST_PASSWORD

SAVED = re.compile(r"Saved at")


def expect_ui() -> Any:
    """Playwright's `expect`, patient enough for a loaded machine."""
    from playwright.sync_api import expect

    expect.set_options(timeout=8_000)
    return expect


def new_link(live_server: str) -> tuple[str, int]:
    """A committed invite: its link and id (the live server has its own sessions)."""
    with get_sessionmaker().begin() as session:
        new = invite_service.create_invite(
            session, assessment=DEFAULT_ASSESSMENT, candidate_name="Grace", base_url=live_server
        )
        return new.url, new.invite.id


def submission_row(invite_id: int) -> Submission:
    """The submission of an invite, read fresh from the database."""
    with get_sessionmaker()() as session:
        row = session.scalars(select(Submission).where(Submission.invite_id == invite_id)).one()
        row.comments  # noqa: B018 -- load before the session closes
        session.expunge_all()
        return row


def start(page: Any, live_server: str, link: tuple[str, int] | None = None) -> int:
    """Open a fresh invite (or `link`) and press Start; returns the invite id."""
    url, invite_id = link or new_link(live_server)
    page.goto(url)
    assert page.url == f"{live_server}/take", "the token must leave the address bar"
    page.get_by_role("button", name=re.compile("Start the assessment")).click()
    page.wait_for_selector("table.code[data-file='client.py']")
    return invite_id


def add_inline(page: Any, body: str, severity: str) -> None:
    """Fill the comment form that opened under the code, and add it."""
    form = page.locator("tr.compose-row #compose-form")
    form.locator("#compose-severity").select_option(severity)
    form.locator("#compose-body").fill(body)
    form.get_by_role("button", name="Add comment").click()


def sign_in_staff(page: Any, live_server: str, email: str) -> None:
    """Sign in from the home page as the staff account `email`; lands on the queue."""
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_ui()(page).to_have_url(f"{live_server}/staff/queue")
