"""What the candidate sees, built from rows: never anything from the answer key.

Only the assessment's brief, files, time limit and rubric weights leave this module; seeded
bugs and decoys are not read here at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.assessments.models import AssessmentVersion, VersionStatus
from app.db import utcnow
from app.invites.models import Invite
from app.settings import get_settings
from app.submissions import service
from app.submissions.highlight import highlight_lines
from app.submissions.models import Submission, SubmissionStatus
from app.submissions.schemas import (
    AssessmentRead,
    CandidateState,
    CommentRead,
    DraftRead,
    Limits,
    ReceiptRead,
    SnippetFileRead,
)
from app.templating import render_markdown

JUDGED_ON = {
    "detection": "Finding the problems that matter: defects that would hurt users, money or "
    "data in production, explained so an engineer could act on them.",
    "severity": "Judging how serious each problem is: give each comment a severity and put "
    "the most urgent first.",
    "tradeoffs": "Weighing fixes: what a fix costs, under which conditions it matters, what "
    "you would measure or ask first, and in which order to do the work.",
    "tool_taste": "Proportion: small, targeted fixes rather than rewrites or heavy new "
    "frameworks, and noticing needless complexity.",
}


def judged_on(version: AssessmentVersion) -> list[str]:
    """The rubric in plain words, heaviest first, with its share of the score."""
    weights = {name: float(version.rubric.get(name, 0)) for name in JUDGED_ON}
    ordered = sorted(JUDGED_ON, key=lambda name: (-weights[name], list(JUDGED_ON).index(name)))
    return [f"{JUDGED_ON[name]} ({weights[name]:g}%)" for name in ordered if weights[name] > 0]


def version_for(invite: Invite, submission: Submission | None) -> AssessmentVersion:
    """The version the candidate takes: the started one, else the published one."""
    if submission is not None:
        return submission.version
    for version in invite.assessment.versions:
        if version.status == VersionStatus.published:
            return version
    raise service.AssessmentWithdrawn()


def assessment_read(version: AssessmentVersion, *, with_files: bool) -> AssessmentRead:
    """The candidate's view of an assessment version."""
    files = (
        [
            SnippetFileRead(name=f["name"], text=f["text"], line_count=len(f["text"].splitlines()))
            for f in version.files
        ]
        if with_files
        else []
    )
    return AssessmentRead(
        slug=version.assessment.slug,
        title=version.title,
        language=version.language,
        time_limit_minutes=version.time_limit_minutes,
        brief=version.brief,
        judged_on=judged_on(version),
        files=files,
    )


def draft_read(submission: Submission) -> DraftRead:
    """The stored draft with Markdown rendered (sanitized)."""
    return DraftRead(
        revision=submission.draft_revision,
        saved_at=submission.saved_at,
        comments=[
            CommentRead(
                client_id=c.client_id,
                file=c.file,
                line=c.line,
                end_line=c.end_line,
                severity=c.severity,
                body=c.body,
                body_html=str(render_markdown(c.body)),
            )
            for c in submission.comments
        ],
        summary=submission.summary,
        summary_html=str(render_markdown(submission.summary)),
    )


def receipt_read(submission: Submission) -> ReceiptRead:
    """The receipt of a submitted review."""
    receipt = service.receipt_for(submission)
    return ReceiptRead(
        submission_id=receipt.public_id,
        status=receipt.status.value,
        submitted_at=receipt.submitted_at,
        content_digest=receipt.content_digest,
        comment_count=receipt.comment_count,
        automatic=receipt.automatic,
    )


def candidate_state(
    invite: Invite, submission: Submission | None, csrf_token: str, now: datetime | None = None
) -> CandidateState:
    """Everything the candidate's page and the API report about the attempt."""
    now = now or utcnow()
    settings = get_settings()
    version = version_for(invite, submission)
    status = "not_started" if submission is None else submission.status.value
    state = CandidateState(
        status=status,
        csrf_token=csrf_token,
        candidate_name=invite.candidate_name,
        assessment=assessment_read(
            version,
            with_files=submission is not None and submission.status == SubmissionStatus.in_progress,
        ),
        server_time=now,
        grace_seconds=settings.deadline_grace_seconds,
        limits=Limits(
            max_comments=settings.max_comments,
            max_comment_chars=settings.max_comment_chars,
            max_summary_chars=settings.max_summary_chars,
        ),
    )
    if submission is not None:
        state.submission_id = submission.public_id
        state.started_at = submission.started_at
        state.deadline_at = submission.deadline_at
        state.seconds_left = service.seconds_left(submission, now)
        if submission.status == SubmissionStatus.in_progress:
            state.draft = draft_read(submission)
        else:
            state.receipt = receipt_read(submission)
    return state


@dataclass(frozen=True)
class CodeLine:
    """One line of a snippet as shown: number and highlighted HTML."""

    number: int
    html: Any


@dataclass(frozen=True)
class CodeFile:
    """One snippet file as shown."""

    name: str
    anchor: str
    lines: tuple[CodeLine, ...]


def file_anchor(name: str) -> str:
    """An id-safe name for a file, for anchors and element ids."""
    return "f-" + "".join(ch if ch.isalnum() else "-" for ch in name)


def code_files(version: AssessmentVersion) -> list[CodeFile]:
    """Every snippet file, highlighted line by line."""
    return [
        CodeFile(
            name=f["name"],
            anchor=file_anchor(f["name"]),
            lines=tuple(
                CodeLine(i, html)
                for i, html in enumerate(
                    highlight_lines(f["name"], f["text"], version.language), start=1
                )
            ),
        )
        for f in version.files
    ]
