"""What graders' decisions teach: labelled reviews in the shape the corpora give.

- A human-finalized grade is a complete label, like a corpus review: the matches that count
  (confirmed and added), the final dimensions and total, the confirmed red flags. Its
  rejected matches are taught as misses of that comment.
- A grade still open teaches only what a grader decided: each confirmed or added match is a
  find, each rejected one a miss, each dimension set by hand the gold level of that dimension.
  Nothing else about it is assumed, and it is not graded in the held-out comparison.
- A comment a grader credited with a seeded bug is labelled a defect report for the comment
  classifier; a confirmed `rewrite` or `framework` flag labels its comment's red flag.

Each stored assessment version is its own entry (`<slug>@v<number>`), since a version's lines
may differ from the files the corpora label; the comparison holds every version of an
assessment out together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.assessments.models import AssessmentVersion
from app.assessments.service import to_grading
from app.reviews.models import DecisionStatus, FlagVerdict, GradeDecision, MatchVerdict
from app.reviews.service import SUBMITTED, effective_matches, latest_auto_score
from app.scoring.models import AutoScore
from app.scoring.service import stored_grade, to_review
from app.submissions.models import Submission
from grading import SUMMARY, CatalogEntry, Decided, Gold, LabelledReview

LEARNED_FLAGS = ("rewrite", "framework")


def entry_key(version: AssessmentVersion) -> str:
    """The corpus key of a stored assessment version."""
    return f"{version.assessment.slug}@v{version.number}"


def _first_per_bug(matches: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Gold names the first comment that finds each bug; the summary counts as last."""
    first: dict[str, int] = {}
    for bug, comment in matches:
        if bug not in first or (comment == SUMMARY, comment) < (
            first[bug] == SUMMARY,
            first[bug],
        ):
            first[bug] = comment
    return tuple(sorted(first.items()))


def _gold(submission: Submission, decision: GradeDecision, auto: AutoScore | None) -> Gold:
    final = decision.status is DecisionStatus.final
    verdicts = tuple(
        sorted(
            (m.bug_key, m.comment_index, m.verdict is not MatchVerdict.rejected)
            for m in decision.match_decisions
        )
    )
    credited = {c for _, c, found in verdicts if found}
    kinds = tuple(
        ("defect", None) if i in credited else ("", None) for i in range(len(submission.comments))
    )
    flags = tuple(
        sorted(
            (f.kind, f.comment_index)
            for f in decision.flag_decisions
            if f.verdict is FlagVerdict.confirmed and f.kind in LEARNED_FLAGS
        )
    )
    if final:
        return Gold(
            matches=_first_per_bug(effective_matches(auto, decision)),
            summary_priority=stored_grade(auto).evidence.summary_priority if auto else (),
            dimensions={k: float(v) for k, v in (decision.dimensions or {}).items()},
            total=float(decision.total or 0.0),
            red_flags=flags,
            comments=kinds,
            verdicts=verdicts,
        )
    return Gold(
        matches=(),
        summary_priority=(),
        dimensions={o.dimension: float(o.value) for o in decision.overrides},
        total=0.0,
        red_flags=flags,
        comments=kinds,
        verdicts=verdicts,
        complete=False,
    )


def decided_reviews(session: Session) -> list[Decided]:
    """Every submission with a finalized grade or at least one decision that teaches (a
    match verdict or a dimension set by hand), oldest first."""
    decisions = session.scalars(
        select(GradeDecision)
        .join(Submission, Submission.id == GradeDecision.submission_id)
        .where(Submission.status.in_(SUBMITTED))
        .options(
            selectinload(GradeDecision.match_decisions),
            selectinload(GradeDecision.flag_decisions),
            selectinload(GradeDecision.overrides),
            selectinload(GradeDecision.submission),
        )
        .order_by(GradeDecision.submission_id)
    ).all()
    out = []
    entries: dict[int, tuple[str, CatalogEntry]] = {}
    for decision in decisions:
        final = decision.status is DecisionStatus.final
        if not (final or decision.match_decisions or decision.overrides):
            continue
        submission = decision.submission
        # The score the grader decided on; the newest one if it was never recorded.
        auto = decision.auto_score or latest_auto_score(session, submission.id)
        version = submission.version
        if version.id not in entries:
            assessment, answer_key = to_grading(version)
            entries[version.id] = (entry_key(version), CatalogEntry(assessment, answer_key))
        key, entry = entries[version.id]
        review = dataclasses.replace(to_review(submission), assessment=key)
        item = LabelledReview(
            review, _gold(submission, decision, auto), f"submission {submission.id}", 0, "decisions"
        )
        out.append(Decided(submission.id, key, entry, item))
    return out
