"""Author pages: the assessments, each version's preview, answer-key overlay and grader trial."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.assessments import service as assessment_service
from app.assessments.models import AssessmentVersion, VersionStatus
from app.audit import service as audit_service
from app.auth import AuthorUser, Csrf
from app.authoring import analysis, charts, exports, rescore, service, trial, upload
from app.db import MAX_INT, SessionDep
from app.errors import FORM_FIELD_LIMIT
from app.settings import get_settings
from app.templating import templates
from grading import SEVERITIES, Problem

router = APIRouter(include_in_schema=False)

VERSION_PATH = "/staff/assessments/{slug}/versions/{number}"

# Out of range, a version number is refused (422) before it reaches a query the database
# would fail on (PostgreSQL's integer column, SQLite's 64 bits).
VersionNumber = Annotated[int, Path(ge=1, le=MAX_INT, description="A version number.")]


def _version(slug: str, number: VersionNumber, session: SessionDep) -> AssessmentVersion:
    try:
        return service.get_version(session, slug, number)
    except service.VersionNotFound as exc:
        raise HTTPException(404, f"{exc}.") from exc


Version = Annotated[AssessmentVersion, Depends(_version)]


@router.get("/staff/assessments", response_class=HTMLResponse)
def assessments_page(request: Request, session: SessionDep, user: AuthorUser) -> Response:
    """The author's home: every assessment with its versions and how they are used."""
    drafts = upload.list_drafts(get_settings().data_dir)
    present = {d.id for d in drafts}
    # A version whose browser draft folder is gone is offered as a plain draft (publish is
    # then refused with the reason, discard works) rather than as a link to a missing page.
    rows = [
        dataclasses.replace(
            row,
            versions=[
                v
                if not v.draft_id or v.draft_id in present
                else dataclasses.replace(v, draft_id=None)
                for v in row.versions
            ],
        )
        for row in service.list_assessment_rows(session)
    ]
    stored = {v.draft_id for a in rows for v in a.versions if v.draft_id}
    return templates.TemplateResponse(
        request,
        "authoring/home.html",
        {
            "rows": rows,
            "problems": {d.id: len(d.problems) for d in drafts},
            # Drafts still being fixed have no version yet; the others are listed as versions.
            "unchecked": [d for d in drafts if d.id not in stored],
        },
    )


@router.get(VERSION_PATH, response_class=HTMLResponse)
def version_page(request: Request, user: AuthorUser, version: Version) -> Response:
    """One version: the answer-key overlay on the snippet, and links to its other views."""
    return _key_page(request, version)


def _key_page(
    request: Request, version: AssessmentVersion, error: str | None = None, code: int = 200
) -> Response:
    """The version's page, with why an action on it was refused when one was."""
    return templates.TemplateResponse(
        request,
        "authoring/key.html",
        {
            "version": version,
            "status": service.status_of(version),
            "files": service.snippet_files(version, with_key=True),
            "entries": service.key_entries(version),
            "error": error,
            # Linked only while its folder exists; a lost one is discarded from this page.
            "draft_id": upload.live_draft_id(get_settings().data_dir, version),
        },
        status_code=code,
    )


@router.get(VERSION_PATH + "/preview", response_class=HTMLResponse)
def preview_page(request: Request, user: AuthorUser, version: Version) -> Response:
    """What a candidate sees of this version, and nothing of its answer key."""
    return templates.TemplateResponse(
        request,
        "authoring/preview.html",
        {
            "version": version,
            "status": service.status_of(version),
            "files": service.snippet_files(version, with_key=False),
        },
    )


def _trial_page(
    request: Request,
    version: AssessmentVersion,
    *,
    graded: list[trial.GradedReview] | None = None,
    problems: list[Problem] | None = None,
    text: str = "",
    rows: list[trial.FormRow] | None = None,
    summary: str = "",
    status_code: int = 200,
) -> Response:
    rows = list(rows or [])
    rows += [trial.FormRow()] * max(0, trial.FORM_ROWS - len(rows))
    return templates.TemplateResponse(
        request,
        "authoring/trial.html",
        {
            "version": version,
            "status": service.status_of(version),
            "graded": graded,
            "problems": problems or [],
            "text": text,
            "rows": rows,
            "summary": summary,
            "file_names": [f.name for f in service.snippet_files(version, with_key=False)],
            "severities": SEVERITIES,
            "bugs": {b.key: b for b in version.bugs},
            "limits": {
                "reviews": trial.MAX_REVIEWS,
                "bytes": trial.MAX_UPLOAD_BYTES,
                "pasted": FORM_FIELD_LIMIT,
            },
        },
        status_code=status_code,
    )


@router.get(VERSION_PATH + "/try", response_class=HTMLResponse)
def trial_form(request: Request, user: AuthorUser, version: Version) -> Response:
    """The form to paste a review or upload a batch."""
    return _trial_page(request, version)


@router.post(VERSION_PATH + "/try", response_class=HTMLResponse)
def trial_run(
    request: Request,
    user: AuthorUser,
    _csrf: Csrf,
    version: Version,
    reviews: Annotated[str, Form()] = "",
    batch: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Grade the pasted review or the uploaded batch and show what a grader would see."""
    text, name = reviews, "pasted"
    if batch is not None and batch.filename:
        name = batch.filename[:200]
        raw = batch.file.read(trial.MAX_UPLOAD_BYTES + 1)
        if len(raw) > trial.MAX_UPLOAD_BYTES:
            problem = Problem(name, None, "", f"larger than {trial.MAX_UPLOAD_BYTES:,} bytes")
            return _trial_page(request, version, problems=[problem], status_code=413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = Problem(name, None, "", f"not UTF-8 text (byte {exc.start})")
            return _trial_page(request, version, problems=[problem], status_code=422)
    try:
        parsed = trial.parse_reviews(text, name=name, slug=version.assessment.slug)
    except trial.TrialInputError as exc:
        problem = Problem(name, None, "", str(exc))
        return _trial_page(request, version, problems=[problem], status_code=413)
    graded = trial.grade_reviews(version, parsed.reviews)
    return _trial_page(
        request,
        version,
        graded=graded,
        problems=parsed.problems,
        text=reviews,
        status_code=422 if parsed.problems and not graded else 200,
    )


@router.post(VERSION_PATH + "/try/form", response_class=HTMLResponse)
def trial_form_run(
    request: Request,
    user: AuthorUser,
    _csrf: Csrf,
    version: Version,
    file: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    line: Annotated[list[str], Form()] = [],  # noqa: B006
    severity: Annotated[list[str], Form()] = [],  # noqa: B006
    body: Annotated[list[str], Form()] = [],  # noqa: B006
    summary: Annotated[str, Form()] = "",
) -> Response:
    """Grade a review typed into rows as a candidate writes one, most urgent first."""
    rows = trial.form_rows(file, line, severity, body)
    review, problems = trial.form_review(version.assessment.slug, rows, summary)
    # Line 0: typed, not read from a line of pasted text.
    graded = trial.grade_reviews(version, [(0, review)]) if review is not None else []
    return _trial_page(
        request,
        version,
        graded=graded,
        problems=problems,
        rows=rows,
        summary=summary,
        status_code=422 if problems else 200,
    )


@router.get(VERSION_PATH + "/lint", response_class=HTMLResponse)
def lint_page(request: Request, user: AuthorUser, version: Version) -> Response:
    """Each seeded bug against synthetic probes: is its wording easy to credit?"""
    return templates.TemplateResponse(
        request,
        "authoring/lint.html",
        {
            "version": version,
            "status": service.status_of(version),
            "lints": trial.lint_key(version),
        },
    )


@router.get(VERSION_PATH + "/analysis", response_class=HTMLResponse)
def analysis_page(
    request: Request, session: SessionDep, user: AuthorUser, version: Version
) -> Response:
    """Per seeded bug and decoy, how candidates did; totals, agreement and time taken."""
    return templates.TemplateResponse(
        request,
        "authoring/analysis.html",
        {
            "version": version,
            "status": service.status_of(version),
            "a": analysis.analyse(session, version),
            "severities": analysis.SEVERITIES,
        },
    )


@router.get(VERSION_PATH + "/analysis/{chart}.svg")
def analysis_chart(chart: str, session: SessionDep, user: AuthorUser, version: Version) -> Response:
    """One chart of the item analysis as SVG."""
    if chart not in charts.CHARTS:
        raise HTTPException(
            404, f"No chart called '{chart[:50]}'; there are {', '.join(charts.CHARTS)}."
        )
    svg = charts.draw(chart, analysis.analyse(session, version))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get(VERSION_PATH + "/analysis/{table}.csv")
def analysis_csv(table: str, session: SessionDep, user: AuthorUser, version: Version) -> Response:
    """One table of the item analysis as CSV."""
    if table not in exports.TABLES:
        raise HTTPException(
            404, f"No table called '{table[:50]}'; there are {', '.join(exports.TABLES)}."
        )
    body = exports.table_csv(table, analysis.analyse(session, version))
    filename = f"{version.assessment.slug}-v{version.number}-{table}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- adding and changing assessments from the browser --------------------------------------


def _draft(draft_id: str) -> upload.Draft:
    try:
        return upload.load_draft(get_settings().data_dir, draft_id)
    except upload.DraftNotFound as exc:
        raise HTTPException(
            404, "No draft has that id; it may have been published or discarded."
        ) from exc


def _new_page(request: Request, problems: list[Problem], status_code: int = 200) -> Response:
    return templates.TemplateResponse(
        request,
        "authoring/new.html",
        {
            "problems": problems,
            "limits": {"files": upload.MAX_FILES, "bytes": upload.MAX_TOTAL_BYTES},
        },
        status_code=status_code,
    )


def _draft_page(
    request: Request,
    session: SessionDep,
    draft: upload.Draft,
    *,
    error: str | None = None,
    texts: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assessment_yaml, key_yaml = texts or (draft.assessment_yaml, draft.key_yaml)
    key_file = f"seeded_bugs/{draft.slug}.yaml"
    yaml_file = f"assessments/{draft.slug}/assessment.yaml"
    return templates.TemplateResponse(
        request,
        "authoring/draft.html",
        {
            "draft": draft,
            "version": upload.draft_version_of(session, draft),
            "error": error,
            "assessment_yaml": assessment_yaml,
            "key_yaml": key_yaml,
            "yaml_problems": [p for p in draft.problems if p.file == yaml_file],
            "key_problems": [p for p in draft.problems if p.file == key_file],
            "other_problems": [p for p in draft.problems if p.file not in (yaml_file, key_file)],
        },
        status_code=status_code,
    )


@router.get("/staff/assessments/new", response_class=HTMLResponse)
def new_assessment_form(request: Request, user: AuthorUser) -> Response:
    """The form to upload an assessment as files or as one archive."""
    return _new_page(request, [])


@router.post("/staff/assessments/new")
def upload_assessment(
    request: Request,
    session: SessionDep,
    user: AuthorUser,
    _csrf: Csrf,
    archive: Annotated[UploadFile | None, File()] = None,
    files: Annotated[list[UploadFile] | None, File()] = None,
    key: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Stage an upload as a draft and check it; nothing is published yet."""
    limit = upload.MAX_TOTAL_BYTES + 1
    try:
        if archive is not None and archive.filename:
            data = archive.file.read(limit)
            if len(data) >= limit:
                raise upload.UploadRefused(
                    [Problem(archive.filename[:200], None, "", f"larger than {limit - 1:,} bytes")]
                )
            slug, contents, key_bytes = upload.files_from_archive(archive.filename[:200], data)
        else:
            loose = [(f.filename or "", f.file.read(limit)) for f in files or [] if f.filename]
            if key is None or not key.filename:
                raise upload.UploadRefused(
                    [Problem("upload", None, "key", "choose the answer key (<slug>.yaml)")]
                )
            if not key.filename.endswith(".yaml"):
                raise upload.UploadRefused(
                    [Problem("upload", None, "key", f"'{key.filename[:100]}' must be <slug>.yaml")]
                )
            if not loose:
                raise upload.UploadRefused(
                    [
                        Problem(
                            "upload", None, "files", "choose assessment.yaml and the snippet files"
                        )
                    ]
                )
            upload.check_loose_files([*loose, (key.filename, b"")])
            slug = key.filename[: -len(".yaml")]
            contents = dict(loose)
            key_bytes = key.file.read(limit)
        if not re.fullmatch(r"[a-z0-9-]+", slug):
            raise upload.UploadRefused(
                [Problem("upload", None, "slug", f"'{slug[:100]}' is not a slug ([a-z0-9-]+)")]
            )
    except upload.UploadRefused as exc:
        return _new_page(request, exc.problems, status_code=422)
    settings = get_settings()
    with upload.slug_lock(settings.data_dir, slug):
        try:
            draft = upload.create_draft(
                session,
                settings.data_dir,
                slug=slug,
                files=contents,
                key=key_bytes,
                actor=user,
                assessments_dir=settings.assessments_dir,
                bugs_dir=settings.seeded_bugs_dir,
            )
        except upload.DraftExists as exc:
            return _new_page(request, [Problem("upload", None, "slug", str(exc))], status_code=409)
        session.commit()
    return RedirectResponse(f"/staff/assessments/drafts/{draft.id}", status_code=303)


@router.post("/staff/assessments/{slug}/edit")
def edit_assessment(slug: str, session: SessionDep, user: AuthorUser, _csrf: Csrf) -> Response:
    """Start a draft from the newest version, to change its YAML in the browser; an open
    draft of the assessment is continued instead."""
    settings = get_settings()
    with upload.slug_lock(settings.data_dir, slug):
        try:
            draft = upload.draft_from_version(
                settings.data_dir,
                session,
                slug,
                actor=user,
                assessments_dir=settings.assessments_dir,
                bugs_dir=settings.seeded_bugs_dir,
            )
        except upload.DraftExists as exc:
            return RedirectResponse(exc.url, status_code=303)
        session.commit()
    return RedirectResponse(f"/staff/assessments/drafts/{draft.id}", status_code=303)


@router.get("/staff/assessments/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, session: SessionDep, user: AuthorUser, draft_id: str) -> Response:
    """A draft: every problem at file:line: field beside its text, and publish when clean."""
    draft = _draft(draft_id)
    if not draft.problems and upload.draft_version_of(session, draft) is None:
        # Checked clean but never stored (staged by an older release, or its write was lost):
        # storing it now makes it the draft version it should be.
        upload.save_draft_version(session, draft)
        session.commit()
    return _draft_page(request, session, draft)


@router.post("/staff/assessments/drafts/{draft_id}", response_class=HTMLResponse)
def check_draft(
    request: Request,
    session: SessionDep,
    user: AuthorUser,
    _csrf: Csrf,
    draft_id: str,
    assessment_yaml: Annotated[str, Form()] = "",
    key_yaml: Annotated[str, Form()] = "",
) -> Response:
    """Save the edited YAML into the draft and check it again."""
    data_dir = get_settings().data_dir
    with upload.slug_lock(data_dir, _draft(draft_id).slug):
        draft = _draft(draft_id)
        try:
            draft = upload.edit_draft(
                session, data_dir, draft, assessment_yaml=assessment_yaml, key_yaml=key_yaml
            )
        except upload.UploadRefused as exc:
            return _draft_page(
                request,
                session,
                draft,
                error=str(exc),
                texts=(assessment_yaml, key_yaml),
                status_code=413,
            )
        session.commit()
    return _draft_page(request, session, draft, status_code=422 if draft.problems else 200)


@router.post("/staff/assessments/drafts/{draft_id}/publish")
def publish_draft(
    request: Request, session: SessionDep, user: AuthorUser, _csrf: Csrf, draft_id: str
) -> Response:
    """Write the draft into the content folders and make it the version candidates take."""
    settings = get_settings()
    with upload.slug_lock(settings.data_dir, _draft(draft_id).slug):
        # Read again under the lock: another author may have published or discarded it.
        draft = _draft(draft_id)
        try:
            version = upload.publish(
                session,
                draft,
                assessments_dir=settings.assessments_dir,
                bugs_dir=settings.seeded_bugs_dir,
                actor=user,
            )
        except upload.UploadRefused:
            return _draft_page(
                request,
                session,
                draft,
                error="Fix every problem before publishing.",
                status_code=422,
            )
        except upload.PublishConflict as exc:
            return _draft_page(request, session, draft, error=str(exc), status_code=409)
        except OSError as exc:
            return _draft_page(
                request,
                session,
                draft,
                error=f"Could not write the content folders ({exc.strerror or exc}); "
                "nothing was published.",
                status_code=409,
            )
        session.commit()
    return RedirectResponse(
        f"/staff/assessments/{draft.slug}/versions/{version.number}", status_code=303
    )


@router.post("/staff/assessments/drafts/{draft_id}/discard")
def discard_draft(session: SessionDep, user: AuthorUser, _csrf: Csrf, draft_id: str) -> Response:
    """Delete a draft and its draft version."""
    settings = get_settings()
    with upload.slug_lock(settings.data_dir, _draft(draft_id).slug):
        upload.discard(session, _draft(draft_id))
        session.commit()
    return RedirectResponse("/staff/assessments", status_code=303)


@router.post(VERSION_PATH + "/publish")
def publish_version(
    request: Request, session: SessionDep, user: AuthorUser, _csrf: Csrf, version: Version
) -> Response:
    """Publish a draft version synced from the content folders."""
    if upload.draft_folder_lost(get_settings().data_dir, version):
        return _key_page(
            request,
            version,
            "The files of the browser draft this version was checked from are no longer in "
            "the data directory, so there is nothing to publish: discard this version and "
            "start a new draft.",
            409,
        )
    if version.draft_id:
        # A browser draft is published from its draft page, which writes its files to disk.
        return RedirectResponse(f"/staff/assessments/drafts/{version.draft_id}", status_code=303)
    settings = get_settings()
    try:
        upload.publish_synced_draft(
            session,
            version,
            assessments_dir=settings.assessments_dir,
            bugs_dir=settings.seeded_bugs_dir,
            actor=user,
        )
    except (assessment_service.VersionStateError, upload.PublishConflict) as exc:
        return _key_page(request, version, str(exc), 409)
    session.commit()
    return RedirectResponse(_version_url(version), status_code=303)


@router.post(VERSION_PATH + "/retire")
def retire_version(
    request: Request,
    session: SessionDep,
    user: AuthorUser,
    _csrf: Csrf,
    version: Version,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Withdraw the published version: no new candidate can start until another is published."""
    if confirm != "yes":
        return _key_page(request, version, "Tick the box to confirm the retirement.", 422)
    try:
        assessment_service.retire_version(session, version)
    except assessment_service.VersionStateError as exc:
        return _key_page(request, version, str(exc), 409)
    audit_service.record(
        session,
        user,
        "assessment",
        version.assessment.slug,
        "assessment.retired",
        None,
        {"version": version.number},
    )
    session.commit()
    return RedirectResponse(_version_url(version), status_code=303)


@router.post(VERSION_PATH + "/discard")
def discard_version(
    request: Request, session: SessionDep, user: AuthorUser, _csrf: Csrf, version: Version
) -> Response:
    """Delete a draft version (and the browser draft it came from, if any)."""
    with upload.slug_lock(get_settings().data_dir, version.assessment.slug):
        try:
            draft_id = upload.live_draft_id(get_settings().data_dir, version)
            if draft_id:
                upload.discard(session, _draft(draft_id))
            else:
                upload.discard_version(session, version)
        except assessment_service.VersionStateError as exc:
            return _key_page(request, version, str(exc), 409)
        session.commit()
    return RedirectResponse("/staff/assessments", status_code=303)


def _version_url(version: AssessmentVersion) -> str:
    return f"/staff/assessments/{version.assessment.slug}/versions/{version.number}"


@router.get(VERSION_PATH + "/rescore", response_class=HTMLResponse)
def rescore_page(
    request: Request,
    session: SessionDep,
    user: AuthorUser,
    version: Version,
    sort: str = "change",
    applied: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> Response:
    """Which past submissions this version's key would score differently, and by how much."""
    return templates.TemplateResponse(
        request,
        "authoring/rescore.html",
        {
            "version": version,
            "status": service.status_of(version),
            "result": rescore.preview(session, version, sort=sort),
            "sort": sort if sort in rescore.SORTS else "change",
            "applied": applied,
        },
    )


@router.post(VERSION_PATH + "/rescore")
def rescore_apply(
    session: SessionDep,
    user: AuthorUser,
    _csrf: Csrf,
    version: Version,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Re-score the changed submissions that no grader finalized, after the author confirms."""
    if confirm != "yes":
        raise HTTPException(422, "confirm: tick the box to confirm the re-score.")
    if version.status == VersionStatus.draft:
        raise HTTPException(
            409, "This version is a draft: publish it before moving submissions onto it."
        )
    applied = rescore.apply(session, version, user)
    session.commit()
    base = f"/staff/assessments/{version.assessment.slug}/versions/{version.number}"
    return RedirectResponse(f"{base}/rescore?applied={len(applied)}", status_code=303)
