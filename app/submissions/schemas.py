"""Request and response bodies of the candidate JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SessionCreate(BaseModel):
    """Exchange an invite link's token for a candidate session (cookie)."""

    token: str = Field(max_length=200, description="The token at the end of the invite link.")


class CommentWrite(BaseModel):
    """One comment of a draft; limits are checked by the service so errors can name it."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(
        default="", description="Stable id chosen by the client; assigned by the server when empty."
    )
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    severity: str | None = Field(
        default=None, description="critical, major, minor or nit; null for none."
    )
    body: str = ""


class DraftWrite(BaseModel):
    """The whole draft: comments most urgent first, and the summary."""

    model_config = ConfigDict(extra="forbid")

    base_revision: int = Field(
        ge=0,
        le=2**31 - 1,
        description="The revision this draft was edited from; a save "
        "from an older revision is refused with 409.",
    )
    comments: list[CommentWrite] = Field(default_factory=list)
    summary: str = ""
    save_id: str = Field(
        default="",
        max_length=64,
        description="An id the client picks for this save and sends again when it retries "
        "it: a retry of a save that was stored but whose answer was lost then succeeds "
        "instead of being refused as a conflict.",
    )


class CommentRead(BaseModel):
    """A stored comment, with its body rendered as sanitized HTML."""

    client_id: str
    file: str | None
    line: int | None
    end_line: int | None
    severity: str | None
    body: str
    body_html: str


class DraftRead(BaseModel):
    """The stored draft."""

    revision: int
    saved_at: datetime | None
    comments: list[CommentRead]
    summary: str
    summary_html: str


class SnippetFileRead(BaseModel):
    """One file of the snippet under review."""

    name: str
    text: str
    line_count: int


class AssessmentRead(BaseModel):
    """What the candidate may see of an assessment (never the answer key)."""

    slug: str
    title: str
    language: str
    time_limit_minutes: int
    brief: str
    judged_on: list[str]
    files: list[SnippetFileRead] = Field(description="Empty until the assessment is started.")


class Limits(BaseModel):
    """Size limits of a draft."""

    max_comments: int
    max_comment_chars: int
    max_summary_chars: int


class ReceiptRead(BaseModel):
    """Proof of submission: id, time and a SHA-256 digest of the submitted review."""

    submission_id: str
    status: Literal["submitted", "auto_submitted"]
    submitted_at: datetime
    content_digest: str
    comment_count: int
    automatic: bool


class CandidateState(BaseModel):
    """Everything the candidate's page needs."""

    status: Literal["not_started", "in_progress", "submitted", "auto_submitted"]
    submission_id: str | None = Field(default=None, description="Set once started.")
    csrf_token: str = Field(description="Send it as the X-CSRF-Token header on every write.")
    candidate_name: str | None
    assessment: AssessmentRead
    server_time: datetime
    started_at: datetime | None = None
    deadline_at: datetime | None = None
    seconds_left: int | None = None
    grace_seconds: int
    limits: Limits
    draft: DraftRead | None = None
    receipt: ReceiptRead | None = None


class SaveResult(BaseModel):
    """The outcome of a draft save."""

    draft: DraftRead
    server_time: datetime
    seconds_left: int


class ErrorBody(BaseModel):
    """An error: what is wrong, a code for programs, and every problem found."""

    detail: str
    code: str | None = None
    problems: list[str] = Field(default_factory=list)
