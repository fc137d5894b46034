"""A candidate's review: a draft while the clock runs, then a frozen submission."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assessments.models import AssessmentVersion
from app.db import Base, UTCDateTime, utcnow
from app.invites.models import Invite


class SubmissionStatus(enum.StrEnum):
    """Where a submission is in its life."""

    in_progress = "in_progress"
    submitted = "submitted"
    auto_submitted = "auto_submitted"


class Submission(Base):
    """One candidate's attempt at one assessment version.

    `draft_revision` increases with every saved change, so an autosave that arrives late
    from a stale tab cannot overwrite newer work.
    """

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invite.id"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("assessment_version.id"), index=True)
    status: Mapped[SubmissionStatus] = mapped_column(
        Enum(SubmissionStatus, native_enum=False, length=20),
        default=SubmissionStatus.in_progress,
        index=True,
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    draft_revision: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    content_digest: Mapped[str | None] = mapped_column(String(64))
    # The client's id of the save that made `draft_revision`: a retry of that save (its
    # answer was lost) is recognised and applied instead of refused as a conflict.
    last_save_id: Mapped[str | None] = mapped_column(String(64))

    invite: Mapped[Invite] = relationship()
    version: Mapped[AssessmentVersion] = relationship()
    comments: Mapped[list[ReviewComment]] = relationship(
        back_populates="submission",
        order_by="ReviewComment.position",
        cascade="all, delete-orphan",
    )


class ReviewComment(Base):
    """A line-anchored comment; `position` is the candidate's order of urgency."""

    __tablename__ = "review_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
    file: Mapped[str | None] = mapped_column(String(300))
    line: Mapped[int | None]
    end_line: Mapped[int | None]
    severity: Mapped[str | None] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)

    submission: Mapped[Submission] = relationship(back_populates="comments")


class DraftRevision(Base):
    """How a draft looked at one save: each comment's length, and text that arrived pasted.

    Integrity evidence for graders (how the review grew), never part of a score. Saves a few
    seconds apart are merged into one row, so a long session stays a few hundred rows.
    """

    __tablename__ = "draft_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int]
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary_chars: Mapped[int] = mapped_column(default=0)
    # [{"id": client_id, "chars": n}, ...] in the draft's order
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"id": client_id or "summary", "chars": n, "text": first characters}, ...]
    pastes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
