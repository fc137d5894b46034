"""Every staff page says what it is: one page heading, and headings that match the state."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.users.models import Role
from tests.web.factories import (
    COMMENTS,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
    sign_in,
)

H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
ITEMS_TITLE = re.compile(r'<h2 id="items-title">(.*?)</h2>', re.S)


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_the_invites_page_has_a_title_and_one_heading(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    page = client.get("/staff/invites").text
    assert "<title>Invites · Redline</title>" in page
    assert [_text(h) for h in H1.findall(page)] == ["Invites"]


def test_a_final_grade_lists_its_decisions_not_what_is_left_to_decide(
    client: TestClient, session: Session
) -> None:
    csrf = sign_in(client, session, make_user(session, role=Role.grader))
    submission = make_submission(session, comments=COMMENTS)
    make_auto_score(session, submission, score_dict(matches=[], red_flags=[]))
    heading = ITEMS_TITLE.search(client.get(f"/staff/submissions/{submission.id}").text)
    assert heading and _text(heading.group(1)) == "To decide (0 left)"

    response = client.post(
        f"/staff/submissions/{submission.id}/finalize",
        data={"csrf_token": csrf, "version": "0"},
        follow_redirects=False,
    )
    assert response.status_code in (200, 303), response.text
    heading = ITEMS_TITLE.search(client.get(f"/staff/submissions/{submission.id}").text)
    assert heading and _text(heading.group(1)) == "Decisions"
