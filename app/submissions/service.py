"""A candidate's review: start the clock, save drafts, submit, and close overdue drafts.

The deadline is enforced here, on the server: edits are accepted until `deadline_at` plus the
grace period, and a draft still open after that is submitted as it was last saved, whenever a
request (or the `close-overdue` command) first touches it. No background thread is needed, so
any number of worker processes can serve candidates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.assessments import service as assessment_service
from app.assessments.models import AssessmentVersion
from app.audit import service as audit_service
from app.db import utcnow
from app.invites.models import Invite
from app.settings import Settings, get_settings
from app.submissions import composition
from app.submissions.models import ReviewComment, Submission, SubmissionStatus

logger = logging.getLogger(__name__)

SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "nit")
CLIENT_ID_MAX = 64
FILE_NAME_MAX = 300
TO_SCORE = "redline.submissions_to_score"
CANDIDATE_ACTOR = "candidate"


class SubmissionError(Exception):
    """Base of the errors a candidate can cause; the message is written for them."""

    code = "submission_error"


class NotStarted(SubmissionError):
    """The candidate has not pressed Start yet."""

    code = "not_started"

    def __init__(self) -> None:
        super().__init__("The assessment has not been started yet.")


class DeadlinePassed(SubmissionError):
    """The time is up: the draft was (or is now) submitted and can no longer change."""

    code = "deadline_passed"

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        super().__init__(
            f"The time ran out at {submission.deadline_at:%H:%M:%S} UTC, so this change was not "
            "saved. Your review as last saved was submitted automatically."
        )


class AlreadySubmitted(SubmissionError):
    """The review was submitted; it is frozen."""

    code = "already_submitted"

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        when = submission.submitted_at or utcnow()
        if submission.status == SubmissionStatus.auto_submitted:
            message = (
                f"The time ran out at {submission.deadline_at:%H:%M:%S} UTC, so this change was "
                "not saved. Your review as last saved was submitted automatically and is "
                "already submitted."
            )
        else:
            message = (
                f"This review was already submitted at {when:%H:%M:%S} UTC and can no longer "
                "be changed."
            )
        super().__init__(message)


class DraftConflict(SubmissionError):
    """A save was based on an older revision than the one stored (another tab saved since)."""

    code = "draft_conflict"

    def __init__(self, submission: Submission, base_revision: int) -> None:
        self.submission = submission
        self.base_revision = base_revision
        super().__init__(
            f"This review was changed in another tab or window since this page loaded "
            f"(revision {base_revision}, now {submission.draft_revision}). Reload the page to "
            "continue from the newest copy; nothing was overwritten."
        )


class InviteClosed(SubmissionError):
    """The invite expired or was revoked before the assessment was started."""

    code = "invite_closed"

    def __init__(self) -> None:
        super().__init__(
            "This invite has expired or was withdrawn, so the assessment can no "
            "longer be started. Ask the person who invited you for a new link."
        )


class AssessmentWithdrawn(SubmissionError):
    """The assessment has no published version, so it cannot be started."""

    code = "assessment_withdrawn"

    def __init__(self) -> None:
        super().__init__(
            "This assessment has been withdrawn, so it can no longer be started. Ask the "
            "person who invited you for a new link."
        )


class CommentNotFound(SubmissionError):
    """A change names a comment the draft does not have (deleted in another tab)."""

    code = "comment_not_found"

    def __init__(self, client_id: str) -> None:
        super().__init__(
            f"Comment '{client_id[:CLIENT_ID_MAX]}' is not in your review any "
            "more; it may have been deleted in another tab."
        )


class DraftInvalid(SubmissionError):
    """A draft breaks a rule; `problems` names each, with where it is."""

    code = "invalid_draft"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class DraftComment:
    """One comment as the candidate wrote it (FORMATS.md section 3 plus a stable client id)."""

    body: str
    client_id: str = ""
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    severity: str | None = None


@dataclass
class Draft:
    """The whole editable state of a review: comments in order of urgency, and a summary."""

    comments: list[DraftComment] = field(default_factory=list)
    summary: str = ""


@dataclass(frozen=True)
class Receipt:
    """What the candidate keeps as proof of what was submitted."""

    public_id: str
    status: SubmissionStatus
    submitted_at: datetime
    content_digest: str
    comment_count: int
    automatic: bool


# -- time ------------------------------------------------------------------------------------


def grace(settings: Settings | None = None) -> timedelta:
    """How long after the deadline a late save is still accepted (network latency)."""
    return timedelta(seconds=(settings or get_settings()).deadline_grace_seconds)


def closes_at(submission: Submission, settings: Settings | None = None) -> datetime:
    """The moment after which nothing more is accepted."""
    return submission.deadline_at + grace(settings)


def seconds_left(submission: Submission, now: datetime | None = None) -> int:
    """Whole seconds until the deadline, rounded up (never negative).

    Rounded up so that a page counting down reaches zero no earlier than the server's deadline.
    """
    remaining = (submission.deadline_at - (now or utcnow())).total_seconds()
    return max(0, math.ceil(remaining))


def is_overdue(submission: Submission, now: datetime | None = None) -> bool:
    """Whether an open draft is past its deadline and grace period."""
    return submission.status == SubmissionStatus.in_progress and (now or utcnow()) > closes_at(
        submission
    )


# -- reading ---------------------------------------------------------------------------------


def submission_for_invite(session: Session, invite: Invite) -> Submission | None:
    """The submission taken through an invite, if it was started."""
    return session.scalars(select(Submission).where(Submission.invite_id == invite.id)).first()


def draft_of(submission: Submission) -> Draft:
    """The stored draft of a submission."""
    return Draft(
        comments=[
            DraftComment(
                body=c.body,
                client_id=c.client_id,
                file=c.file,
                line=c.line,
                end_line=c.end_line,
                severity=c.severity,
            )
            for c in submission.comments
        ],
        summary=submission.summary,
    )


def review_payload(submission: Submission) -> dict[str, Any]:
    """The review as FORMATS.md section 3 (without grading data), for digests and exports."""
    comments = []
    for c in submission.comments:
        item: dict[str, Any] = {}
        for key in ("file", "line", "end_line", "severity"):
            value = getattr(c, key)
            if value is not None:
                item[key] = value
        item["body"] = c.body
        comments.append(item)
    return {
        "id": submission.public_id,
        "assessment": submission.version.assessment.slug,
        "comments": comments,
        "summary": submission.summary,
    }


def compute_digest(submission: Submission) -> str:
    """SHA-256 of the canonical JSON of the review, so the candidate can prove what was sent."""
    canonical = json.dumps(
        review_payload(submission), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def receipt_for(submission: Submission) -> Receipt:
    """The receipt of a submitted review."""
    if submission.status == SubmissionStatus.in_progress or submission.submitted_at is None:
        raise SubmissionError("This review has not been submitted yet.")
    return Receipt(
        public_id=submission.public_id,
        status=submission.status,
        submitted_at=submission.submitted_at,
        content_digest=submission.content_digest or "",
        comment_count=len(submission.comments),
        automatic=submission.status == SubmissionStatus.auto_submitted,
    )


# -- validation ------------------------------------------------------------------------------


def _count(n: int) -> str:
    return f"{n:,}"


def _validate_comment(
    number: int, c: DraftComment, line_counts: dict[str, int], settings: Settings
) -> list[str]:
    where = f"comment {number}"
    problems = []
    if not c.body.strip():
        problems.append(f"{where}: body is empty; write what is wrong or what you would ask")
    elif len(c.body) > settings.max_comment_chars:
        problems.append(
            f"{where}: body is {_count(len(c.body))} characters, the limit is "
            f"{_count(settings.max_comment_chars)}"
        )
    if c.severity is not None and c.severity not in SEVERITIES:
        problems.append(
            f"{where}: severity '{c.severity[:20]}' is not one of {', '.join(SEVERITIES)}"
        )
    if len(c.client_id) > CLIENT_ID_MAX:
        problems.append(f"{where}: client_id is longer than {CLIENT_ID_MAX} characters")
    if c.file is None:
        if c.line is not None or c.end_line is not None:
            problems.append(f"{where}: a line number needs a file")
        return problems
    if c.file not in line_counts:
        problems.append(
            f"{where}: file '{c.file[:FILE_NAME_MAX]}' is not part of this "
            f"assessment (files: {', '.join(line_counts)})"
        )
        return problems
    last = line_counts[c.file]
    if c.line is None:
        if c.end_line is not None:
            problems.append(f"{where}: end_line is set but line is not")
        return problems
    if not 1 <= c.line <= last:
        problems.append(f"{where}: line {c.line} is outside {c.file} (lines 1 to {last})")
    if c.end_line is not None:
        if not 1 <= c.end_line <= last:
            problems.append(
                f"{where}: end_line {c.end_line} is outside {c.file} (lines 1 to {last})"
            )
        elif c.end_line < c.line:
            problems.append(
                f"{where}: the range ends at line {c.end_line}, before it starts at line {c.line}"
            )
    return problems


def line_counts(version: AssessmentVersion) -> dict[str, int]:
    """Number of lines of each snippet file, by name, in the order shown."""
    return {f["name"]: len(f["text"].splitlines()) for f in version.files}


def validate_draft(
    version: AssessmentVersion, draft: Draft, settings: Settings | None = None
) -> list[str]:
    """Every problem of a draft, each naming the comment (1-based) or field it is in."""
    settings = settings or get_settings()
    problems: list[str] = []
    if len(draft.comments) > settings.max_comments:
        problems.append(
            f"there are {_count(len(draft.comments))} comments, the limit is "
            f"{_count(settings.max_comments)}"
        )
    counts = line_counts(version)
    seen: set[str] = set()
    for number, comment in enumerate(draft.comments[: settings.max_comments + 1], start=1):
        problems.extend(_validate_comment(number, comment, counts, settings))
        if comment.client_id and comment.client_id in seen:
            problems.append(
                f"comment {number}: client_id '{comment.client_id[:CLIENT_ID_MAX]}' "
                "is used by an earlier comment"
            )
        seen.add(comment.client_id)
    if len(draft.summary) > settings.max_summary_chars:
        problems.append(
            f"summary is {_count(len(draft.summary))} characters, the limit is "
            f"{_count(settings.max_summary_chars)}"
        )
    return problems


def _normalized(draft: Draft) -> Draft:
    """Blank optional fields become None and missing client ids are assigned."""
    comments = []
    for c in draft.comments:
        severity = (c.severity or "").strip().lower() or None
        file = (c.file or "").strip() or None
        comments.append(
            DraftComment(
                body=c.body.replace("\r\n", "\n"),
                client_id=(c.client_id or "").strip() or "c" + secrets.token_hex(8),
                file=file,
                line=c.line,
                end_line=c.end_line if c.end_line != c.line else None,
                severity=severity,
            )
        )
    return Draft(comments=comments, summary=draft.summary.replace("\r\n", "\n"))


# -- writing ---------------------------------------------------------------------------------


def start_submission(session: Session, invite: Invite, now: datetime | None = None) -> Submission:
    """Start the clock for an invite; starting twice returns the first attempt."""
    existing = submission_for_invite(session, invite)
    if existing is not None:
        return existing
    now = now or utcnow()
    if invite.revoked_at is not None or now >= invite.expires_at:
        raise InviteClosed()
    try:
        version = assessment_service.current_version(session, invite.assessment)
    except assessment_service.NotPublished as exc:
        raise AssessmentWithdrawn() from exc
    submission = Submission(
        public_id=secrets.token_hex(10),
        invite_id=invite.id,
        version_id=version.id,
        status=SubmissionStatus.in_progress,
        summary="",
        draft_revision=0,
        started_at=now,
        deadline_at=now + timedelta(minutes=version.time_limit_minutes),
    )
    try:
        # Two tabs pressing Start at once: the unique invite_id lets exactly one win.
        with session.begin_nested():
            session.add(submission)
    except IntegrityError:
        winner = submission_for_invite(session, invite)
        if winner is None:
            raise
        return winner
    return submission


def _ensure_editable(session: Session, submission: Submission, now: datetime) -> None:
    if submission.status != SubmissionStatus.in_progress:
        raise AlreadySubmitted(submission)
    if now > closes_at(submission):
        raise DeadlinePassed(submission)


def save_draft(
    session: Session,
    submission: Submission,
    draft: Draft,
    *,
    base_revision: int,
    save_id: str = "",
    now: datetime | None = None,
) -> Submission:
    """Replace the draft if `base_revision` is the stored one; the revision then goes up by one.

    A retry of the save that made the stored revision (same `save_id`, based on the revision
    before) is applied too: its first answer was lost, and nothing else came in between.
    Raises DraftConflict for a stale revision, DraftInvalid with every problem, and
    DeadlinePassed or AlreadySubmitted when the review is closed.
    """
    now = now or utcnow()
    _ensure_editable(session, submission, now)
    draft = _normalized(draft)
    problems = validate_draft(submission.version, draft)
    if problems:
        raise DraftInvalid(problems)
    before_summary = submission.summary
    # Compare-and-set in one statement, so two saves racing from the same revision cannot
    # both win, and a save cannot slip in after the draft was closed.
    same_base = Submission.draft_revision == base_revision
    if save_id:
        retried = (Submission.draft_revision == base_revision + 1) & (
            Submission.last_save_id == save_id
        )
        same_base = same_base | retried
    stored = session.execute(
        update(Submission)
        .where(
            Submission.id == submission.id,
            same_base,
            Submission.status == SubmissionStatus.in_progress,
        )
        .values(
            draft_revision=Submission.draft_revision + 1,
            summary=draft.summary,
            saved_at=now,
            last_save_id=save_id or None,
        )
        .returning(Submission.draft_revision)
        .execution_options(synchronize_session=False)
    ).first()
    if stored is None:
        session.refresh(submission)
        if submission.status != SubmissionStatus.in_progress:
            raise AlreadySubmitted(submission)
        if _same(draft, draft_of(submission)):
            # The same content arrived twice (a retried or keep-alive save racing a reload):
            # nothing would be overwritten, so it is a success, not a conflict.
            return submission
        raise DraftConflict(submission, base_revision)
    # The row is now locked by this transaction, so the comments read here are the ones this
    # save replaces, even when a retry of the same save committed a moment ago: reading them
    # only now costs no second read after the update.
    for name, value in (
        ("draft_revision", stored.draft_revision),
        ("summary", draft.summary),
        ("saved_at", now),
        ("last_save_id", save_id or None),
    ):
        set_committed_value(submission, name, value)
    session.expire(submission, ["comments"])
    before = {c.client_id: c.body for c in submission.comments}
    _replace_comments(session, submission, draft.comments)
    composition.record_revision(
        session,
        submission,
        before=before,
        before_summary=before_summary,
        comments=[(c.client_id, c.body) for c in draft.comments],
        summary=draft.summary,
        now=now,
    )
    return submission


def _same(a: Draft, b: Draft) -> bool:
    def _key(d: Draft) -> tuple[object, ...]:
        return (
            d.summary,
            [(c.client_id, c.file, c.line, c.end_line, c.severity, c.body) for c in d.comments],
        )

    return _key(a) == _key(b)


def _edit(
    session: Session, submission: Submission, draft: Draft, now: datetime | None
) -> Submission:
    return save_draft(session, submission, draft, base_revision=submission.draft_revision, now=now)


def _index(draft: Draft, client_id: str) -> int:
    for i, c in enumerate(draft.comments):
        if c.client_id == client_id:
            return i
    raise CommentNotFound(client_id)


def add_comment(
    session: Session, submission: Submission, comment: DraftComment, now: datetime | None = None
) -> DraftComment:
    """Append a comment (least urgent); returns it with its assigned client id."""
    draft = draft_of(submission)
    comment = _normalized(Draft(comments=[comment])).comments[0]
    draft.comments.append(comment)
    _edit(session, submission, draft, now)
    return comment


def update_comment(
    session: Session,
    submission: Submission,
    client_id: str,
    comment: DraftComment,
    now: datetime | None = None,
) -> None:
    """Replace one comment's anchor, severity and body."""
    draft = draft_of(submission)
    comment.client_id = client_id
    draft.comments[_index(draft, client_id)] = comment
    _edit(session, submission, draft, now)


def delete_comment(
    session: Session, submission: Submission, client_id: str, now: datetime | None = None
) -> None:
    """Remove one comment."""
    draft = draft_of(submission)
    del draft.comments[_index(draft, client_id)]
    _edit(session, submission, draft, now)


def move_comment(
    session: Session,
    submission: Submission,
    client_id: str,
    offset: int,
    now: datetime | None = None,
) -> None:
    """Move a comment up (negative) or down the order of urgency, clamped to the list."""
    draft = draft_of(submission)
    i = _index(draft, client_id)
    j = max(0, min(len(draft.comments) - 1, i + offset))
    draft.comments.insert(j, draft.comments.pop(i))
    _edit(session, submission, draft, now)


def save_summary(
    session: Session, submission: Submission, summary: str, now: datetime | None = None
) -> None:
    """Replace the summary."""
    draft = draft_of(submission)
    draft.summary = summary
    _edit(session, submission, draft, now)


def _replace_comments(
    session: Session, submission: Submission, comments: list[DraftComment]
) -> None:
    # Update rows in place by client id rather than delete-and-insert, so an unchanged
    # comment keeps its row and a save touches only what changed.
    existing = {c.client_id: c for c in submission.comments}
    keep: list[ReviewComment] = []
    for position, c in enumerate(comments):
        row = existing.pop(c.client_id, None)
        if row is None:
            row = ReviewComment(client_id=c.client_id, position=position, body=c.body)
        row.position, row.file, row.line = position, c.file, c.line
        row.end_line, row.severity, row.body = c.end_line, c.severity, c.body
        keep.append(row)
    submission.comments = keep
    session.flush()


def _close(
    session: Session, submission: Submission, status: SubmissionStatus, submitted_at: datetime
) -> bool:
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.status == SubmissionStatus.in_progress)
        .values(status=status, submitted_at=submitted_at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(submission)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False  # someone else closed it first; theirs stands
    submission.content_digest = compute_digest(submission)
    session.flush()
    audit_service.record(
        session,
        CANDIDATE_ACTOR if status == SubmissionStatus.submitted else audit_service.SYSTEM_ACTOR,
        "submission",
        submission.public_id,
        f"submission.{status.value}",
        {"status": SubmissionStatus.in_progress.value},
        {
            "status": status.value,
            "submitted_at": submitted_at,
            "content_digest": submission.content_digest,
            "comments": len(submission.comments),
        },
    )
    # Graded after the caller commits (see `closed_since_commit`): grading is slow on a cold
    # start and must neither hold the database's write lock nor delay making this durable.
    session.info.setdefault(TO_SCORE, []).append(submission)
    return True


def closed_since_commit(session: Session) -> list[Submission]:
    """Submissions this session closed that still await grading; the list is emptied."""
    return list(session.info.pop(TO_SCORE, []))


def submit(session: Session, submission: Submission, now: datetime | None = None) -> Receipt:
    """Submit the stored draft; submitting again returns the same receipt."""
    now = now or utcnow()
    if submission.status == SubmissionStatus.in_progress:
        if now > closes_at(submission):
            finalize_if_overdue(session, submission, now)
        else:
            # After the deadline (inside the grace period) this is the page's own automatic
            # submission when its clock reached zero.
            status = (
                SubmissionStatus.submitted
                if now <= submission.deadline_at
                else SubmissionStatus.auto_submitted
            )
            _close(session, submission, status, now)
    return receipt_for(submission)


def finalize_if_overdue(
    session: Session, submission: Submission, now: datetime | None = None
) -> bool:
    """Submit an open draft whose time is up, as last saved; True when this call closed it."""
    now = now or utcnow()
    if not is_overdue(submission, now):
        return False
    logger.info("auto-submitting overdue submission %s", submission.public_id)
    return _close(
        session, submission, SubmissionStatus.auto_submitted, min(now, submission.deadline_at)
    )


def overdue_drafts(session: Session, now: datetime | None = None) -> list[Submission]:
    """Open drafts whose time (and grace) ran out, oldest deadline first; reads only."""
    cutoff = (now or utcnow()) - grace()
    return list(
        session.scalars(
            select(Submission)
            .where(
                Submission.status == SubmissionStatus.in_progress, Submission.deadline_at < cutoff
            )
            .order_by(Submission.deadline_at, Submission.id)
        )
    )


def close_overdue(session: Session, now: datetime | None = None) -> list[Submission]:
    """Submit every open draft whose time is up; returns those this call closed."""
    now = now or utcnow()
    return [s for s in overdue_drafts(session, now) if finalize_if_overdue(session, s, now)]
