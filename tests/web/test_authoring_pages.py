"""Author pages: landing by role, the assessments list, the candidate preview, the key overlay."""

from __future__ import annotations

import html
import re
from collections import deque

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.reviews.models import DecisionStatus, GradeDecision
from app.templating import render_markdown
from app.users.models import Role
from tests.web.factories import (
    DEFAULT_ASSESSMENT,
    TEST_PASSWORD,
    assessment_version,
    make_auto_score,
    make_submission,
    make_user,
    score_dict,
    sign_in,
)

HREF = re.compile(r'href="([^"#]*)(?:#[^"]*)?"')


def _sign_in_by_form(client: TestClient, email: str) -> str:
    """Sign in as a person would, with no `next`; returns where the sign-in sent them."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = client.post(
        "/login",
        data={"email": email, "password": TEST_PASSWORD, "csrf_token": csrf.group(1), "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


def _links(page: str) -> list[str]:
    found = [html.unescape(m.group(1)) for m in HREF.finditer(page)]
    return [link for link in found if link.startswith("/") and not link.startswith("//")]


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.author, "/staff/assessments"),
        (Role.grader, "/staff/queue"),
        (Role.admin, "/staff/queue"),
    ],
)
def test_each_role_lands_on_a_page_it_may_see_and_every_link_it_is_shown_works(
    client: TestClient, session: Session, role: Role, landing: str
) -> None:
    # Three comments, as the default auto-score's matches and labels refer to.
    submission = make_submission(
        session,
        comments=[
            "The cache key ignores the model.",
            "A retry after a partial stream duplicates tokens.",
            "Usage is lost when the stream ends early.",
        ],
    )
    make_auto_score(session, submission)
    user = make_user(session, role=role)
    assert _sign_in_by_form(client, user.email) == landing
    # Follow every link the role is shown, two pages deep from its landing page.
    seen = {landing}
    queue = deque([(landing, 0)])
    broken = []
    while queue:
        path, depth = queue.popleft()
        response = client.get(path, follow_redirects=False)
        if response.status_code != 200:
            broken.append((path, response.status_code))
            continue
        if depth == 2 or "text/html" not in response.headers.get("content-type", ""):
            continue
        for link in _links(response.text):
            if link not in seen and len(seen) < 80:
                seen.add(link)
                queue.append((link, depth + 1))
    assert broken == []
    assert len(seen) >= 5  # the nav alone has that many links


def test_an_author_is_not_shown_grading_links_on_the_invites_page(
    client: TestClient, session: Session
) -> None:
    submission = make_submission(session, comments=["x"])
    make_auto_score(session, submission)
    sign_in(client, session, make_user(session, role=Role.author))
    page = client.get("/staff/invites").text
    assert "/staff/submissions/" not in page
    assert 'href="/staff/queue"' not in page


def test_assessments_page_counts_versions_invites_submissions_and_median(
    client: TestClient, session: Session
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    before = client.get("/staff/assessments")
    assert before.status_code == 200
    version = assessment_version(session, DEFAULT_ASSESSMENT)
    row_before = _row(before.text, DEFAULT_ASSESSMENT)
    scored = []
    for total in (40.0, 70.0, 90.0):
        submission = make_submission(session, comments=["x"])
        make_auto_score(session, submission, score_dict(total=total))
        scored.append(submission)
    # A finalized grade counts with its signed-off total, not the auto one.
    session.add(
        GradeDecision(
            submission_id=scored[0].id, status=DecisionStatus.final, total=80.0, dimensions={}
        )
    )
    make_submission(session, comments=["still writing"], status=_in_progress())
    session.flush()
    row = _row(client.get("/staff/assessments").text, DEFAULT_ASSESSMENT)
    invites_before, submitted_before = _numbers(row_before)[:2]
    invites, submitted, median = _numbers(row)[:3]
    assert invites == invites_before + 4
    assert submitted == submitted_before + 3
    if submitted_before == 0:
        assert median == 80.0  # of 80 (final), 70, 90
    assert f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/{version.number}" in row
    assert "published" in row


def _in_progress():  # type: ignore[no-untyped-def]
    from app.submissions.models import SubmissionStatus

    return SubmissionStatus.in_progress


def _row(page: str, slug: str) -> str:
    match = re.search(rf'<tr class="assessment" id="a-{re.escape(slug)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def _numbers(row: str) -> list[float]:
    cells = re.findall(r"<td(?: class=\"num\")?>([^<]*)</td>", row)
    return [float(c) if c.strip() not in ("—", "") else 0.0 for c in cells]


def _key_texts(session: Session) -> tuple[list[str], str]:
    version = assessment_version(session, DEFAULT_ASSESSMENT)
    texts = [b.title for b in version.bugs] + [b.description for b in version.bugs]
    texts += [p for b in version.bugs for p in b.phrases] + [d.why for d in version.decoys]
    candidate_material = version.brief + "\n".join(str(f["text"]) for f in version.files)
    return texts, candidate_material


def test_candidate_preview_shows_the_brief_and_code_and_no_answer_key_text(
    client: TestClient, session: Session
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    version = assessment_version(session, DEFAULT_ASSESSMENT)
    page = client.get(f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/{version.number}/preview")
    assert page.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    for f in version.files:
        assert str(f["name"]) in text
    assert str(render_markdown(version.brief)) in page.text
    texts, material = _key_texts(session)
    assert texts
    # Words the candidate's own material contains are not a leak; everything else of the key is.
    leaks = [t for t in texts if t not in material and t.lower() in page.text.lower()]
    assert leaks == []
    assert "bug-line" not in page.text and "decoy-line" not in page.text
    for bug in version.bugs:
        assert bug.key not in page.text


def test_answer_key_overlay_marks_bugs_and_decoys_at_their_lines(
    client: TestClient, session: Session
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    version = assessment_version(session, DEFAULT_ASSESSMENT)
    page = client.get(f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/{version.number}").text
    anchors = {str(f["name"]): f"f{i}" for i, f in enumerate(version.files)}
    for bug in version.bugs:
        assert html.escape(bug.title, quote=False) in page
        start, _ = bug.lines[0]
        row = re.search(
            rf'<tr class="([^"]*)" id="{anchors[bug.file]}-L{start}">(.*?)</tr>', page, re.S
        )
        assert row and "bug-line" in row.group(1)
        assert f"#{bug.rank}" in row.group(2) and bug.key in row.group(2)
        if bug.subtle:
            assert "subtle" in row.group(2)
    for decoy in version.decoys:
        start, _ = decoy.lines[0]
        row = re.search(rf'<tr class="([^"]*)" id="{anchors[decoy.file]}-L{start}">', page)
        assert row and "decoy-line" in row.group(1)


def test_unknown_assessment_or_version_is_a_404_page(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    assert client.get("/staff/assessments/no-such-thing/versions/1").status_code == 404
    missing = client.get(f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/999")
    assert missing.status_code == 404
    assert "has no version 999" in missing.text


def test_graders_may_not_open_author_pages(client: TestClient, session: Session) -> None:
    sign_in(client, session, make_user(session, role=Role.grader))
    assert client.get("/staff/assessments").status_code == 403
