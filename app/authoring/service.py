"""What an author sees of an assessment: its versions and their use, previews and the key.

A version is a `draft` until an author publishes it, `published` while it is the one new
candidates take, and `retired` once a newer version replaced it or an author withdrew it;
submissions always keep the version they were taken on.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.assessments.models import Assessment, AssessmentVersion, VersionStatus
from app.assessments.service import AssessmentNotFound
from app.invites.models import Invite
from app.reviews.models import DecisionStatus, GradeDecision
from app.scoring.models import AutoScore
from app.submissions.highlight import highlight_lines
from app.submissions.models import Submission, SubmissionStatus


class VersionNotFound(LookupError):
    """The assessment has no version with that number."""


@dataclass(frozen=True)
class VersionRow:
    """One version of an assessment with how it has been used."""

    number: int
    status: str  # draft | published | retired
    draft_id: str | None  # the browser draft it was checked from, while it is a draft
    created_at: object
    bugs: int
    decoys: int
    submissions: int
    median_score: float | None


@dataclass(frozen=True)
class AssessmentRow:
    """One assessment on the author's home page."""

    slug: str
    title: str
    status: str  # published | draft (nothing published yet) | retired
    current: int | None  # the published version
    draft: int | None  # the open draft version
    versions: list[VersionRow]
    invites: int
    submissions: int
    median_score: float | None


def assessment_status(versions: Sequence[AssessmentVersion]) -> str:
    """`published` while a version is, `draft` before any was, `retired` after."""
    statuses = {v.status for v in versions}
    if VersionStatus.published in statuses:
        return "published"
    if statuses <= {VersionStatus.draft}:
        return "draft"
    return "retired"


def submission_scores(session: Session, version_ids: Sequence[int]) -> dict[int, list[float]]:
    """Per version, each submitted review's score: the signed-off total if final, else auto.

    Only the newest auto-score of a submission counts, so a re-grade does not count twice.
    """
    if not version_ids:
        return {}
    newest = (
        select(AutoScore.submission_id, func.max(AutoScore.id).label("auto_id"))
        .group_by(AutoScore.submission_id)
        .subquery()
    )
    rows = session.execute(
        select(Submission.version_id, AutoScore.total, GradeDecision.status, GradeDecision.total)
        .join(newest, newest.c.submission_id == Submission.id, isouter=True)
        .join(AutoScore, AutoScore.id == newest.c.auto_id, isouter=True)
        .join(GradeDecision, GradeDecision.submission_id == Submission.id, isouter=True)
        .where(
            Submission.version_id.in_(version_ids),
            Submission.status != SubmissionStatus.in_progress,
        )
    ).all()
    scores: dict[int, list[float]] = defaultdict(list)
    for version_id, auto_total, status, final_total in rows:
        if status == DecisionStatus.final and final_total is not None:
            scores[version_id].append(float(final_total))
        elif auto_total is not None:
            scores[version_id].append(float(auto_total))
    return scores


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def list_assessment_rows(session: Session) -> list[AssessmentRow]:
    """Every assessment, published first, with versions, invites, submissions, median score."""
    assessments = list(
        session.scalars(select(Assessment).order_by(Assessment.is_active.desc(), Assessment.slug))
    )
    version_ids = [v.id for a in assessments for v in a.versions]
    scores = submission_scores(session, version_ids)
    counts = dict(
        session.execute(
            select(Submission.version_id, func.count())
            .where(
                Submission.version_id.in_(version_ids),
                Submission.status != SubmissionStatus.in_progress,
            )
            .group_by(Submission.version_id)
        ).all()
    )
    invites = dict(
        session.execute(
            select(Invite.assessment_id, func.count()).group_by(Invite.assessment_id)
        ).all()
    )
    rows = []
    for assessment in assessments:
        published = [v.number for v in assessment.versions if v.status == VersionStatus.published]
        versions = [
            VersionRow(
                number=v.number,
                status=v.status.value,
                draft_id=v.draft_id if v.status == VersionStatus.draft else None,
                created_at=v.created_at,
                bugs=len(v.bugs),
                decoys=len(v.decoys),
                submissions=int(counts.get(v.id, 0)),
                median_score=_median(scores.get(v.id, [])),
            )
            for v in reversed(assessment.versions)
        ]
        every_score = [s for v in assessment.versions for s in scores.get(v.id, [])]
        rows.append(
            AssessmentRow(
                slug=assessment.slug,
                title=assessment.title,
                status=assessment_status(assessment.versions),
                current=published[0] if published else None,
                draft=next((v.number for v in versions if v.status == "draft"), None),
                versions=versions,
                invites=int(invites.get(assessment.id, 0)),
                submissions=sum(v.submissions for v in versions),
                median_score=_median(every_score),
            )
        )
    return rows


def get_version(session: Session, slug: str, number: int) -> AssessmentVersion:
    """Version `number` of the assessment `slug`."""
    assessment = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    if assessment is None:
        raise AssessmentNotFound(slug)
    version = session.scalars(
        select(AssessmentVersion).where(
            AssessmentVersion.assessment_id == assessment.id, AssessmentVersion.number == number
        )
    ).first()
    if version is None:
        raise VersionNotFound(f"{slug} has no version {number}")
    return version


def newest_version_number(session: Session, slug: str) -> int | None:
    """The newest version of `slug` that is not a draft, or None if it has none."""
    return session.scalar(
        select(func.max(AssessmentVersion.number))
        .join(Assessment)
        .where(Assessment.slug == slug, AssessmentVersion.status != VersionStatus.draft)
    )


def status_of(version: AssessmentVersion) -> str:
    """`draft`, `published` or `retired` (see the module docstring)."""
    return version.status.value


@dataclass(frozen=True)
class KeyMark:
    """A seeded bug or a decoy as it is drawn on the lines it covers."""

    kind: str  # bug | decoy
    key: str
    label: str  # "#1 subtle" or "decoy"
    title: str
    detail: str
    starts_here: bool


@dataclass
class SnippetLine:
    """One highlighted line of a snippet file, with the key marks on it (overlay only)."""

    number: int
    html: Markup
    marks: list[KeyMark] = field(default_factory=list)


@dataclass
class SnippetFile:
    """One file of a version, line by line."""

    name: str
    anchor: str
    lines: list[SnippetLine]


def snippet_files(version: AssessmentVersion, *, with_key: bool) -> list[SnippetFile]:
    """The version's files as highlighted lines; `with_key` marks the bugs and decoys."""
    marks: dict[tuple[str, int], list[KeyMark]] = defaultdict(list)
    if with_key:
        for bug in version.bugs:
            label = f"#{bug.rank}" + (" subtle" if bug.subtle else "")
            for start, end in bug.lines:
                for number in range(start, end + 1):
                    marks[(bug.file or "", number)].append(
                        KeyMark("bug", bug.key, label, bug.title, bug.description, number == start)
                    )
        for decoy in version.decoys:
            for start, end in decoy.lines:
                for number in range(start, end + 1):
                    marks[(decoy.file or "", number)].append(
                        KeyMark("decoy", decoy.key, "decoy", decoy.key, decoy.why, number == start)
                    )
    files = []
    for index, raw in enumerate(version.files):
        name, text = str(raw["name"]), str(raw["text"])
        html = highlight_lines(name, text, version.language)
        files.append(
            SnippetFile(
                name=name,
                anchor=f"f{index}",
                lines=[
                    SnippetLine(number, line, marks.get((name, number), []))
                    for number, line in enumerate(html, start=1)
                ],
            )
        )
    return files


@dataclass(frozen=True)
class KeyEntry:
    """A bug or decoy of the answer key as listed beside the overlay."""

    kind: str
    key: str
    rank: int | None
    subtle: bool
    where: str
    title: str
    description: str
    phrases: list[str]


def _where(file: str | None, lines: list[list[int]]) -> str:
    spans = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in lines)
    if file and spans:
        return f"{file}:{spans}"
    return file or (f"lines {spans}" if spans else "anywhere")


def key_entries(version: AssessmentVersion) -> list[KeyEntry]:
    """The answer key in rank order, decoys last."""
    entries = [
        KeyEntry(
            "bug",
            b.key,
            b.rank,
            b.subtle,
            _where(b.file, b.lines),
            b.title,
            b.description,
            list(b.phrases),
        )
        for b in sorted(version.bugs, key=lambda b: (b.rank, b.key))
    ]
    entries += [
        KeyEntry("decoy", d.key, None, False, _where(d.file, d.lines), d.key, d.why, [])
        for d in sorted(version.decoys, key=lambda d: d.key)
    ]
    return entries
