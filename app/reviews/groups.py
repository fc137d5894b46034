"""Answer groups: one seeded bug across every submission, so a grader decides like with like."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.assessments.models import Assessment, AssessmentVersion
from app.reviews.models import DecisionStatus, GradeDecision
from app.reviews.page import match_evidence
from app.reviews.service import SUBMITTED, InvalidDecision
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade
from app.submissions.models import Submission


class GroupNotFound(InvalidDecision, LookupError):
    """No such assessment, or no such seeded bug in it."""


@dataclass(frozen=True)
class GroupAnswer:
    """One submission's comment that the auto-grader tied to the bug, and what was decided."""

    submission_id: int
    version: int  # the submission's decision version, for the optimistic check
    final: bool
    comment: int
    where: str
    text: str
    words: list[str]
    kind: str  # match | near_miss
    confidence: float | None
    verdict: str | None

    @property
    def undecided(self) -> bool:
        """Still waiting for a grader (near misses count only when someone adds them)."""
        return not self.final and self.kind == "match" and self.verdict is None


@dataclass(frozen=True)
class BugGroup:
    """Every answer to one seeded bug of one assessment."""

    slug: str
    assessment_title: str
    bug: str
    title: str
    description: str
    answers: list[GroupAnswer]

    @property
    def undecided(self) -> int:
        """How many matches still need a verdict."""
        return sum(1 for a in self.answers if a.undecided)


def _latest_scores(session: Session, ids: list[int]) -> dict[int, AutoScore]:
    latest: dict[int, AutoScore] = {}
    for score in session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id.in_(ids))
        .order_by(AutoScore.created_at, AutoScore.id)
    ):
        latest[score.submission_id] = score  # the newest wins
    return latest


def _where(comment: int) -> str:
    return "the summary" if comment == -1 else f"comment {comment + 1}"


def _text(submission: Submission, index: int) -> str:
    if index == -1:
        return submission.summary
    return submission.comments[index].body if 0 <= index < len(submission.comments) else ""


def _submissions(session: Session, slug: str | None) -> list[Submission]:
    query = (
        select(Submission)
        .where(Submission.status.in_(SUBMITTED))
        .options(
            selectinload(Submission.comments),
            selectinload(Submission.version).selectinload(AssessmentVersion.bugs),
            selectinload(Submission.version).selectinload(AssessmentVersion.assessment),
        )
        .order_by(Submission.submitted_at, Submission.id)
    )
    if slug is not None:
        query = query.join(AssessmentVersion).join(Assessment).where(Assessment.slug == slug)
    return list(session.scalars(query))


def list_groups(session: Session) -> list[BugGroup]:
    """Every seeded bug that some submission's comment was tied to, per assessment."""
    submissions = _submissions(session, None)
    return _groups(session, submissions, only=None)


def get_group(session: Session, slug: str, bug: str) -> BugGroup:
    """Every submission's answer to one seeded bug of one assessment."""
    assessment = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    if assessment is None:
        raise GroupNotFound(f"there is no assessment {slug!r}")
    groups = _groups(session, _submissions(session, slug), only=bug)
    if groups:
        return groups[0]
    newest = session.scalars(
        select(AssessmentVersion)
        .where(AssessmentVersion.assessment_id == assessment.id)
        .order_by(AssessmentVersion.number.desc())
    ).first()
    seeded = next((b for b in newest.bugs if b.key == bug), None) if newest else None
    if newest is not None and seeded is not None:
        return BugGroup(slug, newest.title, bug, seeded.title, seeded.description, [])
    raise GroupNotFound(f"{bug!r} is not a seeded bug of {slug}")


def _groups(session: Session, submissions: list[Submission], *, only: str | None) -> list[BugGroup]:
    ids = [s.id for s in submissions]
    scores = _latest_scores(session, ids)
    decisions = {
        d.submission_id: d
        for d in session.scalars(
            select(GradeDecision)
            .where(GradeDecision.submission_id.in_(ids))
            .options(selectinload(GradeDecision.match_decisions))
        )
    }
    groups: dict[tuple[str, str], BugGroup] = {}
    for submission in submissions:
        auto = scores.get(submission.id)
        if auto is None:
            continue
        decision = decisions.get(submission.id)
        final = decision is not None and decision.status is DecisionStatus.final
        verdicts = {
            (m.bug_key, m.comment_index): m.verdict.value
            for m in (decision.match_decisions if decision else [])
        }
        version = submission.version
        bugs = {b.key: b for b in version.bugs}
        grade = stored_grade(auto)
        found: list[tuple[str, int, str, float | None]] = [
            (m.bug, m.comment, "match", m.confidence) for m in grade.matches
        ]
        found += [(n.bug, n.comment, "near_miss", None) for n in grade.near_misses]
        for bug_key, comment, kind, confidence in found:
            if (only is not None and bug_key != only) or bug_key not in bugs:
                continue
            group = groups.setdefault(
                (version.assessment.slug, bug_key),
                BugGroup(
                    version.assessment.slug,
                    version.title,
                    bug_key,
                    bugs[bug_key].title,
                    bugs[bug_key].description,
                    [],
                ),
            )
            words, _ = (
                match_evidence(auto, grade, bug_key, comment) if kind == "match" else ([], "")
            )
            group.answers.append(
                GroupAnswer(
                    submission.id,
                    decision.version if decision else 0,
                    final,
                    comment,
                    _where(comment),
                    _text(submission, comment),
                    words,
                    kind,
                    confidence,
                    verdicts.get((bug_key, comment)),
                )
            )
    return sorted(groups.values(), key=lambda g: (g.slug, -g.undecided, g.bug))
