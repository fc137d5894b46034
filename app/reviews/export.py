"""Export of auto and final scores, as JSON and as CSV that reads back to the same records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import spreadsheet
from app.assessments.models import Assessment, AssessmentVersion
from app.reviews import scoring
from app.reviews import service as reviews
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring.models import AutoScore
from app.submissions.models import Submission
from app.users.models import User

# Columns holding lists or mappings carry JSON text in CSV, so every record survives the trip.
JSON_COLUMNS = ("matches", "flags", "overrides", "graders")
FLAT_COLUMNS = (
    "submission",
    "public_id",
    "assessment",
    "assessment_version",
    "candidate",
    "submitted_at",
    "status",
    "auto_total",
    *(f"auto_{d}" for d in scoring.DIMENSIONS),
    "auto_needs_review",
    "auto_grader_version",
    "auto_scored_at",
    "final_total",
    *(f"final_{d}" for d in scoring.DIMENSIONS),
    "finalized_by",
    "finalized_at",
    "updated_by",
    "updated_at",
)
COLUMNS = (*FLAT_COLUMNS, *JSON_COLUMNS)
NUMBER_COLUMNS = frozenset(
    {
        "auto_total",
        "final_total",
        *(f"{p}_{d}" for p in ("auto", "final") for d in scoring.DIMENSIONS),
    }
)
INT_COLUMNS = frozenset({"submission", "assessment_version"})
BOOL_COLUMNS = frozenset({"auto_needs_review"})


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_records(session: Session, *, assessment: str | None = None) -> list[dict[str, Any]]:
    """One flat record per submitted submission: auto and final scores, matches, flags, who."""
    query = (
        select(Submission)
        .where(Submission.status.in_(reviews.SUBMITTED))
        .options(
            selectinload(Submission.invite),
            selectinload(Submission.version).selectinload(AssessmentVersion.assessment),
        )
        .order_by(Submission.id)
    )
    if assessment:
        query = query.join(AssessmentVersion).join(Assessment).where(Assessment.slug == assessment)
    submissions = list(session.scalars(query))
    ids = [s.id for s in submissions]
    autos: dict[int, AutoScore] = {}
    for auto in session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id.in_(ids))
        .order_by(AutoScore.created_at, AutoScore.id)
    ):
        autos[auto.submission_id] = auto
    decisions = {
        d.submission_id: d
        for d in session.scalars(
            select(GradeDecision)
            .where(GradeDecision.submission_id.in_(ids))
            .options(
                selectinload(GradeDecision.match_decisions),
                selectinload(GradeDecision.flag_decisions),
                selectinload(GradeDecision.overrides),
            )
        )
    }
    users = {u.id: u.email for u in session.scalars(select(User))}
    return [_record(s, autos.get(s.id), decisions.get(s.id), users) for s in submissions]


def _record(
    submission: Submission,
    auto: AutoScore | None,
    decision: GradeDecision | None,
    users: dict[int, str],
) -> dict[str, Any]:
    final = decision is not None and decision.status is DecisionStatus.final
    record: dict[str, Any] = {
        "submission": submission.id,
        "public_id": submission.public_id,
        "assessment": submission.version.assessment.slug,
        "assessment_version": submission.version.number,
        "candidate": reviews.candidate_label(submission, decision) if final else None,
        "submitted_at": _iso(submission.submitted_at),
        "status": ("final" if final else "open" if decision else "pending" if auto else "unscored"),
        "auto_total": auto.total if auto else None,
        "auto_needs_review": auto.needs_review if auto else None,
        "auto_grader_version": auto.grader_version if auto else None,
        "auto_scored_at": _iso(auto.created_at) if auto else None,
        "final_total": decision.total if final and decision else None,
        "finalized_by": users.get(decision.finalized_by_id or 0) if decision else None,
        "finalized_at": _iso(decision.finalized_at) if decision else None,
        "updated_by": users.get(decision.updated_by_id or 0) if decision else None,
        "updated_at": _iso(decision.updated_at) if decision else None,
    }
    for d in scoring.DIMENSIONS:
        record[f"auto_{d}"] = auto.dimensions.get(d) if auto else None
        record[f"final_{d}"] = decision.dimensions.get(d) if final and decision else None
    verdicts = {
        (m.bug_key, m.comment_index): m for m in (decision.match_decisions if decision else [])
    }
    confidences = {
        (str(m["bug"]), int(m["comment"])): m.get("confidence")
        for m in (auto.result.get("matches", []) if auto else [])
    }
    matches = []
    for bug, comment in reviews.auto_matches(auto):
        md = verdicts.get((bug, comment))
        matches.append(
            {
                "bug": bug,
                "comment": comment,
                "source": "auto",
                "confidence": confidences.get((bug, comment)),
                "verdict": md.verdict.value if md else None,
                "decided_by": users.get(md.decided_by_id or 0) if md else None,
                "decided_at": _iso(md.decided_at) if md else None,
            }
        )
    for (bug, comment), md in sorted(verdicts.items()):
        if md.verdict.value == "added":
            matches.append(
                {
                    "bug": bug,
                    "comment": comment,
                    "source": "grader",
                    "confidence": None,
                    "verdict": "added",
                    "decided_by": users.get(md.decided_by_id or 0),
                    "decided_at": _iso(md.decided_at),
                }
            )
    flag_verdicts = {
        (f.kind, f.comment_index): f for f in (decision.flag_decisions if decision else [])
    }
    flags = []
    for raw in auto.result.get("red_flags", []) if auto else []:
        fd = flag_verdicts.get((str(raw["kind"]), int(raw["comment"])))
        flags.append(
            {
                "kind": raw["kind"],
                "comment": int(raw["comment"]),
                "evidence": raw.get("evidence", ""),
                "verdict": fd.verdict.value if fd else None,
                "decided_by": users.get(fd.decided_by_id or 0) if fd else None,
                "decided_at": _iso(fd.decided_at) if fd else None,
            }
        )
    record["matches"] = matches
    record["flags"] = flags
    record["overrides"] = {
        o.dimension: {
            "value": o.value,
            "reason": o.reason,
            "decided_by": users.get(o.decided_by_id or 0),
            "decided_at": _iso(o.decided_at),
        }
        for o in sorted(decision.overrides if decision else [], key=lambda o: o.dimension)
    }
    graders = {m["decided_by"] for m in matches if m["decided_by"]}
    graders |= {f["decided_by"] for f in flags if f["decided_by"]}
    graders |= {o["decided_by"] for o in record["overrides"].values() if o["decided_by"]}
    graders |= {record["finalized_by"]} - {None}
    record["graders"] = sorted(graders)
    return {column: record[column] for column in COLUMNS}


def to_json(records: Iterable[dict[str, Any]]) -> str:
    """The records as a JSON array."""
    return json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    """The records as CSV: one row each, nested values as JSON text, text cells neutralised."""
    out = io.StringIO()
    # CRLF as RFC 4180 says: the writer then quotes any cell holding a bare CR too.
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        row = {}
        for column in COLUMNS:
            value = record[column]
            if column in JSON_COLUMNS:
                row[column] = json.dumps(value, ensure_ascii=False, sort_keys=True)
            elif value is None:
                row[column] = ""
            elif isinstance(value, bool):
                row[column] = "true" if value else "false"
            elif isinstance(value, int | float):
                row[column] = str(value)
            else:
                row[column] = spreadsheet.neutralise(str(value))
        writer.writerow(row)
    return out.getvalue()


def from_csv(text: str) -> list[dict[str, Any]]:
    """Read records written by `to_csv` back into the shape `export_records` returns."""
    records = []
    for row in csv.DictReader(io.StringIO(text)):
        record: dict[str, Any] = {}
        for column in COLUMNS:
            raw = spreadsheet.restore(row[column])
            if column in JSON_COLUMNS:
                record[column] = json.loads(raw)
            elif raw == "":
                record[column] = None
            elif column in NUMBER_COLUMNS:
                record[column] = float(raw)
            elif column in INT_COLUMNS:
                record[column] = int(raw)
            elif column in BOOL_COLUMNS:
                record[column] = raw == "true"
            else:
                record[column] = raw
        records.append(record)
    return records
