"""Blind grading: nothing a grader can reach names the candidate before the grade is final."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.users.models import Role
from tests.web.factories import COMMENTS, make_auto_score, make_submission, make_user, sign_in
from tests.web.test_roles import app_routes

NAME = "Zenobia Quillfeather"
EMAIL = "zenobia.quill@candidates.example"
HREF = re.compile(r'href="([^"#]+)')
CRAWL_LIMIT = 300


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    words = [NAME, *NAME.split(), EMAIL, EMAIL.split("@")[0]]
    return [word for word in words if word.lower() in lowered]


def _crawl(client: TestClient, starts: list[str]) -> dict[str, str]:
    """GET every same-site page reachable from `starts` by links; returns path -> body."""
    seen: dict[str, str] = {}
    todo = deque(starts)
    while todo and len(seen) < CRAWL_LIMIT:
        path = todo.popleft()
        if path in seen:
            continue
        response = client.get(path, follow_redirects=True)
        seen[path] = response.text
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for link in HREF.findall(response.text):
            target = urlsplit(urljoin(f"http://testserver{path}", link.replace("&amp;", "&")))
            if target.netloc != "testserver" or target.path.startswith(("/static", "/logout")):
                continue
            todo.append(target.path + (f"?{target.query}" if target.query else ""))
    return seen


@pytest.mark.parametrize("role", [Role.grader, Role.admin])
def test_no_grader_page_or_api_names_an_ungraded_candidate(
    client: TestClient, session: Session, role: Role
) -> None:
    submission = make_submission(
        session,
        comments=COMMENTS,
        candidate_name=NAME,
        candidate_email=EMAIL,
        summary="Fix the cache key first.",
    )
    make_auto_score(session, submission)
    sign_in(client, session, make_user(session, role=role))

    ids = {"submission_id": str(submission.id), "user_id": "1", "invite_id": "1"}
    starts = ["/", "/staff/queue?status=all", "/staff/export"]
    for method, template in app_routes(client.app):  # type: ignore[arg-type]
        if method != "GET":
            continue
        if template.startswith(("/static", "/i/", "/take", "/api/candidate", "/logout")):
            continue
        path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: ids.get(m.group(1), "1"), template)
        starts.append(path)
    pages = _crawl(client, starts)

    assert f"/staff/submissions/{submission.id}" in pages
    assert f"/api/staff/submissions/{submission.id}" in pages
    assert "/staff/invites" in pages and "/staff/export.csv" in pages
    leaking = {path: words for path, body in pages.items() if (words := _leaks(body))}
    assert leaking == {}, "candidate identity shown before the grade is final"


def test_an_admin_reveals_the_candidate_and_the_audit_trail_keeps_it(
    client: TestClient, session: Session
) -> None:
    submission = make_submission(
        session, comments=COMMENTS, candidate_name=NAME, candidate_email=EMAIL
    )
    make_auto_score(session, submission)
    admin = make_user(session, role=Role.admin, name="Ada Admin")
    csrf = sign_in(client, session, admin)
    page = client.get(f"/staff/submissions/{submission.id}")
    assert NAME not in page.text and "Reveal the candidate" in page.text

    revealed = client.post(f"/staff/submissions/{submission.id}/reveal", data={"csrf_token": csrf})
    assert revealed.status_code == 200 and NAME in revealed.text
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_id == submission.public_id,
            AuditEvent.action == "candidate.revealed",
        )
    ).all()
    assert event.actor_id == admin.id
    assert NAME not in client.get(f"/staff/submissions/{submission.id}").text


def test_a_grader_cannot_reveal(client: TestClient, session: Session) -> None:
    submission = make_submission(session, candidate_name=NAME, candidate_email=EMAIL)
    csrf = sign_in(client, session, make_user(session, role=Role.grader))
    page = client.get(f"/staff/submissions/{submission.id}")
    assert "Reveal the candidate" not in page.text
    response = client.post(f"/staff/submissions/{submission.id}/reveal", data={"csrf_token": csrf})
    assert response.status_code == 403 and NAME not in response.text
