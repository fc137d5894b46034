"""Small factories for staff, submissions and auto-scores; reuse them in any web test."""

from __future__ import annotations

import functools
import io
import itertools
import re
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments.models import Assessment, AssessmentVersion, Decoy, SeededBug, VersionStatus
from app.auth import SESSION_COOKIE
from app.db import utcnow
from app.invites import service as invite_service
from app.invites.models import Invite
from app.scoring.models import AutoScore, ScoreFlag, ScoreMatch
from app.security import csrf_token_for, new_token, token_hash
from app.settings import PROJECT_ROOT
from app.submissions import service as submission_service
from app.submissions.models import ReviewComment, Submission, SubmissionStatus
from app.users import service as users_service
from app.users.models import Role, User
from grading import DIMENSIONS, CommentLabel, Grade, Match, RedFlag, Review

TEST_PASSWORD = "correct horse battery staple"
DEFAULT_ASSESSMENT = "llm-gateway-client"

# Three comments on the default assessment: a find, a find that proposes a rewrite, and one
# near the usage bug.
COMMENTS: list[dict[str, Any]] = [
    {
        "body": "The cache key only hashes the messages, so gw-small answers reach gw-large "
        "callers.",
        "file": "client.py",
        "line": 73,
        "severity": "critical",
    },
    {
        "body": "Rewrite the whole client on LangChain; the retry loop wraps the yield anyway.",
        "file": "client.py",
        "line": 150,
        "severity": "major",
    },
    {
        "body": "Usage is recorded after the loop, not in a finally, so early exits lose it.",
        "file": "client.py",
        "line": 170,
    },
]

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
    """The newest version of a synced assessment that is not a draft."""
    version = session.scalars(
        select(AssessmentVersion)
        .join(Assessment)
        .where(Assessment.slug == slug, AssessmentVersion.status != VersionStatus.draft)
        .order_by(AssessmentVersion.number.desc())
    ).first()
    assert version is not None, f"assessment {slug} is not synced"
    return version


def copy_version(
    session: Session,
    original: AssessmentVersion,
    *,
    same_assessment: bool = False,
    subtle: Sequence[str] = (),
) -> AssessmentVersion:
    """A copy of `original` with the bugs in `subtle` marked subtle: its next version, or
    (by default) version 1 of a fresh assessment, so counts over it start at zero."""
    if same_assessment:
        assessment, number = original.assessment, original.number + 1
    else:
        assessment = Assessment(slug=unique("item"), title=f"Copy of {original.title}")
        number = 1
    version = AssessmentVersion(
        assessment=assessment,
        number=number,
        content_digest=f"{number:x}" * 64,
        title=original.title,
        language=original.language,
        time_limit_minutes=original.time_limit_minutes,
        brief=original.brief,
        files=original.files,
        rubric=original.rubric,
        bugs=[
            SeededBug(
                key=b.key,
                file=b.file,
                lines=b.lines,
                title=b.title,
                description=b.description,
                rank=b.rank,
                subtle=b.subtle or b.key in subtle,
                phrases=b.phrases,
            )
            for b in original.bugs
        ],
        decoys=[Decoy(key=d.key, file=d.file, lines=d.lines, why=d.why) for d in original.decoys],
    )
    session.add(version)
    session.flush()
    if same_assessment:
        session.refresh(assessment)
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


def make_invite(session: Session, **overrides: Any) -> invite_service.NewInvite:
    """An invite for the default assessment (committed to the test's savepoint)."""
    fields: dict[str, Any] = {
        "assessment": DEFAULT_ASSESSMENT,
        "candidate_name": "Ada Lovelace",
        "candidate_email": "ada@example.com",
    }
    fields.update(overrides)
    new = invite_service.create_invite(session, **fields)
    session.commit()
    return new


def make_draft(
    session: Session, *, assessment: str = DEFAULT_ASSESSMENT, started_at: datetime | None = None
) -> Submission:
    """A candidate's open draft, begun through the services as the candidate's Start does
    (`started_at` in the past makes it overdue)."""
    new = invite_service.create_invite(session, assessment=assessment)
    return submission_service.start_submission(session, new.invite, now=started_at)


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


class FakeGrader:
    """Grades instantly, so these tests do not wait for the real models to train."""

    version = "fake-1"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.reviews: list[Review] = []

    def grade(self, review: Review, assessment: Any, key: Any) -> Grade:
        """A fixed grade: the first comment finds the first bug; or a failure, when asked."""
        if self.fail:
            raise RuntimeError("model file missing")
        self.reviews.append(review)
        # A review without comments finds nothing: a match on a comment that does not exist
        # is a grade no engine gives, and the grading pages rightly refuse it.
        found = (Match(bug=key.bugs[0].id, comment=0, confidence=0.9),) if review.comments else ()
        return Grade(
            id=review.id,
            total=42.0,
            dimensions=tuple((d, 42.0) for d in DIMENSIONS),
            matches=found,
            red_flags=(RedFlag(kind="no_questions", comment=-1, evidence=""),),
            comments=tuple(
                CommentLabel(kind="defect", confidence=0.9, tradeoff=False) for _ in review.comments
            ),
        )

    def grade_many(self, reviews: Sequence[Review], assessment: Any, key: Any) -> list[Grade]:
        """The grade of each review, in order, as the engine's batch call returns them."""
        return [self.grade(review, assessment, key) for review in reviews]


# -- assessments as content files and as versions ---------------------------------------------


def fresh_slug(prefix: str) -> str:
    """A slug no other test uses ([a-z0-9-]+)."""
    return re.sub(r"[^a-z0-9-]", "x", unique(prefix).lower())


def content_files(slug: str, source: str = DEFAULT_ASSESSMENT) -> dict[str, bytes]:
    """A shipped assessment and its key under a new slug, by content path (as in an archive)."""
    folder = PROJECT_ROOT / "assessments" / source
    out = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.name == "assessment.yaml":
            data = data.replace(f"slug: {source}".encode(), f"slug: {slug}".encode())
        out[f"assessments/{slug}/{path.name}"] = data
    key = (PROJECT_ROOT / "seeded_bugs" / f"{source}.yaml").read_bytes()
    out[f"seeded_bugs/{slug}.yaml"] = key.replace(
        f"assessment: {source}".encode(), f"assessment: {slug}".encode()
    )
    return out


def upload_archive(client: TestClient, csrf: str, name: str, data: bytes) -> Any:
    """Post an assessment archive to the upload form, as an author's browser does."""
    return client.post(
        "/staff/assessments/new",
        data={"csrf_token": csrf},
        files={"archive": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def zip_archive(files: Mapping[str, bytes]) -> bytes:
    """A .zip holding `files` by path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_archive(files: Mapping[str, bytes], *, link: str | None = None) -> bytes:
    """A .tar.gz holding `files` by path, and a symbolic link at `link` if given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def make_graded_submission(
    session: Session,
    version: AssessmentVersion,
    *,
    total: float,
    bugs: list[str],
    false_alarms: Sequence[str] = (),
    severities: list[str | None] | None = None,
    minutes: int = 30,
) -> Submission:
    """A submitted review of `version` whose auto-score found `bugs` (comment i finds bug i)
    and raised `false_alarms` on decoys, taking `minutes`."""
    severities = severities or ["critical"] * max(1, len(bugs))
    submission = make_submission(
        session,
        assessment=version.assessment.slug,
        comments=[{"body": f"comment {i}", "severity": s} for i, s in enumerate(severities)],
    )
    submission.submitted_at = submission.started_at + timedelta(minutes=minutes)
    make_auto_score(
        session,
        submission,
        score_dict(
            total=total,
            matches=[{"bug": b, "comment": i, "confidence": 0.9} for i, b in enumerate(bugs)],
            false_alarms=[{"decoy": d, "comment": 0} for d in false_alarms],
        ),
    )
    return submission
