"""The rubric and the formats are readable by every staff role, where they work."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.reference import RUBRIC_SECTIONS, anchor
from app.resources import reference_dir
from app.users.models import Role
from tests.web.factories import make_submission, make_user, sign_in


@pytest.mark.parametrize("role", list(Role))
def test_every_staff_role_reads_the_rubric_and_the_formats(
    client: TestClient, session: Session, role: Role
) -> None:
    sign_in(client, session, make_user(session, role=role))
    rubric = client.get("/staff/reference/rubric")
    assert rubric.status_code == 200
    assert '<h2 id="detection">Detection (default 30)</h2>' in rubric.text
    assert "Pointing at the right lines with a wrong diagnosis is not a find." in rubric.text
    assert 'href="/staff/reference/rubric">Rubric &amp; formats</a>' in rubric.text
    formats = client.get("/staff/reference/formats")
    assert formats.status_code == 200
    assert '<h2 id="3-review">3. Review: one JSON object' in formats.text
    assert 'href="/staff/reference/formats" aria-current="page"' in formats.text


def test_the_reference_is_for_signed_in_staff(client: TestClient) -> None:
    answer = client.get("/staff/reference/rubric", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/staff/reference/rubric"


def test_an_unknown_reference_page_names_the_ones_there_are(
    client: TestClient, session: Session
) -> None:
    sign_in(client, session, make_user(session, role=Role.grader))
    answer = client.get("/staff/reference/glossary", headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == (
        "There is no reference page 'glossary'; there are: rubric, formats."
    )


def test_each_dimension_on_the_workbench_links_to_its_rubric_section(
    client: TestClient, session: Session
) -> None:
    rubric_anchors = {
        anchor(line.removeprefix("## "))
        for line in (reference_dir() / "rubric.md").read_text().splitlines()
        if line.startswith("## ")
    }
    assert set(RUBRIC_SECTIONS.values()) <= rubric_anchors
    submission = make_submission(session)
    sign_in(client, session, make_user(session, role=Role.grader))
    page = client.get(f"/staff/submissions/{submission.id}")
    for section in RUBRIC_SECTIONS.values():
        assert f'href="/staff/reference/rubric#{section}"' in page.text


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("3. Review: one JSON object (a line of a `.jsonl` file in batch use)", "3-review"),
        ("Detection (default 30)", "detection"),
        ("Red flags, for a human to confirm", "red-flags-for-a-human-to-confirm"),
    ],
)
def test_a_heading_anchor_is_its_words_before_a_colon_or_parenthesis(
    heading: str, expected: str
) -> None:
    assert anchor(heading) == expected
