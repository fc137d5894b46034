"""Small factories for staff, submissions and auto-scores; reuse them in any web test."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.models import Assessment, AssessmentVersion
from app.auth import SESSION_COOKIE
from app.db import utcnow
from app.invites.models import Invite
from app.scoring.models import AutoScore, ScoreFlag, ScoreMatch
from app.security import csrf_token_for, new_token, token_hash
from app.submissions.models import ReviewComment, Submission, SubmissionStatus
from app.users import service as users_service
from app.users.models import Role, User

TEST_PASSWORD = "correct horse battery staple"
DEFAULT_ASSESSMENT = "llm-gateway-client"

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    """A value no other factory call in this process returns (tests may commit rows)."""
    return f"{prefix}-{next(_serial)}-{new_token()[:6]}"


@functools.cache
def _test_password_hash() -> str:
    # argon2 is slow on purpose; hashing the shared test password once keeps tests quick.
    return users_service.hash_password(TEST_PASSWORD)


def make_user(
    session: Session,
    *,
    role: Role | str = Role.grader,
    email: str | None = None,
    name: str | None = None,
    password: str = TEST_PASSWORD,
    is_active: bool = True,
) -> User:
    """An account with a known password."""
    role = Role(role)
    email = email or f"{unique(role.value)}@example.test"
    name = name or f"Test {role.value.title()}"
    if password != TEST_PASSWORD:
        user = users_service.create_user(
            session, email=email, name=name, role=role, password=password, actor="test"
        )
    else:
        user = User(
            email=users_service.normalize_email(email),
            name=name,
            role=role,
            password_hash=_test_password_hash(),
        )
        session.add(user)
    user.is_active = is_active
    session.flush()
    return user


def sign_in(client: TestClient, session: Session, user: User) -> str:
    """Give the client a session cookie for `user`; returns the CSRF token that goes with it."""
    token = users_service.start_session(session, user)
    session.flush()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token_for(token)


def assessment_version(session: Session, slug: str = DEFAULT_ASSESSMENT) -> AssessmentVersion:
    """The newest stored version of a synced assessment."""
    version = session.scalars(
        select(AssessmentVersion)
        .join(Assessment)
        .where(Assessment.slug == slug)
        .order_by(AssessmentVersion.number.desc())
    ).first()
    assert version is not None, f"assessment {slug} is not synced"
    return version


def make_submission(
    session: Session,
    *,
    assessment: str = DEFAULT_ASSESSMENT,
    comments: Sequence[Mapping[str, Any] | str] = (),
    summary: str = "",
    candidate_name: str | None = "Ada Candidate",
    candidate_email: str | None = None,
    status: SubmissionStatus = SubmissionStatus.submitted,
    submitted_at: datetime | None = None,
) -> Submission:
    """A submission with comments; a comment is a body or a dict of ReviewComment fields."""
    version = assessment_version(session, assessment)
    now = utcnow()
    invite = Invite(
        assessment_id=version.assessment_id,
        token_hash=token_hash(new_token()),
        candidate_name=candidate_name,
        candidate_email=candidate_email or f"{unique('candidate')}@example.test",
        expires_at=now + timedelta(days=14),
        opened_at=now,
    )
    submission = Submission(
        public_id=new_token()[:24],
        invite=invite,
        version=version,
        status=status,
        summary=summary,
        started_at=now - timedelta(minutes=60),
        deadline_at=now + timedelta(minutes=30),
        submitted_at=None if status is SubmissionStatus.in_progress else (submitted_at or now),
    )
    for position, raw in enumerate(comments):
        fields: dict[str, Any] = {"body": raw} if isinstance(raw, str) else dict(raw)
        fields.setdefault("file", version.files[0]["name"] if version.files else None)
        fields.setdefault("line", 1)
        submission.comments.append(
            ReviewComment(client_id=unique("c"), position=position, **fields)
        )
    session.add(submission)
    session.flush()
    return submission


def score_dict(**overrides: Any) -> dict[str, Any]:
    """A plausible score (FORMATS.md section 4) for the default assessment; override any key."""
    score: dict[str, Any] = {
        "id": "r-test",
        "total": 61.25,
        "dimensions": {"detection": 50.0, "severity": 75.0, "tradeoffs": 50.0, "tool_taste": 75.0},
        "matches": [
            {"bug": "cache-key-ignores-params", "comment": 0, "confidence": 0.93},
            {"bug": "stream-retry-duplicates", "comment": 1, "confidence": 0.55},
        ],
        "red_flags": [
            {
                "kind": "no_questions",
                "comment": -1,
                "evidence": "no comment asks how the client is used",
            }
        ],
        "comments": [
            {"kind": "defect", "confidence": 0.9, "tradeoff": False},
            {"kind": "defect", "confidence": 0.8, "tradeoff": True},
            {"kind": "defect", "confidence": 0.7, "tradeoff": False},
        ],
        "near_misses": [{"bug": "stream-usage-lost", "comment": 2, "kind": "misdiagnosed"}],
        "false_alarms": [],
        "needs_review": True,
    }
    score.update(overrides)
    return score


def make_auto_score(
    session: Session,
    submission: Submission,
    score: Mapping[str, Any] | None = None,
    *,
    evidence: Mapping[str, Any] | None = None,
    grader_version: str = "test",
) -> AutoScore:
    """Store a score dict as the AutoScore of `submission`, with its match and flag rows.

    `evidence` has the engine's explained shape: {"matches": [{"bug", "comment", "words",
    "explanation"}, ...]}; a match's `confidence` and `signals` may be left out (they are
    taken from the score's match and left empty).
    """
    result = dict(score if score is not None else score_dict())
    evidence = dict(evidence or {})
    confidence = {(m["bug"], m["comment"]): m["confidence"] for m in result.get("matches", [])}
    evidence["matches"] = [
        {
            "confidence": confidence.get((e.get("bug"), e.get("comment")), 0.5),
            "signals": {},
            **e,
        }
        for e in evidence.get("matches", [])
    ]
    explained = {
        (e.get("bug"), e.get("comment")): str(e.get("explanation", ""))
        for e in evidence.get("matches", [])
    }
    auto = AutoScore(
        submission_id=submission.id,
        grader_version=grader_version,
        total=float(result["total"]),
        dimensions=dict(result["dimensions"]),
        needs_review=bool(result.get("needs_review", False)),
        result=result,
        evidence=evidence,
        matches=[
            ScoreMatch(
                bug_key=m["bug"],
                comment_index=m["comment"],
                confidence=m["confidence"],
                evidence=explained.get((m["bug"], m["comment"]), ""),
            )
            for m in result.get("matches", [])
        ],
        flags=[
            ScoreFlag(
                kind=f["kind"],
                comment_index=f["comment"],
                evidence=f.get("evidence", ""),
                confidence=f.get("confidence"),
            )
            for f in result.get("red_flags", [])
        ],
    )
    session.add(auto)
    session.flush()
    return auto
