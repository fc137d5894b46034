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


def _decide_item(
    session: Session,
    submission_id: int,
    user: User,
    *,
    version: int,
    verdict: str,
    verdicts: type[MatchVerdict] | type[FlagVerdict],
    field: str,
    name: str,
    comment: int,
    check_request: Callable[[Submission], None],
    check_auto: Callable[[AutoScore | None], None],
    items: Callable[[GradeDecision], list[Any]],
    named: Callable[[Any], str],
    make: Callable[[], MatchDecision | FlagDecision],
    with_scores: bool,
) -> GradeDecision:
    """Record one grader verdict on an item (a match or a red flag) and audit it.

    `check_request` validates the request against the submission before anything is read
    for update, `check_auto` against the newest auto-score; `items` is the decision's list of
    such verdicts, `named` the item one of them is about, and `make` builds a new one. The
    audit event names the item by `field` (`{field: name, "comment": comment}`) and, with
    `with_scores`, the total and dimensions too.
    """
    _claim_write_lock(session, submission_id)
    submission = get_submission(session, submission_id)
    check_request(submission)
    if verdict not in {v.value for v in verdicts} | {"cleared"}:
        allowed = ", ".join(v.value for v in verdicts)
        raise InvalidDecision(f"verdict must be {allowed} or cleared")
    decision = _check_version(session, submission, version)
    auto = latest_auto_score(session, submission.id)
    check_auto(auto)
    before_total = recompute(submission, auto, decision).total if with_scores else None
    decision = _ensure_decision(session, submission, decision, auto, user)
    listed = items(decision)
    existing = next((i for i in listed if (named(i), i.comment_index) == (name, comment)), None)
    before = existing.verdict.value if existing else None
    _set_verdict(listed, existing, verdict, user, make)
    _save(session, submission, decision, auto, user)
    said: dict[str, Any] = {field: name, "comment": comment, "verdict": before}
    now: dict[str, Any] = {
        field: name,
        "comment": comment,
        "verdict": None if verdict == "cleared" else verdict,
    }
    if with_scores:
        said["total"] = before_total
        now.update(total=decision.total, dimensions=decision.dimensions)
    now["version"] = decision.version
    prefix = "match" if verdicts is MatchVerdict else "flag"
    audit.record(
        session, user, "submission", submission.public_id, f"{prefix}.{verdict}", said, now
    )
    return decision


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

    def check_request(submission: Submission) -> None:
        if bug not in {b.key for b in submission.version.bugs}:
            raise InvalidDecision(f"{bug!r} is not a seeded bug of this assessment")
        _check_comment(submission, comment)

    def check_auto(auto: AutoScore | None) -> None:
        is_auto = (bug, comment) in set(auto_matches(auto))
        if verdict == MatchVerdict.added and is_auto:
            raise InvalidDecision("the auto-grader already made that match: confirm it instead")
        if verdict in (MatchVerdict.confirmed, MatchVerdict.rejected) and not is_auto:
            raise InvalidDecision("only the auto-grader's matches can be confirmed or rejected")

    return _decide_item(
        session,
        submission_id,
        user,
        version=version,
        verdict=verdict,
        verdicts=MatchVerdict,
        field="bug",
        name=bug,
        comment=comment,
        check_request=check_request,
        check_auto=check_auto,
        items=lambda decision: decision.match_decisions,
        named=lambda match: match.bug_key,
        make=lambda: MatchDecision(
            bug_key=bug, comment_index=comment, verdict=MatchVerdict(verdict)
        ),
        with_scores=True,
    )


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

    def check_auto(auto: AutoScore | None) -> None:
        if (kind, comment) not in set(auto_flags(auto)):
            raise InvalidDecision("the auto-grader raised no such red flag")

    return _decide_item(
        session,
        submission_id,
        user,
        version=version,
        verdict=verdict,
        verdicts=FlagVerdict,
        field="kind",
        name=kind,
        comment=comment,
        check_request=lambda submission: None,
        check_auto=check_auto,
        items=lambda decision: decision.flag_decisions,
        named=lambda flag: flag.kind,
        make=lambda: FlagDecision(kind=kind, comment_index=comment, verdict=FlagVerdict(verdict)),
        with_scores=False,
    )


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
