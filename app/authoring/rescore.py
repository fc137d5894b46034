"""Re-scoring past submissions when an answer key changes.

A newer version whose candidate material (title, language, time limit, brief and files) is the
same as an older one differs only in its answer key, so reviews written on the older version
can be graded against the newer key. The preview grades them and lists what would change;
applying moves each changed submission that no grader has finalized to the newer version and
stores its new auto-score, with an audit event. Finalized grades are never changed: they are
listed as "would differ" for a grader to reopen if they choose.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.models import AssessmentVersion
from app.audit import service as audit_service
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring import service as scoring_service
from app.scoring.models import AutoScore
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import User

DIMENSIONS = ("detection", "severity", "tradeoffs", "tool_taste")
SORTS = ("change", "submission", "total")


@dataclass(frozen=True)
class RescoreRow:
    """One past submission: its current auto-score and what the newer key would give."""

    submission_id: int
    from_version: int
    old_total: float
    new_total: float
    old_dimensions: dict[str, float]
    new_dimensions: dict[str, float]
    final: bool

    @property
    def change(self) -> float:
        """New total minus old total."""
        return round(self.new_total - self.old_total, 1)


@dataclass(frozen=True)
class RescorePreview:
    """Every past submission whose auto-score the newer key would change."""

    version: AssessmentVersion
    applicable: bool
    reason: str
    checked: int
    rows: list[RescoreRow]

    @property
    def to_apply(self) -> list[RescoreRow]:
        """Changed submissions without a finalized grade."""
        return [r for r in self.rows if not r.final]

    @property
    def would_differ(self) -> list[RescoreRow]:
        """Changed submissions whose grade is final: left as they are."""
        return [r for r in self.rows if r.final]


def _material(version: AssessmentVersion) -> tuple[object, ...]:
    return (
        version.title,
        version.language,
        version.time_limit_minutes,
        version.brief,
        [(f["name"], f["text"]) for f in version.files],
    )


def _past(session: Session, version: AssessmentVersion) -> tuple[list[Submission], str, bool]:
    older = [v for v in version.assessment.versions if v.number < version.number]
    same = [v for v in older if _material(v) == _material(version)]
    different = sorted(v.number for v in older if v not in same)
    note = (
        f"Versions {', '.join(map(str, different))} showed candidates other code or brief, so "
        "their reviews cannot be graded against this key and are left out."
        if different
        else ""
    )
    if not same:
        return [], note, False
    submissions = list(
        session.scalars(
            select(Submission)
            .where(
                Submission.version_id.in_([v.id for v in same]),
                Submission.status != SubmissionStatus.in_progress,
            )
            .order_by(Submission.id)
        )
    )
    return submissions, note, True


def preview(
    session: Session, version: AssessmentVersion, *, sort: str = "change"
) -> RescorePreview:
    """Grade past reviews against `version`'s key and list those whose auto-score changes."""
    if not any(v.number < version.number for v in version.assessment.versions):
        first = "This is the first version: no review was written before it."
        return RescorePreview(version, False, first, 0, [])
    submissions, note, comparable = _past(session, version)
    if not comparable:
        return RescorePreview(version, False, note, 0, [])
    latest = [(s, scoring_service.latest_score(session, s)) for s in submissions]
    scored = [(s, a) for s, a in latest if a is not None]
    if not scored:
        return RescorePreview(version, True, note, 0, [])
    assessment, key = assessment_service.to_grading(version)
    grades = scoring_service.default_grader().grade_many(
        [scoring_service.to_review(s) for s, _ in scored], assessment, key
    )
    finals = set(
        session.scalars(
            select(GradeDecision.submission_id).where(
                GradeDecision.submission_id.in_([s.id for s, _ in scored]),
                GradeDecision.status == DecisionStatus.final,
            )
        )
    )
    rows = []
    for (submission, auto), grade in zip(scored, grades, strict=True):
        new_dimensions = {d: float(grade.dimension(d)) for d in DIMENSIONS}
        old_dimensions = {d: float(auto.dimensions.get(d, 0.0)) for d in DIMENSIONS}
        if round(grade.total, 1) == round(auto.total, 1) and new_dimensions == old_dimensions:
            continue
        rows.append(
            RescoreRow(
                submission_id=submission.id,
                from_version=submission.version.number,
                old_total=float(auto.total),
                new_total=float(grade.total),
                old_dimensions=old_dimensions,
                new_dimensions=new_dimensions,
                final=submission.id in finals,
            )
        )
    keys = {
        "change": lambda r: (-abs(r.change), r.submission_id),
        "submission": lambda r: (r.submission_id,),
        "total": lambda r: (-r.new_total, r.submission_id),
    }
    rows.sort(key=keys.get(sort, keys["change"]))
    return RescorePreview(version, True, note, len(scored), rows)


def apply(session: Session, version: AssessmentVersion, user: User) -> list[AutoScore]:
    """Re-score every changed submission that is not final; returns the new auto-scores."""
    result = preview(session, version)
    applied = []
    for row in result.to_apply:
        submission = session.get(Submission, row.submission_id)
        if submission is None:
            continue
        before = {"version": submission.version.number, "total": row.old_total}
        submission.version = version
        session.flush()
        score = scoring_service.score_submission(session, submission)
        audit_service.record(
            session,
            user,
            "submission",
            submission.public_id,
            "auto_score.rescored",
            before,
            {"version": version.number, "total": score.total},
        )
        applied.append(score)
    audit_service.record(
        session,
        user,
        "assessment",
        version.assessment.slug,
        "assessment.rescored",
        None,
        {
            "version": version.number,
            "rescored": [r.submission_id for r in result.to_apply],
            "would_differ": [r.submission_id for r in result.would_differ],
        },
    )
    return applied
