"""The author pages under hostile or careless input: version numbers out of range, archives
that unpack to far more than they weigh, pasted reviews nested past the parser, batches of
junk, and two authors uploading or publishing the same assessment at once. Every answer is
a 4xx naming what is wrong, never a 500, and nothing saved is lost."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.assessments.models import Assessment, AssessmentVersion, VersionStatus
from app.auth import SESSION_COOKIE
from app.authoring import trial, upload
from app.db import get_sessionmaker
from app.security import csrf_token_for
from app.settings import get_settings
from app.users import service as users_service
from app.users.models import Role
from tests.web.factories import (
    DEFAULT_ASSESSMENT,
    content_files,
    fresh_slug,
    make_user,
    upload_archive,
    zip_archive,
)

VERSION_PAGES = ("", "/preview", "/try", "/lint", "/analysis", "/rescore")
VERSION_FILES = ("/analysis/totals.svg", "/analysis/bugs.csv")
VERSION_POSTS = ("/publish", "/retire", "/discard", "/rescore", "/try")
OUT_OF_RANGE = ("0", "-1", "2147483648", "9223372036854775808", "1" + "0" * 30)


def test_a_version_number_out_of_range_is_refused_on_every_version_route(
    client: TestClient, author_csrf: str
) -> None:
    base = f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/"
    failures = []
    for number in OUT_OF_RANGE:
        for suffix in VERSION_PAGES + VERSION_FILES:
            response = client.get(base + number + suffix)
            if response.status_code not in (404, 422):
                failures.append(("GET", number, suffix, response.status_code))
        for suffix in VERSION_POSTS:
            response = client.post(
                base + number + suffix,
                data={"csrf_token": author_csrf, "confirm": "yes"},
                follow_redirects=False,
            )
            if response.status_code not in (404, 422):
                failures.append(("POST", number, suffix, response.status_code))
    assert failures == []
    for applied in ("-1", "2147483648"):
        response = client.get(base + f"1/rescore?applied={applied}")
        assert response.status_code == 422, applied
        assert "Re-scored" not in response.text
    response = client.get(base + "2147483648")
    assert response.status_code == 422
    assert "number: Input should be less than or equal to 2147483647" in response.text


def _tar_then_junk(members: list[tarfile.TarInfo]) -> bytes:
    """A .tar.gz of these empty members with no end-of-archive marker, followed by bytes that
    are not gzip: a reader meets the junk only if it goes on past the last member."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for info in members:
            archive.addfile(info)
    body = raw.getvalue()[: 512 * len(members)]
    return gzip.compress(body) + b"\x01" * 4096


def test_a_tar_with_too_many_members_is_refused_before_the_rest_is_unpacked(
    client: TestClient, content: Path, author_csrf: str
) -> None:
    members = []
    for index in range(upload.MAX_FILES + 1):
        info = tarfile.TarInfo(f"assessments/s/f{index}.py")
        info.size = 0
        members.append(info)
    # What follows the members is junk: only a reader that unpacks the whole archive before
    # counting meets it (a small .tar.gz can hold millions of headers).
    data = _tar_then_junk(members)
    response = upload_archive(client, author_csrf, "many.tar.gz", data)
    assert response.status_code == 422
    assert f"many.tar.gz: more than {upload.MAX_FILES} files" in response.text


def test_a_tar_whose_members_add_up_past_the_limit_is_refused_by_their_declared_sizes(
    client: TestClient, content: Path, author_csrf: str
) -> None:
    half = upload.MAX_TOTAL_BYTES // 2 + 1
    first = tarfile.TarInfo("assessments/s/a.py")
    first.size = half
    second = tarfile.TarInfo("assessments/s/b.py")
    second.size = half
    # The second member's bytes never come: refusing it must not need them (a gzip of
    # zeros a thousand times its size would otherwise be unpacked to count them).
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        archive.addfile(first, io.BytesIO(b"x" * half))
    body = raw.getvalue().rstrip(b"\0")
    body += b"\0" * (-len(body) % 512) + second.tobuf()
    response = upload_archive(client, author_csrf, "big.tar.gz", gzip.compress(body))
    assert response.status_code == 422
    assert f"more than {upload.MAX_TOTAL_BYTES:,} bytes unpacked" in response.text


def test_a_slug_with_letters_outside_a_to_z_is_refused_at_upload(
    client: TestClient, content: Path, author_csrf: str
) -> None:
    files = {
        path.replace("uni", "qä"): data.replace(b"uni", "qä".encode())
        for path, data in content_files("uni").items()
    }
    response = upload_archive(client, author_csrf, "u.zip", zip_archive(files))
    assert response.status_code == 422
    assert "slug: &#39;qä&#39; is not a slug ([a-z0-9-]+)" in response.text
    assert upload.list_drafts(get_settings().data_dir) == [] or all(
        d.slug != "qä" for d in upload.list_drafts(get_settings().data_dir)
    )


@pytest.mark.parametrize(
    ("escape", "message"),
    [
        ("\\0", "a NUL character (\\0) cannot be stored"),
        ("\\ud800", "an unpaired UTF-16 surrogate (\\ud800-\\udfff) is not valid Unicode"),
    ],
)
def test_text_no_database_can_store_is_a_problem_at_its_line_not_a_500(
    client: TestClient, content: Path, author_csrf: str, escape: str, message: str
) -> None:
    slug = fresh_slug("esc")
    files = content_files(slug)
    yaml_path = f"assessments/{slug}/assessment.yaml"
    lines = files[yaml_path].decode().splitlines(keepends=True)
    title = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[title] = f'title: "Review{escape} the client"\n'
    files[yaml_path] = "".join(lines).encode()
    response = upload_archive(client, author_csrf, "esc.zip", zip_archive(files))
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert f"{yaml_path}:{title + 1}: refused: {message}" in page.text
    # The draft can still be fixed in the page and discarded.
    discard = client.post(
        response.headers["location"] + "/discard",
        data={"csrf_token": author_csrf},
        follow_redirects=False,
    )
    assert discard.status_code == 303


def _try_url() -> str:
    return f"/staff/assessments/{DEFAULT_ASSESSMENT}/versions/1/try"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "pasted:1: invalid JSON: nested too deeply"),
        ("\n" + "{" * 100_000, "pasted:2: invalid JSON"),
        ('{"id": "x", "comments": ' + "[" * 100_000, "pasted:1: invalid JSON"),
    ],
)
def test_a_review_nested_past_the_parser_is_a_problem_at_its_line(
    client: TestClient, author_csrf: str, text: str, message: str
) -> None:
    response = client.post(_try_url(), data={"csrf_token": author_csrf, "reviews": text})
    assert response.status_code == 422
    assert message in response.text


def test_a_batch_of_junk_lists_the_first_problems_and_counts_the_rest(
    client: TestClient, author_csrf: str
) -> None:
    junk = b"x\n" * 50_000
    response = client.post(
        _try_url(),
        data={"csrf_token": author_csrf},
        files={"batch": ("junk.jsonl", junk, "application/jsonl")},
    )
    assert response.status_code == 422
    assert response.text.count("invalid JSON") == trial.MAX_PROBLEMS
    rest = 50_000 - trial.MAX_PROBLEMS
    assert f"junk.jsonl:{trial.MAX_PROBLEMS + 1}: {trial.MAX_PROBLEMS} problems listed" in (
        response.text
    )
    assert f"the {rest:,} non-empty lines from here on were not read" in response.text


def test_junk_after_the_problem_limit_does_not_hide_reviews_before_it() -> None:
    good = json.dumps({"id": "r", "assessment": DEFAULT_ASSESSMENT, "comments": []})
    text = "\n".join([good, *(["nope"] * (trial.MAX_PROBLEMS + 5))])
    parsed = trial.parse_reviews(text, name="b.jsonl", slug=DEFAULT_ASSESSMENT)
    assert [line for line, _ in parsed.reviews] == [1]
    assert len(parsed.problems) == trial.MAX_PROBLEMS + 1


# -- two authors at once, on the live server (its own connections, committed writes) -------


def _author_client(live_server: str) -> tuple[httpx.Client, str]:
    with get_sessionmaker().begin() as session:
        user = make_user(session, role=Role.author)
        token = users_service.start_session(session, user)
    client = httpx.Client(base_url=live_server, timeout=60, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, token)
    return client, csrf_token_for(token)


def _all_at_once(calls: list[object]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()  # type: ignore[operator]
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        assert isinstance(result, httpx.Response), result
    return results  # type: ignore[return-value]


def _drafts_of(slug: str) -> list[upload.Draft]:
    return [d for d in upload.list_drafts(get_settings().data_dir) if d.slug == slug]


def test_authors_uploading_one_new_slug_at_once_make_one_draft(
    live_server: str, content: Path
) -> None:
    authors = [_author_client(live_server) for _ in range(6)]
    for _round in range(3):
        slug = fresh_slug("race")
        data = zip_archive(content_files(slug))

        def send(author: tuple[httpx.Client, str], data: bytes = data) -> httpx.Response:
            client, csrf = author
            return client.post(
                "/staff/assessments/new",
                data={"csrf_token": csrf},
                files={"archive": ("a.zip", data, "application/zip")},
            )

        responses = _all_at_once([lambda a=a: send(a) for a in authors])
        codes = sorted(r.status_code for r in responses)
        assert codes == [303] + [409] * (len(authors) - 1), codes
        assert len(_drafts_of(slug)) == 1
        with get_sessionmaker()() as session:
            drafts = session.scalars(
                select(AssessmentVersion)
                .join(Assessment)
                .where(Assessment.slug == slug, AssessmentVersion.status == VersionStatus.draft)
            ).all()
            assert len(drafts) == 1
        # The live server committed it: discard it, so no later test finds a stray draft.
        made = next(r for r in responses if r.status_code == 303)
        client, csrf = authors[0]
        discarded = client.post(made.headers["location"] + "/discard", data={"csrf_token": csrf})
        assert discarded.status_code == 303


def test_authors_publishing_one_draft_at_once_publish_it_once(
    live_server: str, content: Path
) -> None:
    authors = [_author_client(live_server) for _ in range(4)]
    slug = fresh_slug("pub")
    client, csrf = authors[0]
    made = client.post(
        "/staff/assessments/new",
        data={"csrf_token": csrf},
        files={"archive": ("a.zip", zip_archive(content_files(slug)), "application/zip")},
    )
    assert made.status_code == 303
    url = made.headers["location"] + "/publish"
    responses = _all_at_once(
        [lambda c=c, t=t: c.post(url, data={"csrf_token": t}) for c, t in authors]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [303] + [404] * (len(authors) - 1), codes
    for response in responses:
        if response.status_code == 404:
            assert "it may have been published or discarded" in response.text
    with get_sessionmaker()() as session:
        statuses = session.scalars(
            select(AssessmentVersion.status)
            .join(Assessment)
            .where(Assessment.slug == slug)
            .order_by(AssessmentVersion.number)
        ).all()
    assert statuses == [VersionStatus.published]


def test_editing_a_draft_while_another_author_publishes_it_is_a_404_not_a_500(
    live_server: str, content: Path
) -> None:
    authors = [_author_client(live_server) for _ in range(2)]
    slug = fresh_slug("edit")
    files = content_files(slug)
    client, csrf = authors[0]
    made = client.post(
        "/staff/assessments/new",
        data={"csrf_token": csrf},
        files={"archive": ("a.zip", zip_archive(files), "application/zip")},
    )
    url = made.headers["location"]
    form = {
        "assessment_yaml": files[f"assessments/{slug}/assessment.yaml"].decode(),
        "key_yaml": files[f"seeded_bugs/{slug}.yaml"].decode(),
    }
    for _round in range(3):
        responses = _all_at_once(
            [
                lambda: authors[0][0].post(url + "/publish", data={"csrf_token": authors[0][1]}),
                lambda: authors[1][0].post(url, data={"csrf_token": authors[1][1], **form}),
            ]
        )
        assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]


def test_a_pasted_text_past_the_form_field_limit_says_how_to_send_it(
    client: TestClient, author_csrf: str
) -> None:
    big = json.dumps({"id": "r", "assessment": DEFAULT_ASSESSMENT, "summary": "x" * 1_100_000})
    response = client.post(
        _try_url(),
        data={"csrf_token": author_csrf},
        files={"reviews": (None, big)},  # a plain field of a multipart form, as a browser sends
    )
    assert response.status_code == 413
    assert "A text box held more than 1 MB" in response.text
    assert "upload it as a file instead" in response.text
    page = client.get(_try_url()).text
    assert "JSON Lines (up to 1 MB)" in page
