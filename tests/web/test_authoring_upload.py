"""Adding and changing an assessment from the browser: drafts, checks, limits, publishing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.audit.models import AuditEvent
from app.authoring import upload
from app.settings import get_settings
from tests.web.factories import (
    content_files,
    fresh_slug,
    tar_archive,
    upload_archive,
    zip_archive,
)


def test_upload_check_fix_publish_then_content_sync_finds_nothing_new(
    client: TestClient,
    session: Session,
    content: Path,
    author_csrf: str,
) -> None:
    slug = fresh_slug("up")
    files = content_files(slug)
    broken_key = files[f"seeded_bugs/{slug}.yaml"].replace(b"rank: 1\n", b"rank: first\n", 1)
    files[f"seeded_bugs/{slug}.yaml"] = broken_key
    response = upload_archive(client, author_csrf, "mine.zip", zip_archive(files))
    assert response.status_code == 303
    draft_url = response.headers["location"]
    page = client.get(draft_url).text
    assert "draft" in page and 'id="publish"' not in page
    line = broken_key.decode().splitlines().index("    rank: first") + 1
    problems = re.search(
        r'<ul class="problems error-text" id="key-problems">(.*?)</ul>', page, re.S
    )
    assert problems and f"seeded_bugs/{slug}.yaml:{line}: bugs[0].rank" in problems.group(1)
    # Nothing reaches candidates while it is a draft.
    with pytest.raises(assessment_service.AssessmentNotFound):
        assessment_service.get_assessment(session, slug)

    fixed = broken_key.decode().replace("rank: first", "rank: 1")
    assessment_yaml = files[f"assessments/{slug}/assessment.yaml"].decode()
    checked = client.post(
        draft_url,
        data={"csrf_token": author_csrf, "assessment_yaml": assessment_yaml, "key_yaml": fixed},
    )
    assert checked.status_code == 200
    assert 'id="draft-ready"' in checked.text
    published = client.post(
        draft_url + "/publish", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert published.status_code == 303
    assert published.headers["location"] == f"/staff/assessments/{slug}/versions/1"
    assert (content / "assessments" / slug / "client.py").read_bytes() == files[
        f"assessments/{slug}/client.py"
    ]
    assert (content / "seeded_bugs" / f"{slug}.yaml").read_text() == fixed
    assert client.get(draft_url).status_code == 404  # a published draft is gone
    events = session.query(AuditEvent).filter_by(subject_id=slug).all()
    assert [e.action for e in events] == ["assessment.published"]
    # The files on disk and the database agree: a sync afterwards changes nothing.
    actions, _ = assessment_service.sync_content(
        session, content / "assessments", content / "seeded_bugs"
    )
    assert [str(a) for a in actions if a.slug == slug] == [f"{slug}: unchanged, still version 1"]
    home = client.get("/staff/assessments").text
    assert f'id="a-{slug}"' in home


def test_edit_as_a_draft_changes_make_a_new_version_and_disk_edits_are_not_overwritten(
    client: TestClient,
    session: Session,
    content: Path,
    author_csrf: str,
) -> None:
    slug = fresh_slug("ed")
    first = upload_archive(client, author_csrf, "a.tar.gz", tar_archive(content_files(slug)))
    client.post(first.headers["location"] + "/publish", data={"csrf_token": author_csrf})
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    draft_url = edit.headers["location"]
    page = client.get(draft_url).text
    assert 'id="draft-ready"' in page  # the newest version, written back out, checks clean
    draft_id = draft_url.rsplit("/", 1)[1]
    draft = upload.load_draft(get_settings().data_dir, draft_id)
    unchanged = client.post(
        draft_url + "/publish", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert unchanged.headers["location"] == f"/staff/assessments/{slug}/versions/1"

    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    draft_url = edit.headers["location"]
    draft = upload.load_draft(get_settings().data_dir, draft_url.rsplit("/", 1)[1])
    key = draft.key_yaml.replace("Cache key ignores", "The cache key ignores", 1)
    client.post(
        draft_url,
        data={"csrf_token": author_csrf, "assessment_yaml": draft.assessment_yaml, "key_yaml": key},
    )
    # Someone edits the files on disk without syncing: publishing must not overwrite them.
    disk = content / "seeded_bugs" / f"{slug}.yaml"
    disk.write_text(disk.read_text().replace("ignores model", "ignores the model", 1))
    refused = client.post(draft_url + "/publish", data={"csrf_token": author_csrf})
    assert refused.status_code == 409
    assert "changed on disk and not synced" in refused.text
    assert "ignores the model" in disk.read_text()
    # Once the disk edit is synced it is version 3 (the open draft holds number 2), and the
    # draft made from version 1 would undo it: refused too, until the author starts again.
    actions, _ = assessment_service.sync_content(
        session, content / "assessments", content / "seeded_bugs"
    )
    assert [str(a) for a in actions if a.slug == slug] == [
        f"{slug}: changed, new version 3; draft version 2 made in the browser is left as it is"
    ]
    stale = client.post(draft_url + "/publish", data={"csrf_token": author_csrf})
    assert stale.status_code == 409
    assert "it now has version 3" in stale.text
    # One draft at a time: editing again continues the open draft until it is discarded.
    again = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert again.headers["location"] == draft_url
    client.post(draft_url + "/discard", data={"csrf_token": author_csrf})
    edit = client.post(
        f"/staff/assessments/{slug}/edit", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    draft_url = edit.headers["location"]
    draft = upload.load_draft(get_settings().data_dir, draft_url.rsplit("/", 1)[1])
    assert "ignores the model" in draft.key_yaml
    key = draft.key_yaml.replace("ignores the model", "ignores the model name", 1)
    client.post(
        draft_url,
        data={"csrf_token": author_csrf, "assessment_yaml": draft.assessment_yaml, "key_yaml": key},
    )
    published = client.post(
        draft_url + "/publish", data={"csrf_token": author_csrf}, follow_redirects=False
    )
    assert published.headers["location"] == f"/staff/assessments/{slug}/versions/4"
    assert "ignores the model name" in disk.read_text()
    statuses = [
        (v.number, v.status.value)
        for v in assessment_service.get_assessment(session, slug).versions
    ]
    assert statuses == [(1, "retired"), (3, "retired"), (4, "published")]


@pytest.mark.parametrize(
    ("name", "build", "message"),
    [
        (
            "x.zip",
            lambda f: zip_archive({**f, "../evil.txt": b"x"}),
            "paths may not leave the folder",
        ),
        (
            "x.zip",
            lambda f: zip_archive({**f, "/etc/evil": b"x"}),
            "absolute paths are not allowed",
        ),
        ("x.tar.gz", lambda f: tar_archive(f, link="assessments/s/link.py"), "only regular files"),
        (
            "x.zip",
            lambda f: zip_archive({f"assessments/s/f{i}.py": b"" for i in range(60)}),
            "more than 50 files",
        ),
        (
            "x.zip",
            lambda f: zip_archive({"assessments/s/big.py": b"x" * (upload.MAX_TOTAL_BYTES + 1)}),
            "file too large",
        ),
        ("x.zip", lambda f: zip_archive({**f, "README.md": b"x"}), "not under assessments/"),
        ("x.rar", lambda f: b"whatever", "must end in .zip, .tar.gz or .tgz"),
        ("x.zip", lambda f: b"not a zip", "not a readable archive"),
        (
            "x.zip",
            lambda f: zip_archive({k: v for k, v in f.items() if "seeded_bugs" not in k}),
            "no answer key",
        ),
    ],
)
def test_upload_limits_are_refused_with_the_reason(
    client: TestClient,
    session: Session,
    content: Path,
    name: str,
    build,
    message: str,  # type: ignore[no-untyped-def],
    author_csrf: str,
) -> None:
    response = upload_archive(client, author_csrf, name, build(content_files("s")))
    assert response.status_code == 422
    assert message in response.text
    assert list((content / "assessments").iterdir()) == []


def test_loose_files_upload_needs_a_key_named_for_the_slug(
    client: TestClient,
    session: Session,
    content: Path,
    author_csrf: str,
) -> None:
    slug = fresh_slug("loose")
    files = content_files(slug)
    loose = [
        ("files", (path.rsplit("/", 1)[1], data, "text/plain"))
        for path, data in files.items()
        if path.startswith("assessments/")
    ]
    missing = client.post("/staff/assessments/new", data={"csrf_token": author_csrf}, files=loose)
    assert missing.status_code == 422 and "upload: key: choose the answer key" in missing.text
    key = ("key", (f"{slug}.yaml", files[f"seeded_bugs/{slug}.yaml"], "text/yaml"))
    ok = client.post(
        "/staff/assessments/new",
        data={"csrf_token": author_csrf},
        files=[*loose, key],
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert 'id="draft-ready"' in client.get(ok.headers["location"]).text
