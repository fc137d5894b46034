"""Invites: create one-candidate links, exchange them for a session, find the candidate.

A link's token is shown once, when the invite is created; the database keeps only its hash.
Opening the link issues a fresh session token (its hash replaces the previous one), so the
link leaves the address bar and a copy of an old cookie stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.models import Assessment
from app.audit import service as audit_service
from app.db import utcnow
from app.invites.models import Invite
from app.limits import service as limits
from app.security import new_token, token_hash
from app.settings import get_settings
from app.submissions import service as submission_service
from app.submissions.models import Submission, SubmissionStatus
from app.users.models import User

MAX_NAME = 200
MAX_EMAIL = 320
INVITE_PATH = "/i/"


class InviteError(Exception):
    """Base of invite errors."""


class InviteUnavailable(InviteError):
    """The link is unknown, expired, revoked or used; candidates are not told which."""

    def __init__(self) -> None:
        super().__init__("This invite link cannot be used.")


class InviteInvalid(InviteError):
    """Staff asked for an invite that cannot be made; `problems` names each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class NewInvite:
    """A created invite and its link; the link is shown this once and never stored."""

    invite: Invite
    token: str
    url: str


def invite_url(token: str, base_url: str | None = None) -> str:
    """The link a candidate opens."""
    return f"{(base_url or get_settings().link_base_url()).rstrip('/')}{INVITE_PATH}{token}"


def candidate_problems(name: str | None, email: str | None) -> list[str]:
    """What is wrong with a candidate's name and e-mail address, field by field."""
    problems = []
    if name and len(name) > MAX_NAME:
        problems.append(f"candidate name: {len(name)} characters, the limit is {MAX_NAME}")
    if name and "\x00" in name:
        problems.append("candidate name: contains a NUL character")
    if email and (len(email) > MAX_EMAIL or "@" not in email.strip("@") or "\x00" in email):
        problems.append(f"candidate e-mail: '{email[:60]}' is not an e-mail address")
    return problems


def create_invite(
    session: Session,
    *,
    assessment: Assessment | str,
    candidate_name: str | None = None,
    candidate_email: str | None = None,
    expires_at: datetime | None = None,
    created_by: User | None = None,
    actor: str | None = None,
    base_url: str | None = None,
    now: datetime | None = None,
) -> NewInvite:
    """Create an invite for one candidate; raises InviteInvalid naming every bad field."""
    now = now or utcnow()
    if isinstance(assessment, str):
        assessment = assessment_service.get_assessment(session, assessment)
    name = (candidate_name or "").strip() or None
    email = (candidate_email or "").strip() or None
    expires_at = expires_at or now + timedelta(days=get_settings().invite_days)
    problems = []
    if assessment_service.published_version(session, assessment) is None:
        problems.append(
            f"assessment: '{assessment.slug}' has no published version (a draft or a retired "
            "version cannot be sent to candidates)"
        )
    problems.extend(candidate_problems(name, email))
    if expires_at.tzinfo is None:
        problems.append("expiry: give a time zone (UTC)")
    elif expires_at <= now:
        problems.append("expiry: must be in the future")
    if problems:
        raise InviteInvalid(problems)
    token = new_token()
    invite = Invite(
        assessment_id=assessment.id,
        token_hash=token_hash(token),
        candidate_name=name,
        candidate_email=email,
        created_by_id=created_by.id if created_by else None,
        created_at=now,
        expires_at=expires_at,
    )
    invite.assessment = assessment
    session.add(invite)
    session.flush()
    audit_service.record(
        session,
        created_by or actor,
        "invite",
        invite.id,
        "invite.created",
        None,
        # No name or e-mail: the audit trail cannot be erased, so it must not identify anyone.
        {
            "assessment": assessment.slug,
            "named": name is not None,
            "emailed": email is not None,
            "expires_at": expires_at,
        },
    )
    return NewInvite(invite=invite, token=token, url=invite_url(token, base_url))


def _by_token(session: Session, token: str) -> Invite | None:
    if not token or len(token) > 200:
        return None
    return session.scalars(select(Invite).where(Invite.token_hash == token_hash(token))).first()


def session_holder(
    session: Session, session_token: str | None
) -> tuple[Invite, Submission | None] | None:
    """The invite whose candidate holds this session token, with its submission if started.

    One query: every candidate request starts here.
    """
    if not session_token or len(session_token) > 200:
        return None
    row = session.execute(
        select(Invite, Submission)
        .outerjoin(Submission, Submission.invite_id == Invite.id)
        .where(Invite.session_hash == token_hash(session_token))
    ).first()
    return (row[0], row[1]) if row is not None else None


def is_usable(session: Session, invite: Invite, now: datetime | None = None) -> bool:
    """Whether the link may still be opened: not revoked, used or (before starting) expired."""
    now = now or utcnow()
    if invite.revoked_at is not None:
        return False
    submission = submission_service.submission_for_invite(session, invite)
    if submission is None:
        return now < invite.expires_at
    submission_service.finalize_if_overdue(session, submission, now)
    return submission.status == SubmissionStatus.in_progress


def open_invite(
    session: Session,
    token: str,
    *,
    current_session_token: str | None = None,
    now: datetime | None = None,
) -> tuple[Invite, str]:
    """Exchange a link's token for a candidate session; returns the invite and session token.

    Each open of a real invite counts towards its rate limit (RateLimited when exceeded).

    A browser that already holds this invite's session keeps it, so reopening the link in a
    second tab does not sign out the first, and after submitting it leads to the receipt.
    """
    now = now or utcnow()
    invite = _by_token(session, token)
    if invite is None:
        raise InviteUnavailable()
    limits.hit(session, limits.INVITE_OPEN, str(invite.id), now=now)
    holds_session = bool(
        current_session_token and invite.session_hash == token_hash(current_session_token)
    )
    if not is_usable(session, invite, now):
        # Only the candidate's own browser may still reach the receipt of a used link.
        if holds_session and current_session_token and invite.revoked_at is None:
            return invite, current_session_token
        raise InviteUnavailable()
    if invite.opened_at is None:
        invite.opened_at = now
    if holds_session and current_session_token:
        return invite, current_session_token
    session_token = new_token()
    invite.session_hash = token_hash(session_token)
    session.flush()
    return invite, session_token


def revoke_invite(
    session: Session,
    invite: Invite,
    *,
    actor: User | str | None = None,
    now: datetime | None = None,
) -> None:
    """Stop a link and its session from working; a started draft is submitted at its deadline."""
    if invite.revoked_at is not None:
        return
    invite.revoked_at = now or utcnow()
    session.flush()
    audit_service.record(
        session,
        actor,
        "invite",
        invite.id,
        "invite.revoked",
        None,
        {"revoked_at": invite.revoked_at},
    )


def list_invites(session: Session, *, limit: int = 200) -> list[tuple[Invite, Submission | None]]:
    """The newest invites with their submissions, for staff."""
    rows = session.execute(
        select(Invite, Submission)
        .outerjoin(Submission, Submission.invite_id == Invite.id)
        .order_by(Invite.created_at.desc(), Invite.id.desc())
        .limit(limit)
    ).all()
    return [(invite, submission) for invite, submission in rows]


def invite_state(invite: Invite, submission: Submission | None, now: datetime | None = None) -> str:
    """A word for staff: open, started, submitted, expired or revoked."""
    now = now or utcnow()
    if submission is not None and submission.status != SubmissionStatus.in_progress:
        return "submitted"
    if invite.revoked_at is not None:
        return "revoked"
    if submission is not None:
        return "started"
    return "expired" if now >= invite.expires_at else "open"
