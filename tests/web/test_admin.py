"""Accounts in the browser: roles, password resets, confirmed disabling, one's own password,
and the pages around them (home, 404, favicon)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.db import get_sessionmaker
from app.users import service as users_service
from app.users.models import Role, User
from tests.web.factories import TEST_PASSWORD, make_user, sign_in

NEW_PASSWORD = "a fresh and long enough pass"


def test_the_add_account_form_defaults_to_grader(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.admin))
    page = client.get("/staff/users").text
    assert re.search(r'<option value="grader"\s+selected>', page)
    assert not re.search(r'<option value="admin"\s+selected>', page)


def test_an_admin_changes_a_role_and_resets_a_password(
    client: TestClient, session: Session
) -> None:
    admin = make_user(session, role=Role.admin, name="Ann Admin")
    csrf = sign_in(client, session, admin)
    target = make_user(session, role=Role.grader, name="Gus Grader")
    moved = client.post(
        f"/staff/users/{target.id}/role",
        data={"csrf_token": csrf, "role": "author"},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and target.role is Role.author
    bad = client.post(f"/staff/users/{target.id}/role", data={"csrf_token": csrf, "role": "boss"})
    assert bad.status_code == 422 and "the role must be one of" in bad.text
    own = client.post(f"/staff/users/{admin.id}/role", data={"csrf_token": csrf, "role": "grader"})
    assert own.status_code == 409 and admin.role is Role.admin
    short = client.post(
        f"/staff/users/{target.id}/password", data={"csrf_token": csrf, "password": "short"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.text
    reset = client.post(
        f"/staff/users/{target.id}/password",
        data={"csrf_token": csrf, "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    assert users_service.authenticate(session, target.email, NEW_PASSWORD) is not None
    page = client.get("/staff/users").text
    assert "Ann Admin changed Gus Grader&#39;s role from grader to author." in page
    assert "Ann Admin changed the password of Gus Grader." in page
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.subject_type == "user", AuditEvent.subject_id == str(target.id)
        )
    ).all()
    assert "user.role_changed" in actions and "user.password_changed" in actions


def test_a_user_changes_their_own_password(client: TestClient, session: Session) -> None:
    user = make_user(session, role=Role.grader)
    csrf = sign_in(client, session, user)
    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current": "not it",
            "password": NEW_PASSWORD,
            "repeat": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422 and "the current password is wrong" in wrong.text
    differ = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current": TEST_PASSWORD,
            "password": NEW_PASSWORD,
            "repeat": "x",
        },
    )
    assert differ.status_code == 422 and "the new passwords differ" in differ.text
    done = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current": TEST_PASSWORD,
            "password": NEW_PASSWORD,
            "repeat": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200 and 'id="password-changed"' in done.text
    # This browser stays signed in on a new session; the old password no longer works.
    assert client.get("/account").status_code == 200
    assert users_service.authenticate(session, user.email, TEST_PASSWORD) is None
    assert users_service.authenticate(session, user.email, NEW_PASSWORD) is not None


def test_the_favicon_is_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert 'rel="icon"' in client.get("/login").text


@pytest.mark.browser
def test_admin_pages_in_the_browser(page: Page, live_server: str) -> None:
    with get_sessionmaker().begin() as session:
        admin = make_user(session, role=Role.admin, name="Ada Browser")
        target = make_user(session, role=Role.grader, name="Dee Sable")
        admin_email, target_email, target_id = admin.email, target.email, target.id
    _sign_in_any(page, live_server, admin_email)
    # Home, signed in: navigation and sign-out.
    page.goto(f"{live_server}/")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Users")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # A page that does not exist keeps the navigation.
    missing = page.goto(f"{live_server}/no/such/page")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Queue")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.goto(f"{live_server}/staff/users")
    expect(page.locator("#new-role")).to_have_value("grader")
    row = page.locator(f'tr[data-user="{target_email}"]')
    # Disabling asks first: nothing happens until the second, explicit button.
    row.get_by_text("Disable…").click()
    row.get_by_role("button", name=f"Yes, disable {target_email}").click()
    row = page.locator(f'tr[data-user="{target_email}"]')
    expect(row).to_contain_text("disabled")
    expect(page.locator("#account-activity .audit-sentence").first).to_have_text(
        "Ada Browser disabled Dee Sable."
    )
    row.get_by_label(f"Role of {target_email}").select_option("author")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator(f'tr[data-user="{target_email}"] select')).to_have_value("author")
    with get_sessionmaker()() as session:
        user = session.get(User, target_id)
        assert user is not None and (user.role, user.is_active) == (Role.author, False)


def _sign_in_any(page: Page, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
