"""The author's loop in a real browser: land on the assessments, read the key, preview as a
candidate, try the grader on a batch, lint the key, invite, and read the item analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.db import get_sessionmaker
from app.scoring import service as scoring_service
from app.users.models import Role
from tests.web.factories import (
    DEFAULT_ASSESSMENT,
    TEST_PASSWORD,
    assessment_version,
    content_files,
    fresh_slug,
    make_graded_submission,
    make_user,
    zip_archive,
)

pytestmark = pytest.mark.browser


def _author() -> str:
    with get_sessionmaker().begin() as session:
        return make_user(session, role=Role.author, name="Ada Author").email


def _submissions(slug: str) -> list[str]:
    """Three graded submissions of the new assessment, as if candidates had taken it."""
    with get_sessionmaker().begin() as session:
        version = assessment_version(session, slug)
        bugs = [b.key for b in sorted(version.bugs, key=lambda b: b.rank)]
        for total, found in ((82.0, bugs[:2]), (45.0, bugs[:1]), (20.0, [])):
            make_graded_submission(session, version, total=total, bugs=found)
        return [b.title for b in version.bugs]


def test_author_loop(page: Page, live_server: str, tmp_path: Path, content: Path) -> None:
    scoring_service.default_grader()  # trained before the clock of the page starts
    email = _author()
    slug = fresh_slug("loop")
    files = content_files(slug)
    key_name = f"seeded_bugs/{slug}.yaml"
    good_key = files[key_name].decode()
    files[key_name] = good_key.replace("rank: 2\n", "rank: second\n", 1).encode()
    bad_line = files[key_name].decode().splitlines().index("    rank: second") + 1
    archive = tmp_path / f"{slug}.zip"
    archive.write_bytes(zip_archive(files))

    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/staff/assessments")

    # Upload, read the problem at file:line, fix it in the page, publish.
    page.get_by_role("link", name="Add an assessment").click()
    page.set_input_files("#up-archive", str(archive))
    page.locator("#upload-archive").get_by_role("button", name="Upload and check").click()
    expect(page.locator("#key-problems")).to_contain_text(f"{key_name}:{bad_line}: bugs[1].rank")
    expect(page.locator("#publish")).to_have_count(0)
    page.locator("#key-yaml").fill(good_key)
    page.get_by_role("button", name="Save and check again").click()
    expect(page.locator("#draft-ready")).to_be_visible()
    # Checked clean, it is draft version 1: listed as such, not yet offered for invites.
    page.get_by_role("link", name="All assessments").click()
    expect(page.locator(f"#v-{slug}-1 .status")).to_have_text("draft")
    expect(page.locator(f"#a-{slug} td .status").first).to_have_text("draft")
    page.locator(f"#v-{slug}-1").get_by_role("link", name="Edit or publish").click()
    page.get_by_role("button", name="Publish").click()
    expect(page).to_have_url(f"{live_server}/staff/assessments/{slug}/versions/1")
    expect(page.locator("h1 .status")).to_have_text("published")

    # The answer key over the code.
    titles = _submissions(slug)
    page.reload()
    expect(page.locator(".answer-key")).to_contain_text(titles[0])
    expect(page.locator("tr.bug-line .tag.bug").first).to_be_visible()
    # The candidate's view: none of the key.
    page.get_by_role("link", name="Preview as a candidate").click()
    expect(page.locator("h1")).to_be_visible()
    for title in titles:
        expect(page.locator("main")).not_to_contain_text(title)

    # A batch of sample reviews, one of them malformed.
    page.get_by_role("link", name="Try the grader").click()
    batch = tmp_path / "samples.jsonl"
    reviews = [
        {
            "id": "good",
            "assessment": slug,
            "comments": [
                {
                    "file": "client.py",
                    "line": 73,
                    "severity": "critical",
                    "body": "The cache key only hashes the messages, so a gw-large request "
                    "gets the cached gw-small answer.",
                }
            ],
        },
        {"id": "bad", "assessment": slug, "comments": [{"body": "x", "severity": "urgent"}]},
    ]
    batch.write_text("\n".join(json.dumps(r) for r in reviews) + "\n")
    page.set_input_files("#trial-batch", str(batch))
    page.get_by_role("button", name="Grade", exact=True).click()
    expect(page.locator("#trial-problems")).to_contain_text("samples.jsonl:2: comments[0].severity")
    expect(page.locator("#trial-results")).to_contain_text("1 review graded")
    expect(page.locator("#review-1")).to_contain_text("cache-key-ignores-params")

    page.get_by_role("link", name="Key lint").click()
    expect(page.locator("table.lint tbody tr")).to_have_count(len(titles))

    # Hand the assessment out.
    page.goto(f"{live_server}/staff/invites")
    page.locator("#inv-assessment").select_option(slug)
    page.get_by_label("Candidate name (optional)").fill("Grace Hopper")
    page.get_by_role("button", name="Create invite", exact=True).click()
    expect(page.locator("#new-invite")).to_contain_text("Invite created")

    # The item analysis after three submissions, with its charts drawn.
    page.goto(f"{live_server}/staff/assessments/{slug}/versions/1/analysis")
    expect(page.locator("#analysis-counts")).to_contain_text("3 submitted")
    charts = page.locator("figure.chart img")
    # No grader has signed off yet: agreement says what it will show instead of a chart.
    expect(charts).to_have_count(4)
    expect(page.locator("#agreement-empty")).to_contain_text("once a grader finalizes")
    for i in range(4):
        loaded = charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, f"chart {i} did not load"
    with page.expect_download() as download:
        page.locator("#bugs a.csv").click()
    assert download.value.suggested_filename == f"{slug}-v1-bugs.csv"

    # Withdraw it: retired from its page, it can no longer be sent to anyone.
    page.goto(f"{live_server}/staff/assessments/{slug}/versions/1")
    page.get_by_label("stop new candidates starting it").check()
    page.get_by_role("button", name="Retire").click()
    expect(page.locator("h1 .status")).to_have_text("retired")
    page.goto(f"{live_server}/staff/invites")
    expect(page.locator(f'#inv-assessment option[value="{slug}"]')).to_have_count(0)


def test_grading_a_pasted_review_opens_the_page_at_what_it_found(
    page: Page, live_server: str
) -> None:
    scoring_service.default_grader()
    email = _author()
    version = f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/1/try"
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/staff/assessments")

    page.goto(live_server + version)
    review = {
        "id": "r-1",
        "assessment": DEFAULT_ASSESSMENT,
        "comments": [{"file": "client.py", "line": 73, "body": "The cache key ignores model."}],
    }
    page.locator("#trial-reviews").fill(json.dumps(review, indent=2))
    page.get_by_role("button", name="Grade", exact=True).click()
    # Below the form at 1280x800: unless the answer opens there, it looks as if nothing ran.
    expect(page.locator("#trial-results h2")).to_be_in_viewport()

    page.locator("#trial-reviews").fill("{not json")
    page.get_by_role("button", name="Grade", exact=True).click()
    expect(page.locator("#trial-problems")).to_be_in_viewport()
    expect(page.locator("#trial-problems")).to_contain_text("pasted:1: invalid JSON")

    # The same review typed into rows as a candidate would write it.
    page.goto(live_server + version)
    page.get_by_label("Line of comment 1").fill("73")
    page.get_by_label("Comment 1", exact=True).fill("The cache key ignores model.")
    page.get_by_role("button", name="Grade this review").click()
    expect(page.locator("#trial-results h2")).to_be_in_viewport()
    expect(page.locator("#trial-results h2")).to_have_text("1 review graded")
    expect(page.get_by_label("Comment 1", exact=True)).to_have_value("The cache key ignores model.")
