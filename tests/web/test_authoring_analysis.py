"""Item analysis: per-bug shares, discrimination, decoys, totals, agreement, time; charts, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.assessments.models import AssessmentVersion
from app.authoring import analysis
from app.reviews.models import DecisionStatus, GradeDecision, MatchDecision, MatchVerdict
from app.submissions.models import Submission
from app.users.models import Role
from tests.web.factories import (
    assessment_version,
    copy_version,
    make_graded_submission,
    make_user,
    sign_in,
)


def clone_version(session: Session, source: str = "llm-gateway-client") -> AssessmentVersion:
    """A fresh assessment with one version copied from `source`, so counts start at zero."""
    return copy_version(session, assessment_version(session, source))


def _finalize(session: Session, submission: Submission, total: float, **verdicts: str) -> None:
    decision = GradeDecision(
        submission_id=submission.id,
        status=DecisionStatus.final,
        total=total,
        dimensions={},
        match_decisions=[
            MatchDecision(bug_key=bug, comment_index=0, verdict=MatchVerdict(v))
            for bug, v in verdicts.items()
        ],
    )
    session.add(decision)
    session.flush()


@pytest.fixture
def version(session: Session) -> AssessmentVersion:
    return clone_version(session)


def test_empty_version_says_what_will_appear(
    client: TestClient, session: Session, version: AssessmentVersion
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    base = f"/staff/assessments/{version.assessment.slug}/versions/1/analysis"
    page = client.get(base)
    assert page.status_code == 200
    assert 'id="analysis-empty"' in page.text
    assert "0 submitted" in page.text
    # Each section says what it will show instead of drawing an empty chart or table.
    for section in ("bugs", "decoys", "totals", "agreement", "time"):
        assert f'id="{section}-empty"' in page.text
    assert "<img" not in page.text and "<table" not in page.text and ".csv" not in page.text
    assert f"For each of the {len(version.bugs)} seeded bugs" in page.text
    chart = client.get(base + "/found.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"
    assert b"once reviews are graded" in chart.content
    assert client.get(base + "/nope.svg").status_code == 404
    assert client.get(base + "/nope.csv").status_code == 404


def test_per_bug_shares_discrimination_severities_and_decoys(
    session: Session, version: AssessmentVersion
) -> None:
    keys = [b.key for b in sorted(version.bugs, key=lambda b: b.rank)]
    decoy = version.decoys[0].key
    first, second = keys[0], keys[1]
    strong = make_graded_submission(
        session,
        version,
        total=90,
        bugs=[second, first],
        minutes=40,
        severities=["major", "critical"],
    )
    make_graded_submission(
        session, version, total=80, bugs=[first], false_alarms=[decoy], minutes=20
    )
    weak = make_graded_submission(
        session, version, total=20, bugs=[], false_alarms=[decoy], minutes=10
    )
    make_graded_submission(session, version, total=30, bugs=[], minutes=50)
    # A grader confirms one auto find, rejects another and adds one the grader missed.
    _finalize(session, strong, 85.0, **{first: "confirmed", second: "rejected"})
    _finalize(session, weak, 40.0, **{first: "added"})

    result = analysis.analyse(session, version)
    assert (result.submissions, result.scored, result.finalized) == (4, 4, 2)
    items = {b.key: b for b in result.bugs}
    assert items[first].found_auto == 0.5
    assert items[second].found_auto == 0.25
    assert items[first].found_confirmed == 1.0  # confirmed on one, added on the other
    assert items[second].found_confirmed == 0.0
    # Scores: 85 (final), 80, 40 (final), 30; the first bug is found by 85, 80 and 40.
    assert items[first].discrimination is not None and items[first].discrimination > 0
    # The comment that found it, as the score counts it: strong's comment 1 (the grader kept
    # that one), 80's comment 0, and weak's comment 0 that the grader added; all critical.
    assert items[first].severities["critical"] == 3
    assert items[first].severities["major"] == 0
    assert items[first].severities["none"] == 0
    assert items[first].median_position == 1.0
    assert {d.key: d.rate for d in result.decoys}[decoy] == 0.5
    assert sorted(result.totals) == [30.0, 40.0, 80.0, 85.0]
    assert dict(result.histogram)["80-90"] == 2
    assert result.median_minutes == 30.0
    # Auto finds on final grades: strong {first, second}, weak {}; graders kept strong {first}
    # and added weak {first}.
    assert result.match_precision == 0.5
    assert result.match_recall == 0.5
    total = next(g for g in result.agreement if g.name == "total")
    assert total.pairs == 2
    assert total.mae == 12.5  # |90-85| and |20-40|


def test_one_or_two_reviews_show_their_counts_and_say_they_are_too_few(
    client: TestClient, session: Session, version: AssessmentVersion
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    first = min(version.bugs, key=lambda b: b.rank).key
    make_graded_submission(session, version, total=70.0, bugs=[first])
    make_graded_submission(session, version, total=20.0, bugs=[])
    base = f"/staff/assessments/{version.assessment.slug}/versions/1/analysis"
    page = client.get(base).text
    few = re.search(r'<p class="banner" id="analysis-few">(.*?)</p>', page, re.S)
    assert few and "2 scored reviews" in few.group(1) and "needs at least 3" in few.group(1)
    row = re.search(rf'<tr id="bug-{first}">(.*?)</tr>', page, re.S)
    assert row
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[:3] == ["50%", "—", "—"]  # found by 1 of 2; none confirmed; no correlation
    for chart in ("found", "totals", "time"):
        assert f'src="{base}/{chart}.svg"' in page
    assert 'id="agreement-empty"' in page and "2 auto-scored reviews waiting" in page


def test_quadratic_kappa_and_pearson_match_hand_computed_values() -> None:
    assert analysis.quadratic_kappa([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]) == 1.0
    assert analysis.quadratic_kappa([0, 4], [4, 0]) == -1.0
    assert analysis.quadratic_kappa([], []) is None
    assert analysis.pearson([1, 0, 1, 0], [10, 0, 10, 0]) == 1.0
    assert analysis.pearson([1, 1, 1], [1, 2, 3]) is None
    assert [analysis.level(v) for v in (0, 12.4, 12.6, 50, 87.5, 100)] == [0, 0, 1, 2, 4, 4]


def test_page_charts_and_csv_downloads(
    client: TestClient, session: Session, version: AssessmentVersion
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    first = min(version.bugs, key=lambda b: b.rank).key
    submissions = [
        make_graded_submission(session, version, total=total, bugs=bugs)
        for total, bugs in ((70.0, [first]), (35.0, []), (55.0, [first]))
    ]
    base = f"/staff/assessments/{version.assessment.slug}/versions/1/analysis"
    page = client.get(base).text
    assert "3 submitted" in page and 'id="analysis-empty"' not in page
    assert 'id="analysis-few"' not in page
    # No grade is finalized yet: the agreement section says what it will show.
    assert 'id="agreement-empty"' in page and f'src="{base}/agreement.svg"' not in page
    assert "3 auto-scored reviews waiting" in page
    _finalize(session, submissions[0], 70.0, **{first: "confirmed"})
    page = client.get(base).text
    assert 'id="agreement-empty"' not in page
    for chart in ("found", "decoys", "totals", "agreement", "time"):
        assert f'src="{base}/{chart}.svg"' in page
        svg = client.get(f"{base}/{chart}.svg")
        assert svg.status_code == 200 and svg.content.lstrip().startswith(b"<?xml")
    assert b"<script" not in client.get(f"{base}/totals.svg").content
    rows = list(csv.reader(io.StringIO(client.get(f"{base}/bugs.csv").text)))
    assert rows[0][:5] == ["bug", "rank", "subtle", "found_auto", "found_confirmed"]
    assert {r[0]: r[3] for r in rows[1:]}[first] == str(round(2 / 3, 3))
    totals = dict(csv.reader(io.StringIO(client.get(f"{base}/totals.csv").text)))
    assert (totals["30-40"], totals["50-60"], totals["70-80"]) == ("1", "1", "1")
    download = client.get(f"{base}/agreement.csv")
    assert "attachment" in download.headers["content-disposition"]


def test_count_axes_are_marked_in_whole_submissions(
    client: TestClient, session: Session, version: AssessmentVersion
) -> None:
    sign_in(client, session, make_user(session, role=Role.author))
    for total, minutes in ((20.0, 25), (45.0, 40), (70.0, 55)):
        make_graded_submission(session, version, total=total, bugs=[], minutes=minutes)
    base = f"/staff/assessments/{version.assessment.slug}/versions/1/analysis"
    for chart in ("totals", "time"):
        svg = client.get(f"{base}/{chart}.svg").text
        # Tick labels are text in the SVG; one submission per bar is no reason for 0.2 of one.
        ticks = re.findall(r">(\d+\.\d+)</text>", svg)
        assert ticks == [], (chart, ticks)
        assert ">1</text>" in svg
