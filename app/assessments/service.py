"""Assessment content: sync from files into versions, and turn versions into grading types."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.assessments.models import Assessment, AssessmentVersion, Decoy, SeededBug
from grading import AnswerKey, CatalogEntry, LineRange, Problem, Rubric, load_catalog
from grading import Assessment as GradingAssessment
from grading import Decoy as GradingDecoy
from grading import SeededBug as GradingBug
from grading import SnippetFile


class AssessmentNotFound(LookupError):
    """No assessment has that slug."""


@dataclass(frozen=True)
class SyncAction:
    """What `sync_content` did with one assessment."""

    slug: str
    action: str  # created | updated | unchanged
    version: int

    def __str__(self) -> str:
        verbs = {"created": "created, version", "updated": "changed, new version",
                 "unchanged": "unchanged, still version"}
        return f"{self.slug}: {verbs[self.action]} {self.version}"


def _ranges(ranges: tuple[LineRange, ...]) -> list[list[int]]:
    return [[r.start, r.end] for r in ranges]


def content_payload(entry: CatalogEntry) -> dict[str, Any]:
    """Everything that defines a version, as plain JSON-able data."""
    a, key = entry.assessment, entry.answer_key
    return {
        "slug": a.slug, "title": a.title, "language": a.language,
        "time_limit_minutes": a.time_limit_minutes, "brief": a.brief,
        "files": [{"name": f.name, "text": f.text} for f in a.files],
        "rubric": asdict(a.rubric),
        "bugs": [{"id": b.id, "file": b.file, "lines": _ranges(b.lines), "title": b.title,
                  "description": b.description, "rank": b.rank, "subtle": b.subtle,
                  "phrases": list(b.phrases)} for b in key.bugs],
        "decoys": [{"id": d.id, "file": d.file, "lines": _ranges(d.lines), "why": d.why}
                   for d in key.decoys],
    }


def content_digest(entry: CatalogEntry) -> str:
    """A digest that changes whenever any content of the assessment or its key changes."""
    canonical = json.dumps(content_payload(entry), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def latest_version(session: Session, assessment: Assessment) -> AssessmentVersion | None:
    """The newest version of an assessment."""
    return session.scalars(
        select(AssessmentVersion).where(AssessmentVersion.assessment_id == assessment.id)
        .order_by(AssessmentVersion.number.desc()).limit(1)
    ).first()


def sync_entry(session: Session, entry: CatalogEntry) -> SyncAction:
    """Store one assessment; a new version only when its content changed."""
    digest = content_digest(entry)
    a = entry.assessment
    row = session.scalars(select(Assessment).where(Assessment.slug == a.slug)).first()
    created = row is None
    if row is None:
        row = Assessment(slug=a.slug, title=a.title)
        session.add(row)
        session.flush()
    current = latest_version(session, row)
    if current is not None and current.content_digest == digest:
        return SyncAction(a.slug, "unchanged", current.number)
    row.title = a.title
    row.is_active = True
    payload = content_payload(entry)
    number = (current.number if current else 0) + 1
    version = AssessmentVersion(
        assessment=row, number=number, content_digest=digest, title=a.title,
        language=a.language, time_limit_minutes=a.time_limit_minutes, brief=a.brief,
        files=payload["files"], rubric=payload["rubric"],
        bugs=[SeededBug(key=b["id"], file=b["file"], lines=b["lines"], title=b["title"],
                        description=b["description"], rank=b["rank"], subtle=b["subtle"],
                        phrases=b["phrases"]) for b in payload["bugs"]],
        decoys=[Decoy(key=d["id"], file=d["file"], lines=d["lines"], why=d["why"])
                for d in payload["decoys"]],
    )
    session.add(version)
    session.flush()
    return SyncAction(a.slug, "created" if created else "updated", number)


def sync_content(session: Session, assessments_dir: Path,
                 bugs_dir: Path) -> tuple[list[SyncAction], tuple[Problem, ...]]:
    """Load every valid assessment from files; invalid ones are reported and left as they were."""
    catalog = load_catalog(assessments_dir, bugs_dir, display_root=assessments_dir.parent)
    actions = [sync_entry(session, entry) for entry in catalog.entries]
    return actions, catalog.problems


def list_assessments(session: Session, *, active_only: bool = True) -> list[Assessment]:
    """Assessments by slug."""
    query = select(Assessment).order_by(Assessment.slug)
    if active_only:
        query = query.where(Assessment.is_active.is_(True))
    return list(session.scalars(query))


def get_assessment(session: Session, slug: str) -> Assessment:
    """The assessment with `slug`, or AssessmentNotFound."""
    row = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    if row is None:
        raise AssessmentNotFound(slug)
    return row


def current_version(session: Session, assessment: Assessment) -> AssessmentVersion:
    """The version new candidates take."""
    version = latest_version(session, assessment)
    if version is None:
        raise AssessmentNotFound(assessment.slug)
    return version


def version_count(session: Session, assessment: Assessment) -> int:
    """How many versions an assessment has."""
    return session.scalar(
        select(func.count()).select_from(AssessmentVersion)
        .where(AssessmentVersion.assessment_id == assessment.id)
    ) or 0


def _line_ranges(raw: list[list[int]]) -> tuple[LineRange, ...]:
    return tuple(LineRange(start, end) for start, end in raw)


def to_grading(version: AssessmentVersion) -> tuple[GradingAssessment, AnswerKey]:
    """The grading engine's view of a stored version."""
    assessment = GradingAssessment(
        slug=version.assessment.slug, title=version.title, language=version.language,
        time_limit_minutes=version.time_limit_minutes, brief=version.brief,
        files=tuple(SnippetFile(name=f["name"], text=f["text"]) for f in version.files),
        rubric=Rubric(**version.rubric),
    )
    key = AnswerKey(
        assessment=version.assessment.slug,
        bugs=tuple(GradingBug(id=b.key, title=b.title, description=b.description, rank=b.rank,
                              file=b.file, lines=_line_ranges(b.lines), subtle=b.subtle,
                              phrases=tuple(b.phrases)) for b in version.bugs),
        decoys=tuple(GradingDecoy(id=d.key, why=d.why, file=d.file, lines=_line_ranges(d.lines))
                     for d in version.decoys),
    )
    return assessment, key
