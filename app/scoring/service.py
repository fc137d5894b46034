"""Run the grading engine over a stored submission and keep its result.

Grading must never cost a candidate their submission: `score_submission_safely` runs the
grader in a savepoint, and when it fails the submission stays submitted, the failure is
logged and written to the audit trail, and graders can run it again.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import guard
from app.assessments import service as assessment_service
from app.audit import service as audit_service
from app.scoring import active
from app.scoring.models import AutoScore, ScoreFlag, ScoreMatch
from grading import GradeFormatError

if TYPE_CHECKING:
    from app.submissions.models import Submission
    from grading import Grade, Grader

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:auto-grader"

# Training the default grader takes from seconds to minutes on a cold process; starting it
# when a candidate starts means it is ready by the time they submit. Tests switch it off.
WARM_UP_ENABLED = True
_warm_up_started = threading.Event()

# Submissions closed by web requests are graded one at a time by a thread of the worker that
# closed them; one killed before grading leaves them unscored, and
# `redline submissions grade --unscored` grades them.
BACKGROUND_GRADING = True
_grading_queue: queue.SimpleQueue[int] = queue.SimpleQueue()
_grading_lock = threading.Lock()
_grading_started = threading.Event()


def to_review(submission: Submission) -> Any:
    """The grading engine's `Review` of a stored submission (comments in the candidate's order)."""
    from grading import Comment, Review

    return Review(
        id=submission.public_id,
        assessment=submission.version.assessment.slug,
        comments=tuple(
            Comment(body=c.body, file=c.file, line=c.line, end_line=c.end_line, severity=c.severity)  # type: ignore[arg-type]
            for c in submission.comments
        ),
        summary=submission.summary,
    )


@lru_cache(maxsize=1)
def _grading_source_digest() -> str:
    import grading

    root = Path(grading.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _grader_version(grader: Any) -> str:
    # The engine has no version number; the digest of its source identifies the code that
    # produced a score, so a changed grader is visible next to old scores.
    for name in ("version", "__version__"):
        value = getattr(grader, name, None)
        if isinstance(value, str) and value:
            return value[:50]
    return f"src-{_grading_source_digest()}"


def default_grader() -> Grader:
    """The grader of the active models: the ones `redline retrain` switched to, else the ones
    trained on the configured corpora (kept in the data directory between starts)."""
    return active.current().grader


def _warm_up() -> None:
    try:
        default_grader()
    except Exception:
        logger.exception("warming up the grader failed; submissions will retry on submit")


def warm_up() -> None:
    """Train the default grader in the background, once per process, if not done yet."""
    if not WARM_UP_ENABLED or _warm_up_started.is_set():
        return
    _warm_up_started.set()
    threading.Thread(target=_warm_up, name="grader-warm-up", daemon=True).start()


def score_submission(session: Session, submission: Submission) -> AutoScore:
    """Grade a submission with the default grader and store the score, matches and flags."""
    return store_grade(session, submission, *grade_submission(submission))


def grade_submission(submission: Submission) -> tuple[Grade, Grader]:
    """The engine's grade of a loaded submission and the grader that gave it; no database."""
    assessment, answer_key = assessment_service.to_grading(submission.version)
    grader = default_grader()
    return grader.grade(to_review(submission), assessment, answer_key), grader


def store_grade(
    session: Session, submission: Submission, grade: Grade, grader: Grader
) -> AutoScore:
    """Keep a grade as the submission's auto-score, with its matches and flags."""
    explained = {(m.bug, m.comment): m.explanation for m in grade.evidence.matches}
    score = AutoScore(
        submission_id=submission.id,
        grader_version=_grader_version(grader),
        model_version=active.version_of(grader),
        total=round(grade.total, 2),
        dimensions=grade.to_dict()["dimensions"],
        needs_review=grade.needs_review,
        result=grade.to_dict(),
        evidence=grade.evidence.to_dict(),
        matches=[
            ScoreMatch(
                bug_key=m.bug,
                comment_index=m.comment,
                confidence=round(m.confidence, 3),
                evidence=explained.get((m.bug, m.comment), ""),
            )
            for m in grade.matches
        ],
        flags=[
            ScoreFlag(kind=f.kind, comment_index=f.comment, evidence=f.evidence, confidence=None)
            for f in grade.red_flags
        ],
    )
    session.add(score)
    session.flush()
    return score


class UnreadableScore(GradeFormatError):
    """A stored auto-score does not read back as a grade; `submission_id` and `public_id`
    (what `redline submissions grade` takes) say whose it is."""

    def __init__(self, field: str, message: str, submission_id: int, public_id: str) -> None:
        self.submission_id = submission_id
        self.public_id = public_id
        super().__init__(field, message)

    @classmethod
    def of(cls, auto: AutoScore, field: str, message: str) -> UnreadableScore:
        """The error for `field` of the stored score `auto`, named by its row."""
        submission = auto.submission
        return cls(f"auto_score {auto.id}: {field}", message, submission.id, submission.public_id)


def stored_grade(auto: AutoScore) -> Grade:
    """The grade an auto-score keeps, read back typed, with its evidence.

    A stored score that does not read back is a corrupt row: the error names the row and the
    field, rather than a page failing later on a missing key.
    """
    from grading import Grade

    try:
        return Grade.from_dict({**auto.result, "evidence": auto.evidence or {}})
    except GradeFormatError as exc:
        raise UnreadableScore.of(auto, exc.field, exc.message) from exc


def score_submission_safely(session: Session, submission: Submission) -> AutoScore | None:
    """`score_submission`, except that a failure is recorded instead of raised.

    The grade is computed outside any transaction (the caller committed), so grading, which
    can take seconds on a cold worker, holds neither a pooled connection nor SQLite's lock.
    """
    try:
        _load_for_grading(submission)
        session.commit()
        grade, grader = grade_submission(submission)
        with session.begin_nested():
            return store_grade(session, submission, grade, grader)
    except Exception as exc:
        logger.exception("auto-grading failed for submission %s", submission.public_id)
        audit_service.record(
            session,
            SYSTEM_ACTOR,
            "submission",
            submission.public_id,
            "auto_score.failed",
            None,
            {"error": f"{type(exc).__name__}: {exc}"[:2000]},
        )
        return None


def _load_for_grading(submission: Submission) -> None:
    # Everything grading reads, loaded now, so it needs no connection later.
    _ = submission.version.assessment.slug, submission.version.files
    _ = [(c.body, c.file) for c in submission.comments]
    assessment_service.to_grading(submission.version)


def commit_and_score(session: Session, *, later: bool = False) -> int:
    """Commit, then grade every submission the session closed, committing each score.

    The submission is made durable first, so a grader crash or failure can never undo it.
    With `later` (web requests), grading is handed to this process's grading thread and the
    request returns at once: a cold grader can take minutes to train, and a deadline rush of
    submits waiting for it would hold every admitted request. Returns how many were graded
    here and now.
    """
    from app.submissions.service import closed_since_commit

    session.commit()
    closed = closed_since_commit(session)
    if later and BACKGROUND_GRADING:
        for submission in closed:
            _grading_queue.put(submission.id)
        if closed:
            _start_grading_thread()
        return 0
    graded = 0
    for submission in closed:
        if score_submission_safely(session, submission) is not None:
            graded += 1
        session.commit()
    return graded


def close_overdue_and_score(session: Session, *, later: bool = False) -> None:
    """Submit every draft whose time ran out, commit, and grade them (`app.sweep` runs it)."""
    from app.submissions.service import close_overdue

    close_overdue(session)
    commit_and_score(session, later=later)


def _grade_queued() -> None:
    from app.db import get_sessionmaker
    from app.submissions.models import Submission

    while True:
        submission_id = _grading_queue.get()
        guard.wait_for_a_lull()
        try:
            with get_sessionmaker()() as session:
                submission = session.get(Submission, submission_id)
                if submission is not None and latest_score(session, submission) is None:
                    score_submission_safely(session, submission)
                    session.commit()
        except Exception:
            # The submission is stored; `redline submissions grade --unscored` grades it later.
            logger.exception("grading submission %s in the background failed", submission_id)


def _start_grading_thread() -> None:
    with _grading_lock:
        if not _grading_started.is_set():
            _grading_started.set()
            threading.Thread(target=_grade_queued, name="grader", daemon=True).start()


def unscored_submissions(session: Session) -> list[Submission]:
    """Submitted reviews that have no auto-score (grading failed, or never ran)."""
    from app.submissions.models import Submission, SubmissionStatus

    scored = select(AutoScore.submission_id)
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.status != SubmissionStatus.in_progress, Submission.id.not_in(scored))
            .order_by(Submission.submitted_at, Submission.id)
        )
    )


def latest_score(session: Session, submission: Submission) -> AutoScore | None:
    """The newest auto-score of a submission, if grading ever succeeded."""
    return session.scalars(
        select(AutoScore)
        .where(AutoScore.submission_id == submission.id)
        .order_by(AutoScore.created_at.desc(), AutoScore.id.desc())
        .limit(1)
    ).first()
