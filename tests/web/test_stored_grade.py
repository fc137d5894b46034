"""Stored auto-scores are read back typed: one written by an earlier version still shows on
every page that reads it, and a corrupt one is named by row and field."""

from __future__ import annotations

import html
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.scoring.service import stored_grade
from app.users.models import Role
from grading import GradeFormatError
from tests.grading.test_grade_format import OLD_EVIDENCE, OLD_RESULT
from tests.web.factories import make_auto_score, make_submission, make_user, sign_in


def _with_match_on(comment: int) -> dict[str, Any]:
    match = {**OLD_RESULT["matches"][0], "comment": comment}
    return {**OLD_RESULT, "matches": [match]}


COMMENTS = [
    {"body": "The cache key only hashes the messages, not the model.", "line": 73},
    {"body": "Usage is lost when the stream ends early.", "line": 150},
]


def test_a_score_stored_by_an_earlier_version_shows_everywhere(
    client: TestClient, session: Session
) -> None:
    submission = make_submission(session, comments=COMMENTS)
    auto = make_auto_score(session, submission, OLD_RESULT)
    auto.evidence = OLD_EVIDENCE  # as stored: no summary_priority, nothing filled in
    session.flush()
    sign_in(client, session, make_user(session, role=Role.grader))

    page = client.get(f"/staff/submissions/{submission.id}")
    assert page.status_code == 200
    # The evidence's words are highlighted in the comment that found the bug.
    assert "The <mark>cache key</mark> only hashes the <mark>messages</mark>" in page.text
    api = client.get(f"/api/staff/submissions/{submission.id}").json()
    assert api["auto_total"] == 47.5
    queue = client.get("/staff/queue?assessment=llm-gateway-client")
    assert queue.status_code == 200 and f"/staff/submissions/{submission.id}" in queue.text
    exported = client.get("/staff/export.json")
    assert exported.status_code == 200
    record = next(r for r in exported.json() if r["submission"] == submission.id)
    assert [(m["bug"], m["confidence"]) for m in record["matches"]] == [
        ("cache-key-ignores-params", 0.912)
    ]
    assert [f["kind"] for f in record["flags"]] == ["no_questions"]
    assert client.get("/staff/bugs/llm-gateway-client/stream-usage-lost").status_code == 200


def test_a_corrupt_stored_score_names_its_row_and_field(session: Session) -> None:
    submission = make_submission(session, comments=COMMENTS)
    auto = make_auto_score(session, submission, OLD_RESULT)
    auto.result = {k: v for k, v in OLD_RESULT.items() if k != "comments"}
    session.flush()
    with pytest.raises(GradeFormatError) as caught:
        stored_grade(auto)
    assert str(caught.value) == f"auto_score {auto.id}: comments: required field is missing"


def test_a_corrupt_stored_score_says_which_submission_and_how_to_grade_it_again(
    session: Session, client: TestClient
) -> None:
    submission = make_submission(session, comments=COMMENTS)
    auto = make_auto_score(session, submission, OLD_RESULT)
    auto.result = {**OLD_RESULT, "total": "NaN"}
    session.flush()
    sign_in(client, session, make_user(session, role=Role.admin))
    for url in ("/staff/queue", f"/staff/submissions/{submission.id}", "/staff/export.csv"):
        page = client.get(url)
        assert page.status_code == 500
        assert f"The auto-score of submission {submission.id} does not read back" in page.text
        assert f"auto_score {auto.id}: total: must be a number" in page.text
        assert f"redline submissions grade {submission.public_id}" in page.text
    api = client.get(f"/api/staff/submissions/{submission.id}")
    assert api.status_code == 500
    assert f"redline submissions grade {submission.public_id}" in api.json()["detail"]


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (
            _with_match_on(7),
            "matches[0].comment: names comment 7, but the grade lists 2 comment(s)",
        ),
        (
            {**_with_match_on(3), "comments": OLD_RESULT["comments"] * 2},
            "matches: match ('cache-key-ignores-params', 3): the review has 2 comment(s)",
        ),
    ],
)
def test_a_stored_score_naming_comments_the_review_lacks_says_so_and_how_to_fix_it(
    session: Session, client: TestClient, result: dict[str, Any], problem: str
) -> None:
    submission = make_submission(session, comments=COMMENTS)
    auto = make_auto_score(session, submission, OLD_RESULT)
    auto.result = result
    session.flush()
    sign_in(client, session, make_user(session, role=Role.grader))
    api = client.get(f"/api/staff/submissions/{submission.id}")
    assert api.status_code == 500
    detail = api.json()["detail"]
    assert f"auto_score {auto.id}: {problem}" in detail
    assert f"redline submissions grade {submission.public_id}" in detail
    page = client.get(f"/staff/submissions/{submission.id}")
    assert f"auto_score {auto.id}: {problem}" in html.unescape(page.text)
