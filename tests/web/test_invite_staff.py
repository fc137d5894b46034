"""Creating invites: the staff page (graders and authors) and `redline invite create`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.invites.models import Invite
from app.security import token_hash
from app.users.models import Role
from tests.web.factories import make_user, sign_in

LINK = re.compile(r'id="invite-link" readonly value="(http[^"]+/i/([A-Za-z0-9_-]+))"')


@pytest.mark.parametrize("role", [Role.grader, Role.author, Role.admin])
def test_staff_create_an_invite_and_see_the_link_once(
    client: TestClient, session: Session, role: Role
) -> None:
    csrf = sign_in(client, session, make_user(session, role=role))
    page = client.get("/staff/invites")
    assert page.status_code == 200 and "Create an invite" in page.text
    response = client.post(
        "/staff/invites",
        data={
            "csrf_token": csrf,
            "assessment": "llm-gateway-client",
            "candidate_name": "Ada",
            "candidate_email": "ada@example.com",
            "expires": "2099-01-31",
        },
    )
    assert response.status_code == 201, response.text
    match = LINK.search(response.text)
    assert match, "the new link is shown"
    url, token = match.groups()
    assert url.startswith("http://testserver/i/"), "without REDLINE_BASE_URL, this site's address"
    assert len(token) >= 22
    invite = session.scalars(select(Invite).where(Invite.token_hash == token_hash(token))).one()
    assert (invite.candidate_name, invite.candidate_email) == ("Ada", "ada@example.com")
    assert invite.expires_at.isoformat().startswith("2099-01-31T23:59:59")
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_type == "invite", AuditEvent.subject_id == str(invite.id)
        )
    ).all()
    assert event.action == "invite.created" and event.actor_id == invite.created_by_id
    # The trail cannot be erased, so it never identifies the candidate: that is on the invite.
    assert event.after is not None and (event.after["named"], event.after["emailed"]) == (
        True,
        True,
    )
    assert "ada@example.com" not in str(event.after) and "Ada" not in str(event.after)
    assert token not in str(event.after), "the link never reaches the audit trail"
    listing = client.get("/staff/invites").text
    assert "ada@example.com" in listing and token not in listing, "the link is shown only once"
    client.cookies.clear()
    opened = client.get(urlsplit(url).path, follow_redirects=False)
    assert opened.status_code == 303


def test_bad_invite_input_names_each_field(client: TestClient, session: Session) -> None:
    csrf = sign_in(client, session, make_user(session, role=Role.author))
    response = client.post(
        "/staff/invites",
        data={
            "csrf_token": csrf,
            "assessment": "llm-gateway-client",
            "candidate_name": "Bob",
            "candidate_email": "not-an-address",
            "expires": "2001-01-01",
        },
    )
    assert response.status_code == 422
    assert "candidate e-mail: &#39;not-an-address&#39; is not an e-mail address" in response.text
    assert "expiry: must be in the future" in response.text
    assert 'value="Bob"' in response.text, "what was typed comes back"
    unknown = client.post("/staff/invites", data={"csrf_token": csrf, "assessment": "nope"})
    assert unknown.status_code == 422 and "no assessment called &#39;nope&#39;" in unknown.text
    bad_date = client.post(
        "/staff/invites",
        data={"csrf_token": csrf, "assessment": "llm-gateway-client", "expires": "tomorrow"},
    )
    assert bad_date.status_code == 422 and "is not a date" in bad_date.text


def test_invites_need_staff_and_csrf(client: TestClient, session: Session) -> None:
    assert client.get("/staff/invites", follow_redirects=False).status_code == 303
    sign_in(client, session, make_user(session, role=Role.grader))
    response = client.post("/staff/invites", data={"assessment": "llm-gateway-client"})
    assert response.status_code == 403


def test_revoking_stops_the_link(client: TestClient, session: Session) -> None:
    from app.invites import service

    new = service.create_invite(session, assessment="llm-gateway-client")
    csrf = sign_in(client, session, make_user(session, role=Role.grader))
    response = client.post(
        f"/staff/invites/{new.invite.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    client.cookies.clear()
    assert client.get(f"/i/{new.token}", follow_redirects=False).status_code == 404
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject_type == "invite", AuditEvent.subject_id == str(new.invite.id))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["invite.created", "invite.revoked"]


def test_cli_prints_a_working_link(
    capsys: pytest.CaptureFixture[str], engine: object, client: TestClient
) -> None:
    from app.cli import main

    code = main(
        [
            "invite",
            "create",
            "--assessment",
            "llm-gateway-client",
            "--name",
            "Cli",
            "--base-url",
            "https://redline.example.org/",
            "--days",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    url = captured.out.strip()
    assert re.fullmatch(r"https://redline\.example\.org/i/[A-Za-z0-9_-]{43}", url)
    assert "shown only now" in captured.err
    token = url.rsplit("/", 1)[1]
    assert client.get(f"/i/{token}", follow_redirects=False).status_code == 303


def test_cli_expiry_date_means_the_whole_day(
    capsys: pytest.CaptureFixture[str], engine: object, session: Session
) -> None:
    from app.cli import main

    assert (
        main(["invite", "create", "--assessment", "llm-gateway-client", "--expires", "2099-03-04"])
        == 0
    )
    token = capsys.readouterr().out.strip().rsplit("/", 1)[1]
    invite = session.scalars(select(Invite).where(Invite.token_hash == token_hash(token))).one()
    assert invite.expires_at.isoformat() == "2099-03-04T23:59:59+00:00"
    assert (
        main(["invite", "create", "--assessment", "llm-gateway-client", "--expires", "soon"]) == 2
    )


def test_cli_reports_an_unknown_assessment(
    capsys: pytest.CaptureFixture[str], engine: object
) -> None:
    from app.cli import main

    assert main(["invite", "create", "--assessment", "no-such-thing"]) == 1
    assert "no assessment called 'no-such-thing'" in capsys.readouterr().err
