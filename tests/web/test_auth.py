"""Accounts: sign in and out, server-side sessions, cookies, CSRF, and the admin page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth import SESSION_COOKIE
from app.cli import main as cli_main
from app.limits import service as limits
from app.security import csrf_token_for, token_hash
from app.users import service
from app.users.models import Role, User, UserSession
from tests.web.factories import TEST_PASSWORD, make_user, sign_in


def _login_csrf(client: TestClient, next_path: str = "") -> str:
    page = client.get("/login" + (f"?next={next_path}" if next_path else ""))
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _login(client: TestClient, email: str, password: str, next_path: str = "/staff/users"):
    csrf = _login_csrf(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf, "next": next_path},
        follow_redirects=False,
    )


def test_home_links_to_login(client: TestClient) -> None:
    assert 'href="/login"' in client.get("/").text


def test_password_is_hashed_with_argon2(session: Session) -> None:
    user = make_user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in user.password_hash


def test_short_passwords_are_refused(session: Session) -> None:
    with pytest.raises(service.WeakPassword):
        make_user(session, password="short")


def test_login_sets_a_hardened_cookie_and_stores_only_the_hash(
    client: TestClient, session: Session
) -> None:
    admin = make_user(session, role=Role.admin)
    response = _login(client, admin.email.upper(), TEST_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/users"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the test base_url is http
    token = client.cookies[SESSION_COOKIE]
    stored = session.scalars(select(UserSession).where(UserSession.user_id == admin.id)).one()
    assert stored.token_hash == token_hash(token)
    assert stored.token_hash != token
    assert client.get("/staff/users").status_code == 200


def test_wrong_password_and_unknown_account_look_the_same(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    wrong = _login(client, user.email, "not the password at all")
    unknown = _login(client, "nobody@example.test", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text
    assert SESSION_COOKIE not in client.cookies


def test_disabled_accounts_cannot_sign_in(client: TestClient, session: Session) -> None:
    user = make_user(session, is_active=False)
    assert _login(client, user.email, TEST_PASSWORD).status_code == 401


def test_login_renews_the_session(client: TestClient, session: Session) -> None:
    user = make_user(session)
    _login(client, user.email, TEST_PASSWORD)
    first = client.cookies[SESSION_COOKIE]
    # Signed in, the session token is the CSRF seed; signing in again replaces the session.
    client.post(
        "/login",
        data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_token_for(first)},
        follow_redirects=False,
    )
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    hashes = set(
        session.scalars(select(UserSession.token_hash).where(UserSession.user_id == user.id))
    )
    assert hashes == {token_hash(second)}


def test_login_refuses_a_missing_csrf_token(client: TestClient, session: Session) -> None:
    user = make_user(session)
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_login_never_redirects_off_site(client: TestClient, session: Session) -> None:
    user = make_user(session)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client.cookies.clear()
        response = _login(client, user.email, TEST_PASSWORD, next_path=target)
        assert response.headers["location"] == "/staff/queue"


def test_logout_ends_the_server_session(client: TestClient, session: Session) -> None:
    user = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, user)
    token = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert (
        session.scalars(
            select(UserSession).where(UserSession.token_hash == token_hash(token))
        ).first()
        is None
    )
    client.cookies.set(SESSION_COOKIE, token)  # a copied cookie no longer works
    assert client.get("/staff/users", follow_redirects=False).status_code == 303


def test_anonymous_staff_page_redirects_to_login(client: TestClient) -> None:
    response = client.get("/staff/users?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/staff/users%3Fx%3D1"


def test_admin_adds_a_user_on_the_web_and_it_is_audited(
    client: TestClient, session: Session
) -> None:
    admin = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, admin)
    response = client.post(
        "/staff/users",
        data={
            "csrf_token": csrf,
            "email": "New.Grader@Example.test",
            "name": "New Grader",
            "role": "grader",
            "password": "a long enough password",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    created = service.get_user_by_email(session, "new.grader@example.test")
    assert created.role is Role.grader
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_type == "user", AuditEvent.subject_id == str(created.id)
        )
    ).one()
    assert (event.actor_id, event.action) == (admin.id, "user.created")
    assert event.after == {
        "email": "new.grader@example.test",
        "name": "New Grader",
        "role": "grader",
        "is_active": True,
    }
    page = client.get("/staff/users")
    assert "new.grader@example.test" in page.text


def test_admin_page_reports_bad_input(client: TestClient, session: Session) -> None:
    admin = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, admin)
    response = client.post(
        "/staff/users",
        data={
            "csrf_token": csrf,
            "email": admin.email,
            "name": "Again",
            "role": "grader",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 422
    assert "already exists" in response.text


def test_disabling_a_user_ends_their_sessions(client: TestClient, session: Session) -> None:
    admin = make_user(session, role=Role.admin)
    grader = make_user(session)
    service.start_session(session, grader)
    csrf = sign_in(client, session, admin)
    response = client.post(
        f"/staff/users/{grader.id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert response.status_code == 200
    session.refresh(grader)
    assert grader.is_active is False
    assert (
        session.scalars(select(UserSession).where(UserSession.user_id == grader.id)).first() is None
    )


def test_admin_cannot_disable_themselves(client: TestClient, session: Session) -> None:
    admin = make_user(session, role=Role.admin)
    csrf = sign_in(client, session, admin)
    response = client.post(
        f"/staff/users/{admin.id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert response.status_code == 409


def test_nav_shows_links_by_role(client: TestClient, session: Session) -> None:
    author = make_user(session, role=Role.author)
    sign_in(client, session, author)
    refused = client.get("/staff/users")
    assert refused.status_code == 403
    assert "Sign out" in refused.text
    assert 'href="/staff/invites"' in refused.text
    assert 'href="/staff/users"' not in refused.text
    assert 'href="/staff/queue"' not in refused.text
    admin = make_user(session, role=Role.admin)
    sign_in(client, session, admin)
    page = client.get("/staff/users").text
    for link in ("/staff/queue", "/staff/invites", "/staff/users", "/staff/export"):
        assert f'href="{link}"' in page


def test_cli_adds_a_user_with_a_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: object
) -> None:
    import io

    from app.db import get_sessionmaker
    from tests.web.factories import unique

    email = f"{unique('cli')}@example.test"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert (
        cli_main(
            ["users", "add", email, "--role", "author", "--name", "Cli Author", "--password-stdin"]
        )
        == 0
    )
    assert "created author" in capsys.readouterr().out
    with get_sessionmaker()() as db:
        user = db.scalars(select(User).where(User.email == email.lower())).one()
        assert user.role is Role.author
        assert service.authenticate(db, email, "a long enough password") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli_main(
            [
                "users",
                "add",
                f"{unique('cli')}@example.test",
                "--role",
                "grader",
                "--password-stdin",
            ]
        )
        == 1
    )


def _client_from(client: TestClient, address: str) -> TestClient:
    return TestClient(client.app, client=(address, 40000))


def test_repeated_wrong_passwords_pause_sign_in_from_that_address_only(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    attacker = _client_from(client, "203.0.113.7")
    for _ in range(limits.SIGN_IN_PAIR.hits):
        assert _login(attacker, user.email, "not the password at all").status_code == 401
    paused = _login(attacker, user.email, TEST_PASSWORD)
    assert paused.status_code == 429
    assert "Too many sign-in attempts" in paused.text
    assert 60 <= int(paused.headers["retry-after"]) <= 15 * 60
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_type == "user", AuditEvent.subject_id == str(user.id)
            )
        )
    ]
    assert actions == ["user.login_failed"] * limits.SIGN_IN_PAIR.hits
    # The owner, elsewhere, is not locked out by someone else's guesses.
    owner = _client_from(client, "198.51.100.20")
    assert _login(owner, user.email, TEST_PASSWORD).status_code == 303


def test_the_pause_does_not_tell_whether_an_account_exists(
    client: TestClient, session: Session
) -> None:
    real = make_user(session)
    answers = []
    for email in (real.email, "nobody-here@example.test"):
        guesser = _client_from(client, "203.0.113.8")
        for _ in range(limits.SIGN_IN_PAIR.hits):
            assert _login(guesser, email, "not the password at all").status_code == 401
        paused = _login(guesser, email, "not the password at all")
        answers.append((paused.status_code, paused.text.replace(email, "EMAIL")))
    assert answers[0][0] == answers[1][0] == 429
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", answers[0][1]) == strip.sub("", answers[1][1])


def test_spraying_many_accounts_from_one_address_is_slowed(
    client: TestClient, session: Session
) -> None:
    sprayer = _client_from(client, "203.0.113.9")
    statuses = [
        _login(sprayer, f"account-{n}@example.test", "Winter2026!").status_code
        for n in range(limits.SIGN_IN_ADDRESS.hits + 1)
    ]
    assert statuses == [401] * limits.SIGN_IN_ADDRESS.hits + [429]


def test_a_successful_sign_in_is_audited(client: TestClient, session: Session) -> None:
    user = make_user(session)
    assert _login(client, user.email, TEST_PASSWORD).status_code == 303
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_type == "user", AuditEvent.subject_id == str(user.id)
        )
    ).one()
    assert (event.action, event.actor_id) == ("user.login", user.id)


def test_cli_lists_disables_and_resets_accounts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: object
) -> None:
    import io

    from app.db import get_sessionmaker

    with get_sessionmaker().begin() as db:
        user = make_user(db, role=Role.grader)
        email, user_id = user.email, user.id
        token = service.start_session(db, user)
    assert cli_main(["users", "list"]) == 0
    assert f"{user_id}\t{email}\tgrader\tactive" in capsys.readouterr().out
    assert cli_main(["users", "disable", email]) == 0
    with get_sessionmaker()() as db:
        assert service.user_for_token(db, token) is None  # disabling ends the sessions
        assert service.authenticate(db, email, TEST_PASSWORD) is None
    assert cli_main(["users", "enable", email]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase\n"))
    assert cli_main(["users", "set-password", email, "--password-stdin"]) == 0
    with get_sessionmaker()() as db:
        assert service.authenticate(db, email, "a brand new passphrase") is not None
    assert cli_main(["users", "disable", "nobody@example.test"]) == 1
    assert "no account for nobody@example.test" in capsys.readouterr().err


def test_a_stale_session_cookie_does_not_block_signing_in(
    client: TestClient, session: Session
) -> None:
    user = make_user(session)
    # A session that ended (expired, signed out elsewhere) leaves its cookie in the browser.
    client.cookies.set(SESSION_COOKIE, "a-session-the-server-no-longer-knows")
    response = _login(client, user.email, TEST_PASSWORD, next_path="/staff/queue")
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == "/staff/queue"
