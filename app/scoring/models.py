"""Auto-scores produced by the grading engine, with the evidence behind them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.submissions.models import Submission


class AutoScore(Base):
    """One run of the grader over a submission; `result` is the score (FORMATS.md section 4)."""

    __tablename__ = "auto_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    grader_version: Mapped[str] = mapped_column(String(50))
    # The trained models that made it (`redline retrain` versions them); None for scores
    # made before models were versioned, or by a grader the service did not load.
    model_version: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[float] = mapped_column(Float)
    dimensions: Mapped[dict[str, float]] = mapped_column(JSON)
    needs_review: Mapped[bool]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    submission: Mapped[Submission] = relationship()
    matches: Mapped[list[ScoreMatch]] = relationship(
        back_populates="auto_score", cascade="all, delete-orphan"
    )
    flags: Mapped[list[ScoreFlag]] = relationship(
        back_populates="auto_score", cascade="all, delete-orphan"
    )


class ScoreMatch(Base):
    """A seeded bug the grader found in a comment (-1: the summary)."""

    __tablename__ = "score_match"

    id: Mapped[int] = mapped_column(primary_key=True)
    auto_score_id: Mapped[int] = mapped_column(
        ForeignKey("auto_score.id", ondelete="CASCADE"), index=True
    )
    bug_key: Mapped[str] = mapped_column(String(100))
    comment_index: Mapped[int]
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text, default="")

    auto_score: Mapped[AutoScore] = relationship(back_populates="matches")


class ScoreFlag(Base):
    """A red flag the grader raised, with the words that raised it."""

    __tablename__ = "score_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    auto_score_id: Mapped[int] = mapped_column(
        ForeignKey("auto_score.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    comment_index: Mapped[int]
    evidence: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)

    auto_score: Mapped[AutoScore] = relationship(back_populates="flags")
