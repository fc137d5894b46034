"""Assessment content: sync from files into versions, and turn versions into grading types."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from app.assessments.models import (
    Assessment,
    AssessmentVersion,
    Decoy,
    SeededBug,
    VersionStatus,
)
from grading import AnswerKey, CatalogEntry, LineRange, Problem, Rubric, load_catalog
from grading import Assessment as GradingAssessment
from grading import Decoy as GradingDecoy
from grading import SeededBug as GradingBug
from grading import SnippetFile


class AssessmentNotFound(LookupError):
    """No assessment has that slug."""


class NotPublished(LookupError):
    """The assessment has no published version, so no candidate can take it."""


class VersionStateError(ValueError):
    """A version cannot make that move from the status it is in."""


@dataclass(frozen=True)
class SyncAction:
    """What `sync_content` did with one assessment."""

    slug: str
    action: str  # created | updated | unchanged | drafted | unchanged draft | published
    version: int
    note: str = ""

    def __str__(self) -> str:
        verbs = {
            "created": "created, version",
            "updated": "changed, new version",
            "unchanged": "unchanged, still version",
            "drafted": "new draft version",
            "unchanged draft": "unchanged, still draft version",
            "published": "published draft version",
        }
        return f"{self.slug}: {verbs[self.action]} {self.version}{self.note}"


def _ranges(ranges: tuple[LineRange, ...]) -> list[list[int]]:
    return [[r.start, r.end] for r in ranges]


def content_payload(entry: CatalogEntry) -> dict[str, Any]:
    """Everything that defines a version, as plain JSON-able data."""
    a, key = entry.assessment, entry.answer_key
    return {
        "slug": a.slug,
        "title": a.title,
        "language": a.language,
        "time_limit_minutes": a.time_limit_minutes,
        "brief": a.brief,
        "files": [{"name": f.name, "text": f.text} for f in a.files],
        "rubric": asdict(a.rubric),
        "bugs": [
            {
                "id": b.id,
                "file": b.file,
                "lines": _ranges(b.lines),
                "title": b.title,
                "description": b.description,
                "rank": b.rank,
                "subtle": b.subtle,
                "phrases": list(b.phrases),
            }
            for b in key.bugs
        ],
        "decoys": [
            {"id": d.id, "file": d.file, "lines": _ranges(d.lines), "why": d.why}
            for d in key.decoys
        ],
    }


def content_digest(entry: CatalogEntry) -> str:
    """A digest that changes whenever any content of the assessment or its key changes."""
    canonical = json.dumps(content_payload(entry), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def latest_version(session: Session, assessment: Assessment) -> AssessmentVersion | None:
    """The newest version that is not a draft: what the content folders were last synced as."""
    return session.scalars(
        select(AssessmentVersion)
        .where(
            AssessmentVersion.assessment_id == assessment.id,
            AssessmentVersion.status != VersionStatus.draft,
        )
        .order_by(AssessmentVersion.number.desc())
        .limit(1)
    ).first()


def published_version(session: Session, assessment: Assessment) -> AssessmentVersion | None:
    """The version new candidates take, if the assessment has one."""
    return session.scalars(
        select(AssessmentVersion).where(
            AssessmentVersion.assessment_id == assessment.id,
            AssessmentVersion.status == VersionStatus.published,
        )
    ).first()


def draft_version(session: Session, assessment: Assessment) -> AssessmentVersion | None:
    """The assessment's open draft version, if any (there is at most one)."""
    return session.scalars(
        select(AssessmentVersion).where(
            AssessmentVersion.assessment_id == assessment.id,
            AssessmentVersion.status == VersionStatus.draft,
        )
    ).first()


def next_number(session: Session, assessment: Assessment) -> int:
    """The number a new version of the assessment gets (drafts count: numbers are never reused
    while a row holds them)."""
    newest = session.scalar(
        select(func.max(AssessmentVersion.number)).where(
            AssessmentVersion.assessment_id == assessment.id
        )
    )
    return (newest or 0) + 1


def fill_version(version: AssessmentVersion, entry: CatalogEntry) -> None:
    """Set a version's content, answer key included, from a checked catalog entry."""
    a = entry.assessment
    payload = content_payload(entry)
    session = object_session(version)
    if session is not None and (version.bugs or version.decoys):
        # Old rows go first: the new ones may reuse their keys, which are unique per version.
        version.bugs = []
        version.decoys = []
        session.flush()
    version.content_digest = content_digest(entry)
    version.title = a.title
    version.language = a.language
    version.time_limit_minutes = a.time_limit_minutes
    version.brief = a.brief
    version.files = payload["files"]
    version.rubric = payload["rubric"]
    version.bugs = [
        SeededBug(
            key=b["id"],
            file=b["file"],
            lines=b["lines"],
            title=b["title"],
            description=b["description"],
            rank=b["rank"],
            subtle=b["subtle"],
            phrases=b["phrases"],
        )
        for b in payload["bugs"]
    ]
    version.decoys = [
        Decoy(key=d["id"], file=d["file"], lines=d["lines"], why=d["why"])
        for d in payload["decoys"]
    ]


def publish_version(session: Session, version: AssessmentVersion) -> AssessmentVersion | None:
    """Make `version` the one new candidates take; returns the version it replaced, retired."""
    previous = published_version(session, version.assessment)
    if previous is not None and previous.id != version.id:
        previous.status = VersionStatus.retired
        # Flushed first so that two rows are never published at once, even for a moment.
        session.flush()
    version.status = VersionStatus.published
    version.draft_id = None
    version.assessment.is_active = True
    version.assessment.title = version.title
    session.flush()
    return previous if previous is not None and previous.id != version.id else None


def retire_version(session: Session, version: AssessmentVersion) -> None:
    """Withdraw a published version: no new candidate can start the assessment until another
    version is published; submissions already started keep it."""
    if version.status != VersionStatus.published:
        raise VersionStateError(
            f"Version {version.number} of {version.assessment.slug} is {version.status}; "
            "only the published version can be retired."
        )
    version.status = VersionStatus.retired
    version.assessment.is_active = False
    session.flush()


def new_draft_version(
    session: Session, assessment: Assessment, entry: CatalogEntry, *, draft_id: str | None
) -> AssessmentVersion:
    """A draft version of `assessment` holding `entry`'s content."""
    version = AssessmentVersion(
        assessment=assessment,
        number=next_number(session, assessment),
        status=VersionStatus.draft,
        draft_id=draft_id,
    )
    fill_version(version, entry)
    session.add(version)
    session.flush()
    return version


def sync_entry(session: Session, entry: CatalogEntry, *, as_draft: bool = False) -> SyncAction:
    """Store one assessment from the content folders; a new version only when its content
    changed since the last sync or publish.

    A changed assessment is published at once, or kept as a draft version with `as_draft` to
    preview and publish from the browser. A draft synced earlier with the same content is
    published rather than copied; one with other content is replaced (the folders are its
    source). A draft made in the browser is never touched: the author publishes it from
    there, and publishing refuses if these files changed since it was made.
    """
    digest = content_digest(entry)
    a = entry.assessment
    row = session.scalars(select(Assessment).where(Assessment.slug == a.slug)).first()
    created = row is None
    if row is None:
        row = Assessment(slug=a.slug, title=a.title, is_active=False)
        session.add(row)
        session.flush()
    current = latest_version(session, row)
    draft = draft_version(session, row)
    browser_draft = draft is not None and draft.draft_id is not None
    note = (
        f"; draft version {draft.number} made in the browser is left as it is"
        if browser_draft and draft is not None
        else ""
    )
    if current is not None and current.content_digest == digest:
        if draft is not None and not browser_draft:
            # The files went back to what is published: the draft synced from them is moot.
            note = f"; draft version {draft.number} no longer matches the files and is removed"
            session.delete(draft)
            session.flush()
        return SyncAction(a.slug, "unchanged", current.number, note)
    if draft is not None and not browser_draft:
        if draft.content_digest == digest:
            if as_draft:
                return SyncAction(a.slug, "unchanged draft", draft.number)
            publish_version(session, draft)
            return SyncAction(a.slug, "published", draft.number)
        session.delete(draft)
        session.flush()
    if as_draft:
        if browser_draft and draft is not None:
            raise VersionStateError(
                f"{a.slug} has a draft made in the browser (version {draft.number}); publish "
                "or discard it there first"
            )
        version = new_draft_version(session, row, entry, draft_id=None)
        return SyncAction(a.slug, "drafted", version.number)
    version = AssessmentVersion(
        assessment=row, number=next_number(session, row), status=VersionStatus.draft
    )
    fill_version(version, entry)
    session.add(version)
    session.flush()
    publish_version(session, version)
    return SyncAction(a.slug, "created" if created else "updated", version.number, note)


def sync_content(
    session: Session, assessments_dir: Path, bugs_dir: Path, *, as_draft: bool = False
) -> tuple[list[SyncAction], tuple[Problem, ...]]:
    """Load every valid assessment from files; invalid ones are reported and left as they were."""
    catalog = load_catalog(assessments_dir, bugs_dir, display_root=assessments_dir.parent)
    actions: list[SyncAction] = []
    problems = list(catalog.problems)
    for entry in catalog.entries:
        try:
            with session.begin_nested():
                actions.append(sync_entry(session, entry, as_draft=as_draft))
        except VersionStateError as exc:
            problems.append(
                Problem(f"{bugs_dir.name}/{entry.assessment.slug}.yaml", None, "", str(exc))
            )
    return actions, tuple(problems)


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
    """The version new candidates take, or NotPublished."""
    version = published_version(session, assessment)
    if version is None:
        raise NotPublished(assessment.slug)
    return version


def version_count(session: Session, assessment: Assessment) -> int:
    """How many versions an assessment has."""
    return (
        session.scalar(
            select(func.count())
            .select_from(AssessmentVersion)
            .where(AssessmentVersion.assessment_id == assessment.id)
        )
        or 0
    )


def _line_ranges(raw: list[list[int]]) -> tuple[LineRange, ...]:
    return tuple(LineRange(start, end) for start, end in raw)


def to_grading(version: AssessmentVersion) -> tuple[GradingAssessment, AnswerKey]:
    """The grading engine's view of a stored version."""
    assessment = GradingAssessment(
        slug=version.assessment.slug,
        title=version.title,
        language=version.language,
        time_limit_minutes=version.time_limit_minutes,
        brief=version.brief,
        files=tuple(SnippetFile(name=f["name"], text=f["text"]) for f in version.files),
        rubric=Rubric(**version.rubric),
    )
    key = AnswerKey(
        assessment=version.assessment.slug,
        bugs=tuple(
            GradingBug(
                id=b.key,
                title=b.title,
                description=b.description,
                rank=b.rank,
                file=b.file,
                lines=_line_ranges(b.lines),
                subtle=b.subtle,
                phrases=tuple(b.phrases),
            )
            for b in version.bugs
        ),
        decoys=tuple(
            GradingDecoy(id=d.key, why=d.why, file=d.file, lines=_line_ranges(d.lines))
            for d in version.decoys
        ),
    )
    return assessment, key
