"""A grade as it stands: reading a submission's auto-score and decisions, recomputing, errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.models import AssessmentVersion
from app.assessments.service import to_grading
from app.audit import service as audit
from app.reviews.models import (
    DecisionStatus,
    GradeDecision,
    MatchVerdict,
)
from app.scoring.models import AutoScore
from app.scoring.service import UnreadableScore, stored_grade, to_review
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import User
from grading import SUMMARY, DecisionError, Grade, Rescore, Rubric, rescore

# Totals this close to the line are where a human changes outcomes, so they rise in the queue.
# The near-duplicate check compares at most this much of each review: enough to catch a
# copied review, and at most a few milliseconds per pair however long the drafts are.
SUBMITTED = (SubmissionStatus.submitted, SubmissionStatus.auto_submitted)
FLAG_KINDS = ("rewrite", "framework", "style_only", "no_questions")


class ReviewError(Exception):
    """A grading request that cannot be carried out."""


class SubmissionNotFound(ReviewError, LookupError):
    """No submitted submission has that id."""


class InvalidDecision(ReviewError, ValueError):
    """The decision names something that does not exist or is out of range."""


class DecisionConflict(ReviewError):
    """The grade changed since the page was loaded; nothing was saved."""

    def __init__(self, message: str, *, submission_id: int, lost_race: bool = False) -> None:
        super().__init__(message)
        self.submission_id = submission_id
        # True when the refusal came from the database at write time: the session holds a
        # failed flush and must be rolled back before it is used again.
        self.lost_race = lost_race


# -- reading -----------------------------------------------------------------------------------


def get_submission(session: Session, submission_id: int) -> Submission:
    """A submitted submission, or SubmissionNotFound (drafts are never graded)."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.status not in SUBMITTED:
        raise SubmissionNotFound(f"no submitted submission {submission_id}")
    return submission


def latest_auto_score(session: Session, submission_id: int) -> AutoScore | None:
    """The newest auto-score of a submission."""
    return session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id == submission_id)
        .order_by(AutoScore.created_at.desc(), AutoScore.id.desc())
        .limit(1)
    ).first()


def get_decision(
    session: Session, submission_id: int, *, for_update: bool = False
) -> GradeDecision | None:
    """The grade decision of a submission, if a grader has saved anything yet."""
    query = select(GradeDecision).where(GradeDecision.submission_id == submission_id)
    if for_update:
        # PostgreSQL: a second grader's save waits here and then sees the new version.
        query = query.with_for_update()
    return session.scalars(query).first()


def candidate_label(submission: Submission, decision: GradeDecision | None) -> str:
    """The candidate's name once the grade is final; until then an anonymous label."""
    if decision is not None and decision.status is DecisionStatus.final:
        return (
            submission.invite.candidate_name
            or submission.invite.candidate_email
            or (f"Candidate {submission.public_id}")
        )
    return f"Candidate #{submission.id}"


def final_submission_ids(session: Session, submission_ids: Sequence[int]) -> set[int]:
    """Which of these submissions have a final grade (only those may show who the candidate is)."""
    if not submission_ids:
        return set()
    return set(
        session.scalars(
            select(GradeDecision.submission_id).where(
                GradeDecision.submission_id.in_(submission_ids),
                GradeDecision.status == DecisionStatus.final,
            )
        )
    )


def reveal_candidate(session: Session, submission_id: int, user: User) -> str:
    """Who the candidate is, before the grade is final: an admin's act, kept in the audit trail."""
    submission = get_submission(session, submission_id)
    invite = submission.invite
    name = invite.candidate_name or invite.candidate_email or f"Candidate {submission.public_id}"
    audit.record(
        session, user, "submission", submission.public_id, "candidate.revealed", None, None
    )
    return name


def _kinds(submission: Submission, grade: Grade | None) -> list[str | None]:
    """The auto-grader's kind of each comment; None where it gave none."""
    labels = grade.comments if grade else ()
    return [labels[i].kind if i < len(labels) else None for i in range(len(submission.comments))]


def auto_matches(auto: AutoScore | None) -> list[tuple[str, int]]:
    """The (bug, comment) matches of an auto-score, in the engine's order."""
    if auto is None:
        return []
    return [(m.bug, m.comment) for m in stored_grade(auto).matches]


def auto_flags(auto: AutoScore | None) -> list[tuple[str, int]]:
    """The (kind, comment) red flags of an auto-score, in the engine's order."""
    if auto is None:
        return []
    return [(f.kind, f.comment) for f in stored_grade(auto).red_flags]


def effective_matches(
    auto: AutoScore | None, decision: GradeDecision | None
) -> list[tuple[str, int]]:
    """The matches that count: auto ones not rejected, then the ones graders added."""
    verdicts = {
        (m.bug_key, m.comment_index): m.verdict
        for m in (decision.match_decisions if decision else [])
    }
    kept = [m for m in auto_matches(auto) if verdicts.get(m) is not MatchVerdict.rejected]
    added = sorted(
        key
        for key, verdict in verdicts.items()
        if verdict is MatchVerdict.added and key not in kept
    )
    return kept + added


def recompute(
    submission: Submission, auto: AutoScore | None, decision: GradeDecision | None
) -> Rescore:
    """The grade as it stands with the decisions taken so far."""
    _, answer_key = to_grading(submission.version)
    grade = stored_grade(auto) if auto else None
    comments = to_review(submission).comments
    try:
        return rescore(
            answer_key,
            _rubric(submission.version),
            comments=comments,
            kinds=_kinds(submission, grade),
            auto=auto.dimensions if auto else {},
            auto_total=auto.total if auto else None,
            auto_matches=auto_matches(auto),
            matches=effective_matches(auto, decision),
            overrides={o.dimension: o.value for o in (decision.overrides if decision else [])},
            summary_priority=grade.evidence.summary_priority if grade else (),
        )
    except DecisionError as exc:
        if auto is None:
            raise
        # Decisions are checked when saved, so a match naming a comment the review lacks
        # comes from the stored score: name it, with the way out, rather than answer a 500
        # that says nothing.
        raise UnreadableScore.of(auto, "matches", str(exc)) from exc


def _rubric(version: AssessmentVersion) -> Rubric:
    return Rubric(**(version.rubric or {}))


def decision_state(decision: GradeDecision | None) -> dict[str, Any]:
    """The saved decisions as plain data (API answers, audit events and conflicts)."""
    if decision is None:
        return {
            "version": 0,
            "status": "pending",
            "dimensions": {},
            "total": None,
            "matches": [],
            "flags": [],
            "overrides": {},
        }
    return {
        "version": decision.version,
        "status": decision.status.value,
        "dimensions": dict(decision.dimensions),
        "total": decision.total,
        "matches": sorted(
            (
                {"bug": m.bug_key, "comment": m.comment_index, "verdict": m.verdict.value}
                for m in decision.match_decisions
            ),
            key=lambda m: (m["bug"], m["comment"]),
        ),
        "flags": sorted(
            (
                {"kind": f.kind, "comment": f.comment_index, "verdict": f.verdict.value}
                for f in decision.flag_decisions
            ),
            key=lambda f: (f["kind"], f["comment"]),
        ),
        "overrides": {
            o.dimension: {"value": o.value, "reason": o.reason}
            for o in sorted(decision.overrides, key=lambda o: o.dimension)
        },
    }


def undecided_items(auto: AutoScore | None, decision: GradeDecision | None) -> list[str]:
    """What a grader has not yet confirmed or rejected (finalizing needs none left)."""
    matched = {(m.bug_key, m.comment_index) for m in (decision.match_decisions if decision else [])}
    flagged = {(f.kind, f.comment_index) for f in (decision.flag_decisions if decision else [])}
    left = [
        f"match {bug} ↔ {_where(comment)}"
        for bug, comment in auto_matches(auto)
        if (bug, comment) not in matched
    ]
    left += [
        f"red flag {kind} ({_where(comment, whole='whole review')})"
        for kind, comment in auto_flags(auto)
        if (kind, comment) not in flagged
    ]
    return left


def _where(comment: int, *, whole: str = "summary") -> str:
    return whole if comment == SUMMARY else f"comment {comment + 1}"


def current_state(session: Session, submission_id: int) -> dict[str, Any]:
    """The saved decisions and the grade as it stands, for API answers and conflicts."""
    submission = get_submission(session, submission_id)
    auto = latest_auto_score(session, submission.id)
    decision = get_decision(session, submission.id)
    now = recompute(submission, auto, decision)
    state = decision_state(decision)
    state.update(
        {
            "submission": submission.id,
            "dimensions": now.dimensions,
            "sources": now.sources,
            "total": now.total,
            "auto_total": auto.total if auto else None,
            "undecided": undecided_items(auto, decision),
        }
    )
    return state
