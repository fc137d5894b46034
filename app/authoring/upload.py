"""Assessments added or changed from the browser: staged as drafts, checked, then published.

A draft is a folder in the data directory laid out as the content folders are
(`assessments/<slug>/`, `seeded_bugs/<slug>.yaml`), so it is checked by exactly the code
`redline content check` runs. Publishing writes it into the content folders and syncs it, so
the files on disk stay the source of truth: `content sync` afterwards finds nothing new. A
publish is refused when the files on disk changed since the last sync, instead of silently
overwriting them.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assessments import service as assessment_service
from app.assessments.models import Assessment
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


@dataclass(frozen=True)
class Draft:
    """A staged assessment and what checking it found."""

    id: str
    slug: str
    root: Path
    created_at: datetime
    created_by: str
    base_version: int | None  # the newest version when the draft was made
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
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for tar_info in tar.getmembers():
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


def edit_draft(data_dir: Path, draft: Draft, *, assessment_yaml: str, key_yaml: str) -> Draft:
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
    return load_draft(data_dir, draft.id)


def draft_from_version(data_dir: Path, session: Session, slug: str, *, actor: User) -> Draft:
    """A draft holding the current files of a published assessment, to edit from the browser."""
    assessment = assessment_service.get_assessment(session, slug)
    version = assessment_service.current_version(session, assessment)

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
    return stage(
        data_dir,
        slug=slug,
        files=files,
        key=yaml.safe_dump(key_doc, sort_keys=False, allow_unicode=True).encode(),
        actor=actor,
        base_version=version.number,
    )


def discard(draft: Draft) -> None:
    """Delete a draft."""
    shutil.rmtree(draft.root, ignore_errors=True)


def _disk_entry(assessments_dir: Path, bugs_dir: Path, slug: str) -> CatalogEntry | None:
    if not (assessments_dir / slug).exists() and not (bugs_dir / f"{slug}.yaml").exists():
        return None
    return load_catalog(assessments_dir, bugs_dir).get(slug)


def publish(
    session: Session,
    draft: Draft,
    *,
    assessments_dir: Path,
    bugs_dir: Path,
    actor: User,
) -> assessment_service.SyncAction:
    """Write a checked draft into the content folders and sync it as a new version."""
    if draft.entry is None or draft.problems:
        raise UploadRefused(draft.problems)
    slug = draft.slug
    existing = session.scalars(select(Assessment).where(Assessment.slug == slug)).first()
    latest = assessment_service.latest_version(session, existing) if existing else None
    newest = latest.number if latest else None
    if newest != draft.base_version:
        made = f"version {draft.base_version}" if draft.base_version else "no version"
        raise PublishConflict(
            f"This draft was made when {slug} had {made}; it now has version {newest}. "
            "Start a new draft from the newest version so no change is lost."
        )
    on_disk_present = (assessments_dir / slug).exists() or (bugs_dir / f"{slug}.yaml").exists()
    if on_disk_present:
        disk = _disk_entry(assessments_dir, bugs_dir, slug)
        disk_digest = assessment_service.content_digest(disk) if disk else None
        if latest is None or disk_digest != latest.content_digest:
            where = f"{assessments_dir.name}/{slug}/ and {bugs_dir.name}/{slug}.yaml"
            state = "are not valid" if disk is None else "differ from the newest version"
            raise PublishConflict(
                f"{where} on disk {state} in the database (changed on disk and not synced). "
                "Run `redline content check` and `redline content sync`, or fix the files, "
                "then upload again; publishing now would overwrite them."
            )
    target = assessments_dir / slug
    staging = assessments_dir / f".{slug}.publishing"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(draft.root / "assessments" / slug, staging, symlinks=False)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    bugs_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(draft.root / "seeded_bugs" / f"{slug}.yaml", bugs_dir / f"{slug}.yaml")
    action = assessment_service.sync_entry(session, draft.entry)
    audit_service.record(
        session,
        actor,
        "assessment",
        slug,
        "assessment.published",
        None,
        {"version": action.version, "action": action.action, "draft": draft.id},
    )
    discard(draft)
    return action
