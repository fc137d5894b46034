"""Bulk invites: a CSV of name,email rows, all or none, links back as name,email,link."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.invites import bulk
from app.invites.models import Invite
from app.security import token_hash
from app.users.models import Role
from tests.web.factories import TEST_PASSWORD, make_user, unique

SLUG = "docs-rag"


def _invites_for(emails: list[str]) -> list[Invite]:
    with get_sessionmaker()() as session:
        return list(
            session.scalars(
                select(Invite).where(Invite.candidate_email.in_(emails)).order_by(Invite.id)
            )
        )


def _redline(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rows_with_or_without_a_header() -> None:
    with_header = bulk.parse_rows(
        b"\xef\xbb\xbfName,Email\r\nAda,ada@x.test\r\n\r\nBob, bob@x.test\n"
    )
    without = bulk.parse_rows("Ada,ada@x.test\nBob,bob@x.test\n")
    assert [(r.line, r.name, r.email) for r in with_header] == [
        (2, "Ada", "ada@x.test"),
        (4, "Bob", "bob@x.test"),
    ]
    assert [(r.name, r.email) for r in without] == [("Ada", "ada@x.test"), ("Bob", "bob@x.test")]


BAD = """\
name,email
Ada,ada@x.test
Bob
,carol@x.test
Dan,not-an-address
Eve,ada@x.test
"Quoted, name",ok@x.test,extra
"""


def test_every_bad_row_is_reported_with_its_line() -> None:
    with pytest.raises(bulk.BulkInvalid) as caught:
        bulk.parse_rows(BAD)
    assert caught.value.problems == [
        "line 3: expected 2 columns (name,email), found 1",
        "line 4: the name is empty",
        "line 5: candidate e-mail: 'not-an-address' is not an e-mail address",
        "line 6: ada@x.test is also on line 2",
        "line 7: expected 2 columns (name,email), found 3",
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "no rows: give one name,email per line"),
        (b"name,email\n", "no rows: give one name,email per line"),
        (b"Ada,ada@x.test\nB\xff,b@x.test\n", "line 2: not UTF-8 text (save the CSV as UTF-8)"),
        (b"A\x00,a@x.test\n", "line 1: candidate name: contains a NUL character"),
        (b"x" * (bulk.MAX_BYTES + 1), "the file is larger than 1024 KB"),
    ],
)
def test_unusable_files_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(bulk.BulkInvalid) as caught:
        bulk.parse_rows(data)
    assert caught.value.problems == [problem]


def test_cli_prints_one_link_per_row_in_one_process(engine: Engine, tmp_path: Path) -> None:
    emails = [f"{unique('bulk')}@example.com" for _ in range(3)]
    names = ["Ada Lovelace", '=HYPERLINK("http://x.test")', "Grace, Hopper"]
    file = tmp_path / "round.csv"
    with file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email"])
        writer.writerows(zip(names, emails, strict=True))
    result = _redline("invite", "create", "--assessment", SLUG, "--csv", str(file))
    assert result.returncode == 0, result.stderr
    assert "3 invites created" in result.stderr
    out = list(csv.reader(io.StringIO(result.stdout)))
    assert out[0] == ["name", "email", "link"]
    assert [row[:2] for row in out[1:]] == [
        ["Ada Lovelace", emails[0]],
        ['\'=HYPERLINK("http://x.test")', emails[1]],  # shown as text by spreadsheets
        ["Grace, Hopper", emails[2]],
    ]
    invites = _invites_for(emails)
    assert [(i.candidate_name, i.candidate_email) for i in invites] == list(
        zip(names, emails, strict=True)
    )
    # Each printed link is its invite's: the database holds the hash of its token.
    tokens = [row[2].rsplit("/i/", 1)[1] for row in out[1:]]
    assert [i.token_hash for i in invites] == [token_hash(t) for t in tokens]


def test_cli_creates_nothing_when_any_row_is_bad(engine: Engine) -> None:
    good = f"{unique('bulk')}@example.com"
    result = _redline(
        "invite", "create", "--assessment", SLUG, "--csv", "-",
        stdin=f"Ada,{good}\nBob,bob-at-nowhere\n",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "error: standard input: line 2: candidate e-mail: 'bob-at-nowhere' is not an e-mail "
        "address" in result.stderr
    )
    assert "1 problem(s); no invite was created" in result.stderr
    assert _invites_for([good]) == []


def test_cli_names_a_missing_file_and_an_unknown_assessment(engine: Engine) -> None:
    missing = _redline("invite", "create", "--assessment", SLUG, "--csv", "/no/such.csv")
    assert (missing.returncode, missing.stderr) == (
        2,
        "error: cannot read /no/such.csv: No such file or directory\n",
    )
    unknown = _redline("invite", "create", "--assessment", "nope", "--csv", "-", stdin="A,a@x.t\n")
    assert unknown.returncode == 1
    assert "no assessment called 'nope'" in unknown.stderr


def test_bulk_and_single_use_the_same_checks(session: Session) -> None:
    rows = bulk.parse_rows("Ada,ada@bulk.test\n")
    before = session.scalar(select(func.count()).select_from(Invite))
    created = bulk.create_invites(session, assessment=SLUG, rows=rows, actor="test")
    assert [new.invite.candidate_email for _, new in created] == ["ada@bulk.test"]
    assert session.scalar(select(func.count()).select_from(Invite)) == (before or 0) + 1


@pytest.mark.browser
def test_upload_on_the_invites_page(page: Any, live_server: str) -> None:
    from playwright.sync_api import expect

    with get_sessionmaker().begin() as session:
        email = make_user(session, role=Role.grader).email
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/staff/.*"))
    page.goto(f"{live_server}/staff/invites")

    emails = [f"{unique('page')}@example.com" for _ in range(2)]
    bad = f"name,email\nAda,{emails[0]}\nBob,{emails[0]}\n"
    page.locator("#bulk-assessment").select_option(SLUG)
    page.locator("#bulk-file").set_input_files(
        {"name": "round.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.get_by_role("button", name="Create invites").click()
    expect(page.locator("#bulk-errors")).to_have_text(f"line 3: {emails[0]} is also on line 2")
    assert _invites_for(emails) == []

    good = f"name,email\nAda Lovelace,{emails[0]}\nGrace Hopper,{emails[1]}\n"
    page.locator("#bulk-assessment").select_option(SLUG)
    page.locator("#bulk-file").set_input_files(
        {"name": "round.csv", "mimeType": "text/csv", "buffer": good.encode()}
    )
    page.get_by_role("button", name="Create invites").click()
    expect(page.locator("#new-invites h1")).to_have_text("2 invites created")
    with page.expect_download() as caught:
        page.locator("#bulk-download").click()
    download = caught.value
    assert download.suggested_filename == "redline-invites.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert [row[:2] for row in rows] == [
        ["name", "email"],
        ["Ada Lovelace", emails[0]],
        ["Grace Hopper", emails[1]],
    ]
    invites = _invites_for(emails)
    assert [i.token_hash for i in invites] == [
        token_hash(row[2].rsplit("/i/", 1)[1]) for row in rows[1:]
    ]
    assert all(row[2].startswith(f"{live_server}/i/") for row in rows[1:])
