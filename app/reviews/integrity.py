"""Integrity checks: reviews of one assessment that read nearly the same."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.assessments.models import AssessmentVersion

# Totals this close to the line are where a human changes outcomes, so they rise in the queue.
from app.reviews.service import (
    SUBMITTED,
)
from app.submissions.models import ReviewComment, Submission

DUPLICATE_THRESHOLD = 90.0
DUPLICATE_MIN_CHARS = 80
DUPLICATE_MAX_CHARS = 4_000
DUPLICATE_MAX_COMMENTS = 50

# -- integrity ---------------------------------------------------------------------------------


def _normalized(bodies: Sequence[str]) -> str:
    text = " ".join(" ".join(body.lower().split()) for body in bodies)
    return text[:DUPLICATE_MAX_CHARS]


def review_text(submission: Submission) -> str:
    """The start of a review's comment texts, normalized for comparison (bounded in size)."""
    return _normalized(
        [c.body[:DUPLICATE_MAX_CHARS] for c in submission.comments[:DUPLICATE_MAX_COMMENTS]]
    )


def find_near_duplicates(
    session: Session, submission: Submission, *, threshold: float = DUPLICATE_THRESHOLD
) -> list[tuple[int, float]]:
    """Other submissions of the same assessment whose comments read nearly the same.

    Only the start of each review is compared (DUPLICATE_MAX_CHARS), read from the database
    as such: the comparison is quadratic in the text's length, and a candidate must not be
    able to make a grader's page slow by writing drafts at the size limits.
    """
    text = review_text(submission)
    if len(text) < DUPLICATE_MIN_CHARS:
        return []
    rows = session.execute(
        select(
            ReviewComment.submission_id,
            func.substr(ReviewComment.body, 1, DUPLICATE_MAX_CHARS),
        )
        .join(Submission, Submission.id == ReviewComment.submission_id)
        .join(AssessmentVersion, AssessmentVersion.id == Submission.version_id)
        .where(
            AssessmentVersion.assessment_id == submission.version.assessment_id,
            Submission.id != submission.id,
            Submission.status.in_(SUBMITTED),
            ReviewComment.position < DUPLICATE_MAX_COMMENTS,
        )
        .order_by(ReviewComment.submission_id, ReviewComment.position)
    ).all()
    bodies: dict[int, list[str]] = {}
    for submission_id, body in rows:
        bodies.setdefault(submission_id, []).append(body)
    choices = {key: _normalized(parts) for key, parts in bodies.items()}
    hits = process.extract(
        text, choices, scorer=fuzz.token_sort_ratio, score_cutoff=threshold, limit=10
    )
    return sorted(
        ((int(key), round(float(score), 1)) for _, score, key in hits),
        key=lambda hit: (-hit[1], hit[0]),
    )
