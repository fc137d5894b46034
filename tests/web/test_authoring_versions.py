"""A version's life in the database: draft, published, retired; from the browser and from files.

Candidates are only ever served the published version, invites are only made for an assessment
that has one, and the files on disk and the web never overwrite each other silently.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.models import Assessment, AssessmentVersion, VersionStatus
from app.audit.models import AuditEvent
from app.authoring import upload
from app.invites import service as invite_service
from app.settings import get_settings
from app.submissions import service as submission_service
from app.submissions import views
from app.submissions.models import SubmissionStatus
from app.users.models import Role
from tests.test_content_check import write_content
from tests.web.factories import (
    content_files,
    fresh_slug,
    make_submission,
    make_user,
    zip_archive,
)


def _upload(client: TestClient, csrf: str, files: dict[str, bytes]) -> str:
    """Upload `files` as one archive; the draft page it leads to."""
    response = client.post(
        "/staff/assessments/new",
        data={"csrf_token": csrf},
        files={"archive": ("upload.zip", zip_archive(files), "application/zip")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _statuses(session: Session, slug: str) -> list[tuple[int, str]]:
    session.expire_all()
    assessment = assessment_service.get_assessment(session, slug)
    return [(v.number, v.status.value) for v in assessment.versions]


def _published(client: TestClient, csrf: str, slug: str) -> str:
    """A new assessment uploaded and published from the browser; its version 1 page."""
    draft_url = _upload(client, csrf, content_files(slug))
    published = client.post(
        draft_url + "/publish", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert published.status_code == 303
    return str(published.headers["location"])


def test_a_browser_draft_is_a_draft_version_that_no_candidate_or_invite_reaches(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("draft")
    draft_url = _upload(client, author_csrf, content_files(slug))
    draft_id = draft_url.rsplit("/", 1)[1]
    assessment = assessment_service.get_assessment(session, slug)
    [version] = assessment.versions
    assert (version.number, version.status, version.draft_id) == (1, "draft", draft_id)
    assert assessment.is_active is False
    # The draft can be read, previewed and tried like any version before it is published.
    base = f"/staff/assessments/{slug}/versions/1"
    for page in ("", "/preview", "/try", "/lint", "/analysis"):
        assert client.get(base + page).status_code == 200, page
    assert f'href="{base}/preview"' in client.get(draft_url).text
    home = client.get("/staff/assessments").text
    item = re.search(rf'<li id="v-{slug}-1">(.*?)</li>', home, re.S)
    assert item and 'class="status status-draft"' in item.group(1)
    assert f'href="{draft_url}"' in item.group(1)
    # Nobody can be invited to a draft, and it is not offered on the invites page.
    with pytest.raises(invite_service.InviteInvalid, match="has no published version"):
        invite_service.create_invite(session, assessment=slug, candidate_name="Ann")
    assert f'value="{slug}"' not in client.get("/staff/invites").text
    # A second upload of the same assessment would fork it: the open draft comes first.
    again = client.post(
        "/staff/assessments/new",
        data={"csrf_token": author_csrf},
        files={"archive": ("again.zip", zip_archive(content_files(slug)), "application/zip")},
    )
    assert again.status_code == 409
    assert f"{slug} already has a draft" in again.text

    client.post(draft_url + "/publish", data={"csrf_token": author_csrf})
    assert _statuses(session, slug) == [(1, "published")]

    # Editing makes draft version 2; candidates keep being served version 1 meanwhile.
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    second_url = edit.headers["location"]
    assert _statuses(session, slug) == [(1, "published"), (2, "draft")]
    invite = invite_service.create_invite(session, assessment=slug, candidate_name="Bo").invite
    assert views.version_for(invite, None).number == 1
    started = submission_service.start_submission(session, invite)
    assert started.version.number == 1
    # Discarding the draft removes its version; the published one is untouched.
    client.post(second_url + "/discard", data={"csrf_token": author_csrf})
    assert _statuses(session, slug) == [(1, "published")]


def test_publishing_a_draft_retires_the_version_it_replaces(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("pub")
    _published(client, author_csrf, slug)
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    draft_url = edit.headers["location"]
    page = client.get(draft_url).text
    assessment_yaml = re.search(r'name="assessment_yaml"[^>]*>(.*?)</textarea>', page, re.S)
    key_yaml = re.search(r'name="key_yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert assessment_yaml and key_yaml
    key = html.unescape(key_yaml.group(1)).replace(
        "rank: 2\n    subtle: false", "rank: 2\n    subtle: true", 1
    )
    checked = client.post(
        draft_url,
        data={
            "csrf_token": author_csrf,
            "assessment_yaml": html.unescape(assessment_yaml.group(1)),
            "key_yaml": key,
        },
    )
    assert 'id="draft-ready"' in checked.text, checked.text
    published = client.post(
        draft_url + "/publish", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert published.headers["location"] == f"/staff/assessments/{slug}/versions/2"
    assert _statuses(session, slug) == [(1, "retired"), (2, "published")]
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.subject_id == slug).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.after["version"], e.after["replaced"]) for e in events] == [
        ("assessment.published", 1, None),
        ("assessment.published", 2, 1),
    ]


def test_retiring_from_the_page_stops_new_starts_and_invites_but_not_started_reviews(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("ret")
    version_url = _published(client, author_csrf, slug)
    started = make_submission(session, assessment=slug, status=SubmissionStatus.in_progress)
    waiting = invite_service.create_invite(session, assessment=slug, candidate_name="Cy").invite
    session.flush()

    unconfirmed = client.post(version_url + "/retire", data={"csrf_token": author_csrf})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert _statuses(session, slug) == [(1, "published")]

    retired = client.post(
        version_url + "/retire",
        data={"csrf_token": author_csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert retired.status_code == 303
    assert _statuses(session, slug) == [(1, "retired")]
    assert assessment_service.get_assessment(session, slug).is_active is False
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_id == slug, AuditEvent.action == "assessment.retired"
        )
    ).one()
    assert event.after == {"version": 1}

    with pytest.raises(submission_service.AssessmentWithdrawn):
        submission_service.start_submission(session, waiting)
    with pytest.raises(submission_service.AssessmentWithdrawn):
        views.version_for(waiting, None)
    with pytest.raises(invite_service.InviteInvalid, match="has no published version"):
        invite_service.create_invite(session, assessment=slug, candidate_name="Di")
    assert started.version.number == 1  # a review under way keeps its version
    row = re.search(rf'<tr class="assessment" id="a-{slug}">(.*?)</tr>', _home(client), re.S)
    assert row and 'class="status status-retired">retired' in row.group(1)
    again = client.post(version_url + "/retire", data={"csrf_token": author_csrf, "confirm": "yes"})
    assert again.status_code == 409
    assert "only the published version can be retired" in again.text


def test_content_sync_drafts_and_the_page_or_a_later_sync_publishes(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    write_content(content)
    folders = (content / "assessments", content / "seeded_bugs")
    actions, problems = assessment_service.sync_content(session, *folders, as_draft=True)
    assert problems == ()
    assert [str(a) for a in actions] == ["demo: new draft version 1"]
    demo = assessment_service.get_assessment(session, "demo")
    assert assessment_service.published_version(session, demo) is None
    actions, _ = assessment_service.sync_content(session, *folders, as_draft=True)
    assert [str(a) for a in actions] == ["demo: unchanged, still draft version 1"]

    # A draft synced from files is published from its page: nothing is written to disk.
    key = content / "seeded_bugs" / "demo.yaml"
    before = key.read_bytes()
    version_page = client.get("/staff/assessments/demo/versions/1").text
    assert 'action="/staff/assessments/demo/versions/1/publish"' in version_page
    published = client.post(
        "/staff/assessments/demo/versions/1/publish",
        data={"csrf_token": author_csrf},
        follow_redirects=False,
    )
    assert published.status_code == 303
    assert _statuses(session, "demo") == [(1, "published")]
    assert key.read_bytes() == before

    # Drafted from changed files, then published by a plain sync of the same files.
    key.write_text(key.read_text().replace("Something breaks.", "Something breaks badly."))
    actions, _ = assessment_service.sync_content(session, *folders, as_draft=True)
    assert [str(a) for a in actions] == ["demo: new draft version 2"]
    actions, _ = assessment_service.sync_content(session, *folders)
    assert [str(a) for a in actions] == ["demo: published draft version 2"]
    assert _statuses(session, "demo") == [(1, "retired"), (2, "published")]

    # A synced draft whose files changed again cannot be published from the page.
    key.write_text(key.read_text().replace("badly.", "very badly."))
    assessment_service.sync_content(session, *folders, as_draft=True)
    key.write_text(key.read_text().replace("very badly.", "terribly."))
    stale = client.post(
        "/staff/assessments/demo/versions/3/publish", data={"csrf_token": author_csrf}
    )
    assert stale.status_code == 409
    assert "no longer hold draft version 3" in stale.text
    assert _statuses(session, "demo") == [(1, "retired"), (2, "published"), (3, "draft")]
    # A plain sync publishes what the files hold now and drops the stale draft.
    actions, _ = assessment_service.sync_content(session, *folders)
    assert [str(a) for a in actions] == ["demo: changed, new version 3"]
    assert _statuses(session, "demo") == [(1, "retired"), (2, "retired"), (3, "published")]
    assert (
        "terribly."
        in assessment_service.get_assessment(session, "demo").versions[2].bugs[0].description
    )


def test_sync_leaves_a_browser_draft_alone_and_says_so(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("both")
    _published(client, author_csrf, slug)
    client.post(f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf})
    folders = (content / "assessments", content / "seeded_bugs")
    actions, problems = assessment_service.sync_content(session, *folders, as_draft=True)
    assert [str(a) for a in actions] == [
        f"{slug}: unchanged, still version 1; draft version 2 made in the browser is left as it is"
    ]
    key = content / "seeded_bugs" / f"{slug}.yaml"
    key.write_text(
        key.read_text().replace("rank: 2\n    subtle: false", "rank: 2\n    subtle: true", 1)
    )
    actions, problems = assessment_service.sync_content(session, *folders, as_draft=True)
    assert actions == []
    assert [p.message for p in problems] == [
        f"{slug} has a draft made in the browser (version 2); publish or discard it there first"
    ]
    assert _statuses(session, slug) == [(1, "published"), (2, "draft")]


def test_a_disk_edit_to_a_yaml_comment_alone_blocks_publishing_over_it(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("cmt")
    _published(client, author_csrf, slug)
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    draft_url = edit.headers["location"]
    # Someone adds a comment to the answer key on disk: its parsed content is unchanged, so a
    # sync finds nothing to do, but publishing the draft would still lose the comment.
    key = content / "seeded_bugs" / f"{slug}.yaml"
    key.write_text("# Reviewed with the on-call team.\n" + key.read_text())
    actions, _ = assessment_service.sync_content(
        session, content / "assessments", content / "seeded_bugs"
    )
    assert [a.action for a in actions] == ["unchanged"]
    refused = client.post(draft_url + "/publish", data={"csrf_token": author_csrf})
    assert refused.status_code == 409
    assert "changed on disk since this draft was made" in refused.text
    assert "compared byte for byte" in refused.text
    assert key.read_text().startswith("# Reviewed with the on-call team.\n")
    assert _statuses(session, slug) == [(1, "published"), (2, "draft")]
    # A new draft starts from the files as they are, comment included, and publishes.
    client.post(draft_url + "/discard", data={"csrf_token": author_csrf})
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    page = client.get(edit.headers["location"]).text
    assert "# Reviewed with the on-call team." in page
    published = client.post(
        edit.headers["location"] + "/publish",
        data={"csrf_token": author_csrf},
        follow_redirects=False,
    )
    assert published.status_code == 303
    assert key.read_text().startswith("# Reviewed with the on-call team.\n")


def test_a_candidate_is_never_served_a_draft(session: Session, content: Path) -> None:
    write_content(content)
    folders = (content / "assessments", content / "seeded_bugs")
    assessment_service.sync_content(session, *folders)
    key = content / "seeded_bugs" / "demo.yaml"
    key.write_text(key.read_text().replace("Something breaks.", "Something else breaks."))
    assessment_service.sync_content(session, *folders, as_draft=True)
    invite = invite_service.create_invite(session, assessment="demo", candidate_name="Ed").invite
    demo = session.scalars(select(Assessment).where(Assessment.slug == "demo")).one()
    assert [v.status for v in demo.versions] == [VersionStatus.published, VersionStatus.draft]
    assert views.version_for(invite, None).number == 1
    submission = submission_service.start_submission(session, invite)
    assert session.get(AssessmentVersion, submission.version_id).number == 1  # type: ignore[union-attr]


def _home(client: TestClient) -> str:
    return client.get("/staff/assessments").text


def test_a_clean_draft_without_its_version_gets_one_when_opened(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("old")
    files = content_files(slug)
    key = files.pop(f"seeded_bugs/{slug}.yaml")
    author = make_user(session, role=Role.author)
    # Staged as a release before draft versions did: a folder and no row.
    draft = upload.stage(
        get_settings().data_dir,
        slug=slug,
        files={path.split("/", 2)[2]: data for path, data in files.items()},
        key=key,
        actor=author,
        base_version=None,
        base_files_digest=None,
    )
    with pytest.raises(assessment_service.AssessmentNotFound):
        assessment_service.get_assessment(session, slug)
    page = client.get(f"/staff/assessments/drafts/{draft.id}")
    assert page.status_code == 200 and 'id="draft-version"' in page.text
    assert _statuses(session, slug) == [(1, "draft")]


def test_a_candidate_whose_assessment_was_withdrawn_is_not_sent_round_in_a_loop(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("wd")
    version_url = _published(client, author_csrf, slug)
    link = invite_service.create_invite(session, assessment=slug, candidate_name="Ed")
    session.flush()
    retired = client.post(
        version_url + "/retire",
        data={"csrf_token": author_csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert retired.status_code == 303
    page = client.get(f"/i/{link.token}")
    assert page.status_code == 410
    assert "This assessment has been withdrawn" in page.text
    # No review was ever started: a "Back to your review" link would lead to this same page.
    assert "Back to your review" not in page.text
    assert 'href="/take"' not in page.text
    assert "Ask the person who invited you for a new link" in page.text


def test_publishing_a_published_or_retired_version_says_what_it_is_and_what_to_do(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("again")
    version_url = _published(client, author_csrf, slug)
    again = client.post(version_url + "/publish", data={"csrf_token": author_csrf})
    assert again.status_code == 409
    assert f"Version 1 of {slug} is already published" in again.text
    client.post(version_url + "/retire", data={"csrf_token": author_csrf, "confirm": "yes"})
    retired = client.post(version_url + "/publish", data={"csrf_token": author_csrf})
    assert retired.status_code == 409
    assert f"Version 1 of {slug} is retired, and a retired version is not published again" in (
        html.unescape(retired.text)
    )
    assert "Edit as a draft" in retired.text
    assert _statuses(session, slug) == [(1, "retired")]


def test_a_draft_version_whose_browser_draft_folder_is_gone_can_be_discarded(
    client: TestClient, session: Session, content: Path, author_csrf: str
) -> None:
    slug = fresh_slug("lost")
    draft_url = _upload(client, author_csrf, content_files(slug))
    draft_id = draft_url.rsplit("/", 1)[1]
    shutil.rmtree(upload.drafts_dir(get_settings().data_dir) / draft_id)
    # No page an author is shown links to the missing draft.
    home = client.get("/staff/assessments").text
    assert draft_id not in home
    version_url = f"/staff/assessments/{slug}/versions/1"
    page = client.get(version_url)
    assert page.status_code == 200 and draft_id not in page.text
    assert "gone from the data directory" in page.text
    again = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert again.headers["location"] == version_url
    publish = client.post(version_url + "/publish", data={"csrf_token": author_csrf})
    assert publish.status_code == 409 and "nothing to publish" in publish.text
    discard = client.post(
        version_url + "/discard", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert discard.status_code == 303
    with pytest.raises(assessment_service.AssessmentNotFound):
        assessment_service.get_assessment(session, slug)
    assert _upload(client, author_csrf, content_files(slug)).startswith(
        "/staff/assessments/drafts/"
    )
