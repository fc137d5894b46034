"""A human grader's sign-off on an auto-score: match, flag and dimension decisions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.scoring.models import AutoScore
from app.submissions.models import Submission
from app.users.models import User


class DecisionStatus(enum.StrEnum):
    """Open while graders work on it; final once signed."""

    open = "open"
    final = "final"


class GradeDecision(Base):
    """The human-signed grade of one submission.

    `version` is an optimistic lock: every save names the version it started from, and a save
    from a stale page is refused instead of overwriting another grader's work.
    """

    __tablename__ = "grade_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), unique=True
    )
    auto_score_id: Mapped[int | None] = mapped_column(
        ForeignKey("auto_score.id", ondelete="SET NULL")
    )
    status: Mapped[DecisionStatus] = mapped_column(
        Enum(DecisionStatus, native_enum=False, length=10), default=DecisionStatus.open
    )
    dimensions: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    total: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finalized_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012

    submission: Mapped[Submission] = relationship()
    auto_score: Mapped[AutoScore | None] = relationship()
    finalized_by: Mapped[User | None] = relationship(foreign_keys=[finalized_by_id])
    match_decisions: Mapped[list[MatchDecision]] = relationship(
        back_populates="decision", cascade="all, delete-orphan"
    )
    flag_decisions: Mapped[list[FlagDecision]] = relationship(
        back_populates="decision", cascade="all, delete-orphan"
    )
    overrides: Mapped[list[DimensionOverride]] = relationship(
        back_populates="decision", cascade="all, delete-orphan"
    )


class MatchVerdict(enum.StrEnum):
    """A grader's word on a comment-to-bug match."""

    confirmed = "confirmed"
    rejected = "rejected"
    added = "added"


class MatchDecision(Base):
    """A grader confirmed, rejected or added a match of comment to bug."""

    __tablename__ = "match_decision"
    __table_args__ = (UniqueConstraint("decision_id", "bug_key", "comment_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("grade_decision.id", ondelete="CASCADE"), index=True
    )
    bug_key: Mapped[str] = mapped_column(String(100))
    comment_index: Mapped[int]
    verdict: Mapped[MatchVerdict] = mapped_column(Enum(MatchVerdict, native_enum=False, length=10))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    decision: Mapped[GradeDecision] = relationship(back_populates="match_decisions")


class FlagVerdict(enum.StrEnum):
    """A grader's word on a red flag."""

    confirmed = "confirmed"
    dismissed = "dismissed"


class FlagDecision(Base):
    """A grader confirmed or dismissed a red flag."""

    __tablename__ = "flag_decision"
    __table_args__ = (UniqueConstraint("decision_id", "kind", "comment_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("grade_decision.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    comment_index: Mapped[int]
    verdict: Mapped[FlagVerdict] = mapped_column(Enum(FlagVerdict, native_enum=False, length=10))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    decision: Mapped[GradeDecision] = relationship(back_populates="flag_decisions")


class DimensionOverride(Base):
    """A grader set a dimension's score by hand, with a written reason."""

    __tablename__ = "dimension_override"
    __table_args__ = (UniqueConstraint("decision_id", "dimension"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("grade_decision.id", ondelete="CASCADE"), index=True
    )
    dimension: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    decision: Mapped[GradeDecision] = relationship(back_populates="overrides")
