"""The grading queue: submitted work, what needs a human most first, and where to go next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.assessments.models import Assessment, AssessmentVersion
from app.db import utcnow
from app.reviews.models import (
    DecisionStatus,
    GradeDecision,
)
from app.reviews.service import (
    SUBMITTED,
    InvalidDecision,
    candidate_label,
)
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade
from app.submissions.models import Submission
from app.users.models import User
from grading import GraderSettings

# Where the grader routes a total for review is where a hiring call flips; between the lowest
# and the highest of those lines the call is open, so the queue ranks by the same lines.
DECISION_BOUNDARIES = GraderSettings().boundaries
QUEUE_LIMIT = 500

# -- queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One submission in the grading queue."""

    submission_id: int
    assessment_slug: str
    assessment_title: str
    candidate: str
    submitted_at: datetime | None
    auto_total: float | None
    total: float | None
    needs_review: bool
    flag_count: int
    status: str  # unscored | pending | open | final
    graded_by: str | None
    reasons: tuple[str, ...]


QUEUE_STATUSES = ("todo", "pending", "open", "final", "all")


def list_queue(
    session: Session, *, assessment: str | None = None, status: str = "todo"
) -> list[QueueRow]:
    """Submitted work, what needs a human most first: needs_review, red flags, near the line."""
    if status not in QUEUE_STATUSES:
        raise InvalidDecision(f"status must be one of {', '.join(QUEUE_STATUSES)}")
    query = (
        select(Submission)
        .where(Submission.status.in_(SUBMITTED))
        .options(
            selectinload(Submission.invite),
            selectinload(Submission.version).selectinload(AssessmentVersion.assessment),
        )
        .order_by(Submission.submitted_at, Submission.id)
    )
    if assessment:
        query = query.join(AssessmentVersion).join(Assessment).where(Assessment.slug == assessment)
    submissions = list(session.scalars(query.limit(QUEUE_LIMIT * 4)))
    ids = [s.id for s in submissions]
    autos: dict[int, AutoScore] = {}
    for scored in session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id.in_(ids))
        .order_by(AutoScore.created_at, AutoScore.id)
    ):
        autos[scored.submission_id] = scored  # the newest wins
    decisions = {
        d.submission_id: d
        for d in session.scalars(select(GradeDecision).where(GradeDecision.submission_id.in_(ids)))
    }
    users = {u.id: u.name or u.email for u in session.scalars(select(User))}
    rows = []
    for s in submissions:
        auto, decision = autos.get(s.id), decisions.get(s.id)
        row_status = (
            "final"
            if decision and decision.status is DecisionStatus.final
            else "open"
            if decision
            else "pending"
            if auto
            else "unscored"
        )
        if status == "todo" and row_status == "final":
            continue
        if status in ("pending", "open", "final") and row_status != status:
            continue
        flags = len(stored_grade(auto).red_flags) if auto else 0
        reasons = []
        if auto and auto.needs_review:
            reasons.append("needs review")
        if flags:
            reasons.append(f"{flags} red flag{'s' if flags > 1 else ''}")
        if auto and min(DECISION_BOUNDARIES) <= auto.total <= max(DECISION_BOUNDARIES):
            reasons.append("near the line")
        if auto is None:
            reasons.append("awaiting auto-score")
        grader_id = (decision.finalized_by_id or decision.updated_by_id) if decision else None
        rows.append(
            QueueRow(
                submission_id=s.id,
                assessment_slug=s.version.assessment.slug,
                assessment_title=s.version.title,
                candidate=candidate_label(s, decision),
                submitted_at=s.submitted_at,
                auto_total=auto.total if auto else None,
                total=decision.total if decision else (auto.total if auto else None),
                needs_review=bool(auto and auto.needs_review),
                flag_count=flags,
                status=row_status,
                graded_by=users.get(grader_id) if grader_id else None,
                reasons=tuple(reasons),
            )
        )
    rows.sort(key=_priority)
    return rows[:QUEUE_LIMIT]


def _priority(row: QueueRow) -> tuple[Any, ...]:
    done = row.status == "final"
    unscored = row.auto_total is None
    distance = (
        min(abs(row.auto_total - line) for line in DECISION_BOUNDARIES)
        if row.auto_total is not None
        else 100.0
    )
    return (
        done,
        unscored,
        not row.needs_review,
        -row.flag_count,
        distance,
        row.submitted_at or utcnow(),
        row.submission_id,
    )


@dataclass(frozen=True)
class Neighbours:
    """Where the grader goes next, in the queue's order."""

    previous: int | None
    next: int | None
    next_todo: int | None
    position: int | None
    count: int


def neighbours(session: Session, submission_id: int) -> Neighbours:
    """Previous and next in the queue's order, and the first other submission still to grade."""
    rows = list_queue(session, status="all")
    ids = [r.submission_id for r in rows]
    todo = [
        r.submission_id for r in rows if r.status != "final" and r.submission_id != submission_id
    ]
    if submission_id not in ids:
        return Neighbours(None, None, todo[0] if todo else None, None, len(ids))
    at = ids.index(submission_id)
    return Neighbours(
        ids[at - 1] if at > 0 else None,
        ids[at + 1] if at + 1 < len(ids) else None,
        todo[0] if todo else None,
        at + 1,
        len(ids),
    )
