"""A grader's decisions: verdicts on matches and flags, overrides, sign-off, reopening."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.db import utcnow
from app.reviews.models import (
    DecisionStatus,
    DimensionOverride,
    FlagDecision,
    FlagVerdict,
    GradeDecision,
    MatchDecision,
    MatchVerdict,
)

# Totals this close to the line are where a human changes outcomes, so they rise in the queue.
from app.reviews.service import (
    DecisionConflict,
    InvalidDecision,
    auto_flags,
    auto_matches,
    decision_state,
    get_decision,
    get_submission,
    latest_auto_score,
    recompute,
    undecided_items,
)
from app.scoring.models import AutoScore
from app.submissions.models import Submission
from app.users.models import User
from grading import DIMENSIONS, SUMMARY

MAX_REASON_CHARS = 2000

# -- decisions ---------------------------------------------------------------------------------


def await_other_writers(session: Session) -> None:
    """After a lost race (and a rollback), wait until the winner's save is visible."""
    # On SQLite a transaction that has read cannot wait for the write lock, so the loser may
    # learn of the race before the winner commits; claiming the lock in a fresh transaction
    # waits for that commit. PostgreSQL only reports the race after the winner committed.
    if session.get_bind().dialect.name == "sqlite":
        table = GradeDecision.__table__
        claim = update(table).where(table.c.id == -1)  # type: ignore[arg-type]
        session.execute(claim.values(version=table.c.version))


def _claim_write_lock(session: Session, submission_id: int) -> None:
    # SQLite has no SELECT ... FOR UPDATE. A write that changes nothing takes the database's
    # write lock before anything is read, so that two saves run one after the other and the
    # second reads the first one's version. It waits for other writers only as the first
    # statement of its transaction: the route ends the sign-in check's read transaction first.
    if session.get_bind().dialect.name != "sqlite":
        return
    table = GradeDecision.__table__
    try:
        session.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.submission_id == submission_id)
            .values(version=table.c.version)
        )
    except OperationalError as exc:
        if not _is_write_race(exc):
            raise
        raise DecisionConflict(
            "Another grader saved this submission at the same moment. Your change was not "
            "saved; review the current state below and apply it again if it still holds.",
            submission_id=submission_id,
            lost_race=True,
        ) from exc


def _check_version(
    session: Session, submission: Submission, expected_version: int
) -> GradeDecision | None:
    decision = get_decision(session, submission.id, for_update=True)
    current = decision.version if decision else 0
    if current != expected_version:
        raise DecisionConflict(
            f"Another grader saved this submission since you loaded it (you started from "
            f"version {expected_version}, it is now at version {current}). Your change was "
            f"not saved; review the current state below and apply it again if it still holds.",
            submission_id=submission.id,
        )
    if decision is not None and decision.status is DecisionStatus.final:
        raise DecisionConflict(
            "This grade is final and can no longer be changed.", submission_id=submission.id
        )
    return decision


def _ensure_decision(
    session: Session,
    submission: Submission,
    decision: GradeDecision | None,
    auto: AutoScore | None,
    user: User,
) -> GradeDecision:
    # Created only once the request is known to be valid, so a refused request writes nothing.
    if decision is None:
        decision = GradeDecision(
            submission_id=submission.id,
            auto_score_id=auto.id if auto else None,
            dimensions=dict(auto.dimensions) if auto else {},
            total=auto.total if auto else None,
            updated_by_id=user.id,
        )
        session.add(decision)
    return decision


def _save(
    session: Session,
    submission: Submission,
    decision: GradeDecision,
    auto: AutoScore | None,
    user: User,
) -> None:
    submission_id = submission.id  # a failed flush expires every loaded object
    try:
        # One flush only: each flush of a changed decision bumps its version.
        with session.no_autoflush:
            now = recompute(submission, auto, decision)
        decision.dimensions = now.dimensions
        decision.total = now.total
        decision.updated_at = utcnow()
        decision.updated_by_id = user.id
        session.flush()
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        # Each means another grader's save landed between our read and our write: a stale
        # version, a duplicate first decision, or (SQLite) a write on an outdated snapshot.
        if isinstance(exc, OperationalError) and not _is_write_race(exc):
            raise
        raise DecisionConflict(
            "Another grader saved this submission at the same moment. Your change was not "
            "saved; review the current state below and apply it again if it still holds.",
            submission_id=submission_id,
            lost_race=True,
        ) from exc


def _is_write_race(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(sign in message for sign in ("locked", "deadlock", "could not serialize"))


def _check_comment(submission: Submission, comment: int) -> None:
    if comment != SUMMARY and not 0 <= comment < len(submission.comments):
        raise InvalidDecision(f"there is no comment {comment + 1}")


def decide_match(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    bug: str,
    comment: int,
    verdict: str,
) -> GradeDecision:
    """Confirm or reject an auto match, add a match, or clear an earlier decision."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if bug not in {b.key for b in submission.version.bugs}:
        raise InvalidDecision(f"{bug!r} is not a seeded bug of this assessment")
    _check_comment(submission, comment)
    if verdict not in {v.value for v in MatchVerdict} | {"cleared"}:
        raise InvalidDecision("verdict must be confirmed, rejected, added or cleared")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    key = (bug, comment)
    is_auto = key in set(auto_matches(auto))
    if verdict == MatchVerdict.added and is_auto:
        raise InvalidDecision("the auto-grader already made that match: confirm it instead")
    if verdict in (MatchVerdict.confirmed, MatchVerdict.rejected) and not is_auto:
        raise InvalidDecision("only the auto-grader's matches can be confirmed or rejected")
    before_total = recompute(submission, auto, decision).total
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next(
        (m for m in decision.match_decisions if (m.bug_key, m.comment_index) == key), None
    )
    before = existing.verdict.value if existing else None
    _set_verdict(
        decision.match_decisions,
        existing,
        verdict,
        user,
        lambda: MatchDecision(bug_key=bug, comment_index=comment, verdict=MatchVerdict(verdict)),
    )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        f"match.{verdict}",
        {"bug": bug, "comment": comment, "verdict": before, "total": before_total},
        {
            "bug": bug,
            "comment": comment,
            "verdict": None if verdict == "cleared" else verdict,
            "total": decision.total,
            "dimensions": decision.dimensions,
            "version": decision.version,
        },
    )
    return decision


def _set_verdict(
    items: list[Any], existing: Any | None, verdict: str, user: User, make: Callable[[], Any]
) -> None:
    """Clear, change or add one grader verdict (a match or flag decision) in a decision's list."""
    if verdict == "cleared":
        if existing is not None:
            items.remove(existing)
        return
    if existing is None:
        existing = make()
        items.append(existing)
    else:
        existing.verdict = type(existing.verdict)(verdict)
    existing.decided_by_id, existing.decided_at = user.id, utcnow()


def decide_flag(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    kind: str,
    comment: int,
    verdict: str,
) -> GradeDecision:
    """Confirm or dismiss a red flag (or clear the decision)."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if verdict not in {v.value for v in FlagVerdict} | {"cleared"}:
        raise InvalidDecision("verdict must be confirmed, dismissed or cleared")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    key = (kind, comment)
    if key not in set(auto_flags(auto)):
        raise InvalidDecision("the auto-grader raised no such red flag")
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next((f for f in decision.flag_decisions if (f.kind, f.comment_index) == key), None)
    before = existing.verdict.value if existing else None
    _set_verdict(
        decision.flag_decisions,
        existing,
        verdict,
        user,
        lambda: FlagDecision(kind=kind, comment_index=comment, verdict=FlagVerdict(verdict)),
    )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        f"flag.{verdict}",
        {"kind": kind, "comment": comment, "verdict": before},
        {
            "kind": kind,
            "comment": comment,
            "verdict": None if verdict == "cleared" else verdict,
            "version": decision.version,
        },
    )
    return decision


def override_dimension(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    dimension: str,
    value: float | None,
    reason: str,
) -> GradeDecision:
    """Set a dimension by hand with a written reason (or, with no value, remove the override)."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    if dimension not in DIMENSIONS:
        raise InvalidDecision(f"dimension must be one of {', '.join(DIMENSIONS)}")
    reason = reason.strip()
    if value is not None:
        if not 0.0 <= value <= 100.0:
            raise InvalidDecision("a dimension's score is between 0 and 100")
        if len(reason) < 3:
            raise InvalidDecision("write the reason for the override")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidDecision(f"the reason is longer than {MAX_REASON_CHARS} characters")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    before_now = recompute(submission, auto, decision)
    decision = _ensure_decision(session, submission, decision, auto, user)
    existing = next((o for o in decision.overrides if o.dimension == dimension), None)
    before = {
        "dimension": dimension,
        "value": before_now.dimensions[dimension],
        "override": existing.value if existing else None,
        "reason": existing.reason if existing else None,
        "total": before_now.total,
    }
    if value is None:
        if existing is not None:
            decision.overrides.remove(existing)
    elif existing is not None:
        existing.value, existing.reason = round(float(value), 1), reason
        existing.decided_by_id, existing.decided_at = user.id, utcnow()
    else:
        decision.overrides.append(
            DimensionOverride(
                dimension=dimension,
                value=round(float(value), 1),
                reason=reason,
                decided_by_id=user.id,
                decided_at=utcnow(),
            )
        )
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "dimension.overridden" if value is not None else "dimension.override_cleared",
        before,
        {
            "dimension": dimension,
            "value": decision.dimensions[dimension],
            "override": round(value, 1) if value is not None else None,
            "reason": reason or None,
            "total": decision.total,
            "version": decision.version,
        },
    )
    return decision


def finalize(session: Session, submission_id: int, user: User, *, version: int) -> GradeDecision:
    """Sign the grade: every auto match and red flag must have been decided."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    left = undecided_items(auto, decision)
    if left:
        raise InvalidDecision("decide every match and red flag first: " + "; ".join(left))
    overridden = {o.dimension for o in (decision.overrides if decision else [])}
    if auto is None and not overridden >= set(DIMENSIONS):
        raise InvalidDecision("there is no auto-score: set every dimension by hand first")
    before = decision_state(decision)
    decision = _ensure_decision(session, submission, decision, auto, user)
    decision.status = DecisionStatus.final
    decision.finalized_at = utcnow()
    decision.finalized_by_id = user.id
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "grade.finalized",
        {"status": before["status"], "total": before["total"]},
        {
            "status": "final",
            "total": decision.total,
            "dimensions": decision.dimensions,
            "version": decision.version,
        },
    )
    return decision


def reopen(
    session: Session, submission_id: int, user: User, *, version: int, reason: str
) -> GradeDecision:
    """Take back a signature (admins): the grade is open again, with the reason on record."""
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidDecision("write why the grade is reopened")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidDecision(f"the reason is longer than {MAX_REASON_CHARS} characters")
    decision = get_decision(session, submission.id, for_update=True)
    if decision is None or decision.status is not DecisionStatus.final:
        raise InvalidDecision("only a final grade can be reopened")
    if decision.version != version:
        raise DecisionConflict(
            f"The grade changed since you loaded it (version {version}, now {decision.version}); "
            "nothing was reopened.",
            submission_id=submission.id,
        )
    before = {
        "status": "final",
        "total": decision.total,
        "version": decision.version,
        "finalized_by_id": decision.finalized_by_id,
        "finalized_at": decision.finalized_at,
    }
    auto = latest_auto_score(session, submission.id)  # before any change: a query autoflushes
    decision.status = DecisionStatus.open
    decision.finalized_at = None
    decision.finalized_by_id = None
    _save(session, submission, decision, auto, user)
    audit.record(
        session,
        user,
        "submission",
        submission.public_id,
        "grade.reopened",
        before,
        {"status": "open", "reason": reason, "version": decision.version},
    )
    return decision
