"""Assessments as loaded from content files, versioned by their content digest."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow


class VersionStatus(enum.StrEnum):
    """Where a version is in its life: only a published version is ever served to candidates."""

    draft = "draft"  # checked, previewable, not yet taken by anyone
    published = "published"  # the one version new candidates take (at most one per assessment)
    retired = "retired"  # replaced or withdrawn; its submissions keep it


class Assessment(Base):
    """An assessment by slug; its content lives in versions.

    `is_active` says whether it has a published version (and so can be sent to candidates).
    """

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[AssessmentVersion]] = relationship(
        back_populates="assessment", order_by="AssessmentVersion.number",
        cascade="all, delete-orphan",
    )


class AssessmentVersion(Base):
    """One snapshot of an assessment and its answer key.

    Changing any content file makes a new version; a submission keeps the version it was
    taken on, so its grade can always be reproduced. A draft's content may still change until
    it is published; from then on the version is immutable.
    """

    __tablename__ = "assessment_version"
    __table_args__ = (UniqueConstraint("assessment_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"),
                                               index=True)
    number: Mapped[int]
    content_digest: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(50))
    time_limit_minutes: Mapped[int]
    brief: Mapped[str] = mapped_column(Text)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rubric: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=20), default=VersionStatus.published
    )
    # The browser draft (a folder in the data directory) this draft version was checked from;
    # None for versions synced from the content folders.
    draft_id: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="versions")
    bugs: Mapped[list[SeededBug]] = relationship(
        back_populates="version", order_by="SeededBug.rank", cascade="all, delete-orphan"
    )
    decoys: Mapped[list[Decoy]] = relationship(
        back_populates="version", order_by="Decoy.key", cascade="all, delete-orphan"
    )


class SeededBug(Base):
    """A known defect of one assessment version (the answer key; never shown to candidates)."""

    __tablename__ = "seeded_bug"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("assessment_version.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100))
    file: Mapped[str | None] = mapped_column(String(300))
    lines: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    rank: Mapped[int]
    subtle: Mapped[bool] = mapped_column(default=False)
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)

    version: Mapped[AssessmentVersion] = relationship(back_populates="bugs")


class Decoy(Base):
    """Code of one assessment version that looks wrong but is correct on purpose."""

    __tablename__ = "decoy"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("assessment_version.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100))
    file: Mapped[str | None] = mapped_column(String(300))
    lines: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    why: Mapped[str] = mapped_column(Text)

    version: Mapped[AssessmentVersion] = relationship(back_populates="decoys")
