"""Assessments added or changed from the browser: staged as drafts, checked, then published.

A browser draft is a folder in the data directory laid out as the content folders are
(`assessments/<slug>/`, `seeded_bugs/<slug>.yaml`), so it is checked by exactly the code
`redline content check` runs. Each time it checks clean, its content is stored as the
assessment's draft version (one per assessment), which can be previewed and tried like any
version but is never served to candidates. Publishing writes the folder into the content
folders and makes that draft version the published one, so the files on disk stay the source
of truth: `content sync` afterwards finds nothing new. A publish is refused when the files on
disk changed since the draft was made (byte for byte, so an edited comment counts) or were
never synced, instead of silently overwriting them.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.models import Assessment, AssessmentVersion, VersionStatus
from app.audit import service as audit_service
from app.db import utcnow
from app.security import new_token
from app.users.models import User
from grading import CatalogEntry, Problem, load_catalog

MAX_FILES = 50
MAX_TOTAL_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 1_000_000
DRAFT_ID_CHARS = 16
META = "draft.json"


class UploadRefused(ValueError):
    """The upload breaks a limit or a rule; `problems` say which and where."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class DraftNotFound(LookupError):
    """No draft has that id."""


class PublishConflict(Exception):
    """The content on disk changed since it was last synced; publishing would overwrite it."""


class DraftExists(Exception):
    """The assessment already has an open draft; `url` is where to continue it."""

    def __init__(self, slug: str, url: str) -> None:
        self.slug = slug
        self.url = url
        super().__init__(
            f"{slug} already has a draft ({url}): publish or discard it before starting another"
        )


# Stands for "made before drafts recorded the files on disk": nothing to compare against.
UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class Draft:
    """A staged assessment and what checking it found."""

    id: str
    slug: str
    root: Path
    created_at: datetime
    created_by: str
    base_version: int | None  # the newest version when the draft was made
    base_files_digest: str | None  # the raw files on disk then (None: there were none)
    problems: list[Problem]
    entry: CatalogEntry | None

    @property
    def assessment_yaml(self) -> str:
        """The text of the draft's assessment.yaml (for editing)."""
        return _read(self.root / "assessments" / self.slug / "assessment.yaml")

    @property
    def key_yaml(self) -> str:
        """The text of the draft's answer key (for editing)."""
        return _read(self.root / "seeded_bugs" / f"{self.slug}.yaml")

    @property
    def files(self) -> list[str]:
        """The files of the draft's assessment folder."""
        folder = self.root / "assessments" / self.slug
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def drafts_dir(data_dir: Path) -> Path:
    """Where drafts are kept."""
    return data_dir / "drafts"


@contextmanager
def slug_lock(data_dir: Path, slug: str) -> Iterator[None]:
    """One upload, edit, publish or discard of an assessment's draft at a time.

    Held by the caller until its transaction is committed, across this machine's worker
    processes: two authors uploading the same new slug at once would otherwise both find no
    draft and make two (or fail on the database's unique slug), and two publishing at once
    would both write the content folders.
    """
    folder = drafts_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Not a draft id (ids are alphanumeric), so list_drafts passes over the lock files.
    name = ".lock-" + hashlib.sha256(slug.encode()).hexdigest()[:24]
    with open(folder / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def files_digest(assessments_dir: Path, bugs_dir: Path, slug: str) -> str | None:
    """A digest of the raw bytes of an assessment's files on disk, or None when it has none.

    Bytes, not parsed content: a change only to a YAML comment or to spacing leaves the
    version's content as it was, but publishing over it would still lose it.
    """
    folder, key = assessments_dir / slug, bugs_dir / f"{slug}.yaml"
    named = [
        (f"assessments/{p.relative_to(folder).as_posix()}", p)
        for p in (sorted(folder.rglob("*")) if folder.is_dir() else [])
        if p.is_file()
    ]
    if key.is_file():
        named.append((f"seeded_bugs/{slug}.yaml", key))
    if not named:
        return None
    digest = hashlib.sha256()
    for name, path in named:
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _safe_member(name: str, where: str) -> PurePosixPath:
    """A relative path with no way out of the folder it is unpacked into."""
    cleaned = name.replace("\\", "/")
    path = PurePosixPath(cleaned)
    if cleaned.startswith("/") or (path.parts and ":" in path.parts[0]):
        raise UploadRefused([Problem(where, None, name[:200], "absolute paths are not allowed")])
    if ".." in path.parts:
        raise UploadRefused(
            [Problem(where, None, name[:200], "paths may not leave the folder (..)")]
        )
    return path


def _layout(path: PurePosixPath, where: str) -> tuple[str, str] | None:
    """(slug, kind) of a content path: kind is 'key' or the path inside the assessment folder."""
    parts = path.parts
    if len(parts) >= 3 and parts[0] == "assessments":
        return parts[1], "/".join(parts[2:])
    if len(parts) == 2 and parts[0] == "seeded_bugs" and parts[1].endswith(".yaml"):
        return parts[1][: -len(".yaml")], "key"
    if len(parts) == 1 or (len(parts) == 2 and parts[0] in ("assessments", "seeded_bugs")):
        return None  # a folder entry, or a stray top-level file (reported by the caller)
    raise UploadRefused(
        [
            Problem(
                where,
                None,
                str(path)[:200],
                "only assessments/<slug>/… and seeded_bugs/<slug>.yaml may be in the archive",
            )
        ]
    )


def read_archive(name: str, data: bytes) -> dict[str, bytes]:
    """The files of a .zip or .tar.gz as {content path: bytes}, within every limit."""
    members: dict[str, bytes] = {}
    total = 0

    def add(member: str, read: object) -> None:
        nonlocal total
        path = _safe_member(member, name)
        if len(members) >= MAX_FILES:
            raise UploadRefused([Problem(name, None, "", f"more than {MAX_FILES} files")])
        content = read() if callable(read) else b""
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise UploadRefused(
                [Problem(name, None, "", f"more than {MAX_TOTAL_BYTES:,} bytes unpacked")]
            )
        members[path.as_posix()] = content

    lower = name.lower()
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    # The high bits of external_attr carry the Unix mode; 0o12 is a link.
                    if (info.external_attr >> 28) == 0o12:
                        raise UploadRefused(
                            [
                                Problem(
                                    name,
                                    None,
                                    info.filename[:200],
                                    "symbolic links are not allowed",
                                )
                            ]
                        )
                    if info.file_size > MAX_TOTAL_BYTES:
                        raise UploadRefused(
                            [Problem(name, None, info.filename[:200], "file too large")]
                        )
                    add(info.filename, lambda info=info: archive.read(info))
        elif lower.endswith((".tar.gz", ".tgz")):
            declared = 0
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                # Member by member, not getmembers(): that would unpack the whole stream
                # first, and a small .tar.gz can hold millions of headers or gigabytes of
                # zeros. Each limit is met after reading at most one member past it.
                for entries, tar_info in enumerate(tar, start=1):
                    if entries > 2 * MAX_FILES:
                        raise UploadRefused(
                            [
                                Problem(
                                    name,
                                    None,
                                    "",
                                    f"more than {2 * MAX_FILES} entries (files and folders)",
                                )
                            ]
                        )
                    if tar_info.isdir():
                        continue
                    if not tar_info.isfile():
                        raise UploadRefused(
                            [
                                Problem(
                                    name,
                                    None,
                                    tar_info.name[:200],
                                    "only regular files are allowed (no links or devices)",
                                )
                            ]
                        )
                    if tar_info.size > MAX_TOTAL_BYTES:
                        raise UploadRefused(
                            [Problem(name, None, tar_info.name[:200], "file too large")]
                        )
                    declared += tar_info.size
                    if declared > MAX_TOTAL_BYTES:
                        raise UploadRefused(
                            [
                                Problem(
                                    name, None, "", f"more than {MAX_TOTAL_BYTES:,} bytes unpacked"
                                )
                            ]
                        )
                    extracted = tar.extractfile(tar_info)
                    add(tar_info.name, extracted.read if extracted else b"")
        else:
            raise UploadRefused(
                [Problem(name, None, "", "an archive must end in .zip, .tar.gz or .tgz")]
            )
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise UploadRefused([Problem(name, None, "", f"not a readable archive: {exc}")]) from exc
    return members


def files_from_archive(name: str, data: bytes) -> tuple[str, dict[str, bytes], bytes]:
    """(slug, assessment files by path inside the folder, answer key) from an archive."""
    slugs: set[str] = set()
    files: dict[str, bytes] = {}
    key: bytes | None = None
    for path, content in read_archive(name, data).items():
        layout = _layout(PurePosixPath(path), name)
        if layout is None:
            raise UploadRefused(
                [Problem(name, None, path[:200], "not under assessments/<slug>/ or seeded_bugs/")]
            )
        slug, kind = layout
        slugs.add(slug)
        if kind == "key":
            key = content
        else:
            files[kind] = content
    if len(slugs) != 1:
        found = ", ".join(sorted(slugs)) or "none"
        raise UploadRefused(
            [Problem(name, None, "", f"an archive holds exactly one assessment; found {found}")]
        )
    slug = slugs.pop()
    if key is None:
        raise UploadRefused([Problem(name, None, "", f"no answer key seeded_bugs/{slug}.yaml")])
    if not files:
        raise UploadRefused([Problem(name, None, "", f"no files under assessments/{slug}/")])
    return slug, files, key


def check_loose_files(uploads: Sequence[tuple[str, bytes]]) -> None:
    """Refuse too many or too large uploaded files, and names that are not plain file names."""
    if len(uploads) > MAX_FILES:
        raise UploadRefused([Problem("upload", None, "files", f"more than {MAX_FILES} files")])
    total = sum(len(data) for _, data in uploads)
    if total > MAX_TOTAL_BYTES:
        raise UploadRefused(
            [Problem("upload", None, "files", f"{total:,} bytes; at most {MAX_TOTAL_BYTES:,}")]
        )
    for name, _ in uploads:
        path = _safe_member(name, "upload")
        if len(path.parts) != 1 or name.startswith("."):
            raise UploadRefused(
                [Problem("upload", None, name[:200], "upload plain files, not folders")]
            )


def stage(
    data_dir: Path,
    *,
    slug: str,
    files: dict[str, bytes],
    key: bytes,
    actor: User,
    base_version: int | None,
    base_files_digest: str | None,
    draft_id: str | None = None,
) -> Draft:
    """Write a draft (a new one, or over `draft_id`) and check it as `content check` would."""
    draft_id = draft_id or new_token()[:DRAFT_ID_CHARS].replace("_", "x").replace("-", "y")
    root = drafts_dir(data_dir) / draft_id
    folder = root / "assessments" / slug
    if root.exists():
        shutil.rmtree(root)
    folder.mkdir(parents=True)
    (root / "seeded_bugs").mkdir()
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "seeded_bugs" / f"{slug}.yaml").write_bytes(key)
    (root / META).write_text(
        json.dumps(
            {
                "slug": slug,
                "created_at": utcnow().isoformat(),
                "created_by": actor.email,
                "base_version": base_version,
                "base_files_digest": base_files_digest,
            }
        )
    )
    return load_draft(data_dir, draft_id)


def load_draft(data_dir: Path, draft_id: str) -> Draft:
    """A staged draft, checked afresh."""
    if not draft_id.isalnum() or len(draft_id) != DRAFT_ID_CHARS:
        raise DraftNotFound(draft_id)
    root = drafts_dir(data_dir) / draft_id
    try:
        meta = json.loads((root / META).read_text())
    except (OSError, ValueError) as exc:
        raise DraftNotFound(draft_id) from exc
    catalog = load_catalog(root / "assessments", root / "seeded_bugs", display_root=root)
    slug = str(meta["slug"])
    return Draft(
        id=draft_id,
        slug=slug,
        root=root,
        created_at=datetime.fromisoformat(meta["created_at"]),
        created_by=str(meta.get("created_by", "")),
        base_version=meta.get("base_version"),
        base_files_digest=meta.get("base_files_digest", UNRECORDED),
        problems=list(catalog.problems),
        entry=catalog.get(slug),
    )


def list_drafts(data_dir: Path) -> list[Draft]:
    """Every draft not yet published or discarded, newest first."""
    folder = drafts_dir(data_dir)
    if not folder.is_dir():
        return []
    drafts = []
    for path in folder.iterdir():
        try:
            drafts.append(load_draft(data_dir, path.name))
        except DraftNotFound:
            continue
    return sorted(drafts, key=lambda d: d.created_at, reverse=True)


def edit_draft(
    session: Session, data_dir: Path, draft: Draft, *, assessment_yaml: str, key_yaml: str
) -> Draft:
    """Replace the draft's assessment.yaml and answer key with edited text, and check again."""
    for label, text in (("assessment.yaml", assessment_yaml), ("answer key", key_yaml)):
        if len(text) > MAX_TEXT_CHARS:
            raise UploadRefused(
                [Problem(label, None, "", f"more than {MAX_TEXT_CHARS:,} characters")]
            )
    folder = draft.root / "assessments" / draft.slug
    (folder / "assessment.yaml").write_text(assessment_yaml.replace("\r\n", "\n"), encoding="utf-8")
    (draft.root / "seeded_bugs" / f"{draft.slug}.yaml").write_text(
        key_yaml.replace("\r\n", "\n"), encoding="utf-8"
    )
    checked = load_draft(data_dir, draft.id)
    save_draft_version(session, checked)
    return checked


def live_draft_id(data_dir: Path, version: AssessmentVersion) -> str | None:
    """The browser draft a version was stored from, while its folder is in the data directory."""
    if version.draft_id and (drafts_dir(data_dir) / str(version.draft_id)).is_dir():
        return str(version.draft_id)
    return None


def draft_folder_lost(data_dir: Path, version: AssessmentVersion) -> bool:
    """A version stored from a browser draft whose folder is no longer in the data directory
    (removed by hand, or a data directory restored without it): it can only be discarded."""
    return bool(version.draft_id) and live_draft_id(data_dir, version) is None


def draft_url(data_dir: Path, version: AssessmentVersion) -> str:
    """Where an open draft version is continued: its browser draft, else its own page."""
    draft_id = live_draft_id(data_dir, version)
    if draft_id:
        return f"/staff/assessments/drafts/{draft_id}"
    return f"/staff/assessments/{version.assessment.slug}/versions/{version.number}"


def check_no_open_draft(session: Session, data_dir: Path, slug: str) -> None:
    """Raise DraftExists when `slug` has a draft version or a browser draft being fixed."""
    assessment = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    version = assessment_service.draft_version(session, assessment) if assessment else None
    if version is not None:
        raise DraftExists(slug, draft_url(data_dir, version))
    for draft in list_drafts(data_dir):
        if draft.slug == slug:
            raise DraftExists(slug, f"/staff/assessments/drafts/{draft.id}")


def create_draft(
    session: Session,
    data_dir: Path,
    *,
    slug: str,
    files: dict[str, bytes],
    key: bytes,
    actor: User,
    assessments_dir: Path,
    bugs_dir: Path,
) -> Draft:
    """Stage uploaded files as the assessment's one open draft, and store it if it checks clean."""
    check_no_open_draft(session, data_dir, slug)
    draft = stage(
        data_dir,
        slug=slug,
        files=files,
        key=key,
        actor=actor,
        base_version=_newest_synced(session, slug),
        base_files_digest=files_digest(assessments_dir, bugs_dir, slug),
    )
    save_draft_version(session, draft)
    return draft


def _newest_synced(session: Session, slug: str) -> int | None:
    assessment = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    latest = assessment_service.latest_version(session, assessment) if assessment else None
    return latest.number if latest else None


def save_draft_version(session: Session, draft: Draft) -> AssessmentVersion | None:
    """Store a draft that checks clean as its assessment's draft version (new or updated).

    A draft with problems leaves its draft version, if it has one, at its last clean check.
    """
    version = draft_version_of(session, draft)
    if draft.entry is None or draft.problems:
        return version
    if version is not None:
        if version.content_digest != assessment_service.content_digest(draft.entry):
            assessment_service.fill_version(version, draft.entry)
            session.flush()
        return version
    assessment = session.scalars(select(Assessment).where(Assessment.slug == draft.slug)).first()
    if assessment is None:
        assessment = Assessment(
            slug=draft.slug, title=draft.entry.assessment.title, is_active=False
        )
        session.add(assessment)
        session.flush()
    return assessment_service.new_draft_version(session, assessment, draft.entry, draft_id=draft.id)


def draft_from_version(
    data_dir: Path,
    session: Session,
    slug: str,
    *,
    actor: User,
    assessments_dir: Path,
    bugs_dir: Path,
) -> Draft:
    """A draft holding the newest version's files, to edit from the browser.

    When the files on disk are that version, they are copied as they are (comments and
    layout kept); otherwise the version is written out from the database.
    """
    check_no_open_draft(session, data_dir, slug)
    assessment = assessment_service.get_assessment(session, slug)
    version = assessment_service.latest_version(session, assessment)
    if version is None:
        raise assessment_service.AssessmentNotFound(slug)
    disk = _disk_entry(assessments_dir, bugs_dir, slug)
    if disk is not None and assessment_service.content_digest(disk) == version.content_digest:
        folder = assessments_dir / slug
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        key = (bugs_dir / f"{slug}.yaml").read_bytes()
    else:
        files, key = _files_of(version)
    draft = stage(
        data_dir,
        slug=slug,
        files=files,
        key=key,
        actor=actor,
        base_version=version.number,
        base_files_digest=files_digest(assessments_dir, bugs_dir, slug),
    )
    save_draft_version(session, draft)
    return draft


def _files_of(version: AssessmentVersion) -> tuple[dict[str, bytes], bytes]:
    """A stored version written out as content files: the folder's files and the answer key."""
    slug = version.assessment.slug
    payload = {
        "slug": slug,
        "title": version.title,
        "language": version.language,
        "time_limit_minutes": version.time_limit_minutes,
        "brief": version.brief,
        "files": [f["name"] for f in version.files],
        "rubric": version.rubric,
    }
    files = {str(f["name"]): str(f["text"]).encode() for f in version.files}
    files["assessment.yaml"] = yaml.safe_dump(payload, sort_keys=False, allow_unicode=True).encode()
    key_doc = {
        "assessment": slug,
        "bugs": [
            {
                "id": b.key,
                "file": b.file,
                "lines": b.lines[0] if len(b.lines) == 1 else b.lines,
                "title": b.title,
                "description": b.description,
                "rank": b.rank,
                "subtle": b.subtle,
                "phrases": list(b.phrases),
            }
            for b in version.bugs
        ],
        "decoys": [
            {
                "id": d.key,
                "file": d.file,
                "lines": d.lines[0] if len(d.lines) == 1 else d.lines,
                "why": d.why,
            }
            for d in version.decoys
        ],
    }
    return files, yaml.safe_dump(key_doc, sort_keys=False, allow_unicode=True).encode()


def draft_version_of(session: Session, draft: Draft) -> AssessmentVersion | None:
    """The draft version stored from a browser draft, if it ever checked clean."""
    return session.scalars(
        select(AssessmentVersion).where(
            AssessmentVersion.draft_id == draft.id,
            AssessmentVersion.status == VersionStatus.draft,
        )
    ).first()


def discard(session: Session, draft: Draft) -> None:
    """Delete a browser draft and the draft version stored from it."""
    version = draft_version_of(session, draft)
    if version is not None:
        discard_version(session, version)
    shutil.rmtree(draft.root, ignore_errors=True)


def discard_version(session: Session, version: AssessmentVersion) -> None:
    """Delete a draft version (published and retired versions are kept for good)."""
    if version.status != VersionStatus.draft:
        raise assessment_service.VersionStateError(
            f"Version {version.number} of {version.assessment.slug} is {version.status}; "
            "only a draft can be discarded."
        )
    assessment = version.assessment
    session.delete(version)
    session.flush()
    session.refresh(assessment)
    if not assessment.versions:
        # It was only ever this draft: nothing else refers to the assessment.
        session.delete(assessment)
        session.flush()


def _disk_entry(assessments_dir: Path, bugs_dir: Path, slug: str) -> CatalogEntry | None:
    if not (assessments_dir / slug).exists() and not (bugs_dir / f"{slug}.yaml").exists():
        return None
    return load_catalog(assessments_dir, bugs_dir).get(slug)


def _check_disk(session: Session, draft: Draft, *, assessments_dir: Path, bugs_dir: Path) -> None:
    """Raise PublishConflict when publishing would overwrite files that changed on disk."""
    slug = draft.slug
    existing = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    latest = assessment_service.latest_version(session, existing) if existing else None
    newest = latest.number if latest else None
    if newest != draft.base_version:
        made = f"version {draft.base_version}" if draft.base_version else "no version"
        raise PublishConflict(
            f"This draft was made when {slug} had {made}; it now has version {newest}, "
            "which publishing it would undo. Copy out what you changed, discard this draft, "
            f"then Edit as a draft to start from version {newest} and make the change again."
        )
    where = f"{assessments_dir.name}/{slug}/ and {bugs_dir.name}/{slug}.yaml"
    on_disk_present = (assessments_dir / slug).exists() or (bugs_dir / f"{slug}.yaml").exists()
    if on_disk_present:
        disk = _disk_entry(assessments_dir, bugs_dir, slug)
        disk_digest = assessment_service.content_digest(disk) if disk else None
        if latest is None or disk_digest != latest.content_digest:
            state = "are not valid" if disk is None else "differ from the newest version"
            raise PublishConflict(
                f"{where} on disk {state} in the database (changed on disk and not synced). "
                "Run `redline content check` and `redline content sync`, or fix the files, "
                "then upload again; publishing now would overwrite them."
            )
    if draft.base_files_digest != UNRECORDED and draft.base_files_digest != files_digest(
        assessments_dir, bugs_dir, slug
    ):
        raise PublishConflict(
            f"{where} changed on disk since this draft was made (compared byte for byte, so "
            "an edited comment or blank line counts). Publishing would overwrite that edit: "
            "discard this draft and start a new one from the files as they are now."
        )


def publish(
    session: Session,
    draft: Draft,
    *,
    assessments_dir: Path,
    bugs_dir: Path,
    actor: User,
) -> AssessmentVersion:
    """Write a checked draft into the content folders and publish its draft version."""
    if draft.entry is None or draft.problems:
        raise UploadRefused(draft.problems)
    _check_disk(session, draft, assessments_dir=assessments_dir, bugs_dir=bugs_dir)
    version = save_draft_version(session, draft)
    if version is None:
        raise UploadRefused(draft.problems)
    slug = draft.slug
    target = assessments_dir / slug
    staging = assessments_dir / f".{slug}.publishing"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(draft.root / "assessments" / slug, staging, symlinks=False)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    bugs_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(draft.root / "seeded_bugs" / f"{slug}.yaml", bugs_dir / f"{slug}.yaml")
    latest = assessment_service.latest_version(session, version.assessment)
    if latest is not None and latest.content_digest == version.content_digest:
        # Nothing changed: no new version, and the draft's number is free again.
        discard_version(session, version)
        version = latest
    _publish_recorded(session, version, actor, draft=draft.id)
    shutil.rmtree(draft.root, ignore_errors=True)
    return version


def publish_synced_draft(
    session: Session,
    version: AssessmentVersion,
    *,
    assessments_dir: Path,
    bugs_dir: Path,
    actor: User,
) -> AssessmentVersion | None:
    """Publish a draft version synced from the content folders (nothing to write to disk).

    Refused when the files no longer hold the draft's content: publishing it would make the
    database and the files disagree.
    """
    name = f"Version {version.number} of {version.assessment.slug}"
    if version.status == VersionStatus.published:
        raise assessment_service.VersionStateError(
            f"{name} is already published: it is the version new candidates take."
        )
    if version.status == VersionStatus.retired:
        raise assessment_service.VersionStateError(
            f"{name} is retired, and a retired version is not published again (its "
            "submissions keep it as it was). To serve its content again, make a draft of it "
            "(Edit as a draft on the assessments page, or upload its files) and publish that."
        )
    if version.draft_id:
        raise assessment_service.VersionStateError(
            f"{name} is a draft made in the browser: publish it from its draft page."
        )
    slug = version.assessment.slug
    disk = _disk_entry(assessments_dir, bugs_dir, slug)
    if disk is None or assessment_service.content_digest(disk) != version.content_digest:
        raise PublishConflict(
            f"{assessments_dir.name}/{slug}/ and {bugs_dir.name}/{slug}.yaml on disk no longer "
            f"hold draft version {version.number}. Run `redline content sync --draft` to draft "
            "them again, or discard this draft."
        )
    return _publish_recorded(session, version, actor)


def _publish_recorded(
    session: Session, version: AssessmentVersion, actor: User, **details: object
) -> AssessmentVersion | None:
    """Publish a version with its audit event; returns the version it replaced, if any."""
    replaced = assessment_service.publish_version(session, version)
    audit_service.record(
        session,
        actor,
        "assessment",
        version.assessment.slug,
        "assessment.published",
        None,
        {"version": version.number, "replaced": replaced.number if replaced else None, **details},
    )
    return replaced
