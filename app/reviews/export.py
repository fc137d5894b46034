"""Export of auto and final scores: JSON with everything, a tidy CSV (one row per submission)
and a long CSV (one row per decision), both flat so that a spreadsheet or pandas reads them
without parsing cells."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import spreadsheet
from app.assessments.models import Assessment, AssessmentVersion
from app.reviews import service as reviews
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade
from app.submissions.models import Submission
from app.users.models import User
from grading import DIMENSIONS

# Columns holding lists or mappings carry JSON text in CSV, so every record survives the trip.
JSON_COLUMNS = ("matches", "flags", "overrides", "graders", "bugs")
FLAT_COLUMNS = (
    "submission",
    "public_id",
    "assessment",
    "assessment_version",
    "candidate",
    "submitted_at",
    "status",
    "auto_total",
    *(f"auto_{d}" for d in DIMENSIONS),
    "auto_needs_review",
    "auto_grader_version",
    "auto_model_version",
    "auto_scored_at",
    "final_total",
    *(f"final_{d}" for d in DIMENSIONS),
    "finalized_by",
    "finalized_at",
    "updated_by",
    "updated_at",
)
COLUMNS = (*FLAT_COLUMNS, *JSON_COLUMNS)


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
            selectinload(Submission.version).selectinload(AssessmentVersion.bugs),
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
        "auto_model_version": auto.model_version if auto else None,
        "auto_scored_at": _iso(auto.created_at) if auto else None,
        "final_total": decision.total if final and decision else None,
        "finalized_by": users.get(decision.finalized_by_id or 0) if decision else None,
        "finalized_at": _iso(decision.finalized_at) if decision else None,
        "updated_by": users.get(decision.updated_by_id or 0) if decision else None,
        "updated_at": _iso(decision.updated_at) if decision else None,
    }
    for d in DIMENSIONS:
        record[f"auto_{d}"] = auto.dimensions.get(d) if auto else None
        record[f"final_{d}"] = decision.dimensions.get(d) if final and decision else None
    verdicts = {
        (m.bug_key, m.comment_index): m for m in (decision.match_decisions if decision else [])
    }
    grade = stored_grade(auto) if auto else None
    confidences = {(m.bug, m.comment): m.confidence for m in grade.matches} if grade else {}
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
    for flag in grade.red_flags if grade else ():
        fd = flag_verdicts.get((flag.kind, flag.comment))
        flags.append(
            {
                "kind": flag.kind,
                "comment": flag.comment,
                "evidence": flag.evidence,
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
    found_auto = {bug for bug, _ in reviews.auto_matches(auto)}
    found_final = {bug for bug, _ in reviews.effective_matches(auto, decision)}
    record["bugs"] = [
        {
            "bug": b.key,
            "auto_found": b.key in found_auto if auto else None,
            "final_found": b.key in found_final if final else None,
        }
        for b in sorted(submission.version.bugs, key=lambda b: (b.rank, b.key))
    ]
    graders = {m["decided_by"] for m in matches if m["decided_by"]}
    graders |= {f["decided_by"] for f in flags if f["decided_by"]}
    graders |= {o["decided_by"] for o in record["overrides"].values() if o["decided_by"]}
    graders |= {record["finalized_by"]} - {None}
    record["graders"] = sorted(graders)
    return {column: record[column] for column in COLUMNS}


def to_json(records: Iterable[dict[str, Any]]) -> str:
    """The records as a JSON array."""
    return json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    return spreadsheet.neutralise(str(value))


def _write(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    # CRLF as RFC 4180 says: the writer then quotes any cell holding a bare CR too.
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _cell(row.get(column)) for column in columns})
    return out.getvalue()


def bug_columns(records: Iterable[dict[str, Any]]) -> list[str]:
    """`auto_found:<bug>` and `final_found:<bug>` for every seeded bug the records know."""
    keys: dict[str, None] = {}
    for record in records:
        for bug in record["bugs"]:
            keys.setdefault(f"{record['assessment']}/{bug['bug']}")
    return [f"{kind}:{key}" for key in keys for kind in ("auto_found", "final_found")]


def to_tidy_csv(records: Sequence[dict[str, Any]]) -> str:
    """One row per submission: a column per dimension (auto and final) and per bug found."""
    bugs = bug_columns(records)
    rows = []
    for record in records:
        row = {column: record[column] for column in FLAT_COLUMNS}
        row["graders"] = "; ".join(record["graders"])
        for bug in record["bugs"]:
            key = f"{record['assessment']}/{bug['bug']}"
            row[f"auto_found:{key}"] = bug["auto_found"]
            row[f"final_found:{key}"] = bug["final_found"]
        rows.append(row)
    return _write([*FLAT_COLUMNS, "graders", *bugs], rows)


DECISION_COLUMNS = (
    "submission",
    "public_id",
    "assessment",
    "status",
    "kind",
    "item",
    "comment",
    "source",
    "confidence",
    "verdict",
    "value",
    "reason",
    "decided_by",
    "decided_at",
)


def decision_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per decision (undecided auto items too, with an empty verdict)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        base = {k: record[k] for k in ("submission", "public_id", "assessment", "status")}
        for m in record["matches"]:
            rows.append(
                {
                    **base,
                    "kind": "match",
                    "item": m["bug"],
                    "comment": m["comment"],
                    "source": m["source"],
                    "confidence": m["confidence"],
                    "verdict": m["verdict"],
                    "decided_by": m["decided_by"],
                    "decided_at": m["decided_at"],
                }
            )
        for f in record["flags"]:
            rows.append(
                {
                    **base,
                    "kind": "flag",
                    "item": f["kind"],
                    "comment": f["comment"],
                    "source": "auto",
                    "verdict": f["verdict"],
                    "decided_by": f["decided_by"],
                    "decided_at": f["decided_at"],
                }
            )
        for dimension, o in record["overrides"].items():
            rows.append(
                {
                    **base,
                    "kind": "override",
                    "item": dimension,
                    "source": "grader",
                    "value": o["value"],
                    "reason": o["reason"],
                    "decided_by": o["decided_by"],
                    "decided_at": o["decided_at"],
                }
            )
        if record["status"] == "final":
            rows.append(
                {
                    **base,
                    "kind": "finalize",
                    "item": "grade",
                    "source": "grader",
                    "value": record["final_total"],
                    "decided_by": record["finalized_by"],
                    "decided_at": record["finalized_at"],
                }
            )
    return rows


def to_decisions_csv(records: Sequence[dict[str, Any]]) -> str:
    """The long CSV: one row per decision."""
    return _write(DECISION_COLUMNS, decision_rows(records))
