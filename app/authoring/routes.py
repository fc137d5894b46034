"""Author pages: the assessments, each version's preview, answer-key overlay and grader trial."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from app.assessments.models import AssessmentVersion
from app.auth import AuthorUser, Csrf
from app.authoring import analysis, charts, exports, service, trial
from app.db import SessionDep
from app.templating import templates
from grading import Problem

router = APIRouter(include_in_schema=False)

VERSION_PATH = "/staff/assessments/{slug}/versions/{number}"


def _version(slug: str, number: int, session: SessionDep) -> AssessmentVersion:
    try:
        return service.get_version(session, slug, number)
    except service.VersionNotFound as exc:
        raise HTTPException(404, f"{exc}.") from exc


Version = Annotated[AssessmentVersion, Depends(_version)]


@router.get("/staff/assessments", response_class=HTMLResponse)
def assessments_page(request: Request, session: SessionDep, user: AuthorUser) -> Response:
    """The author's home: every assessment with its versions and how they are used."""
    return templates.TemplateResponse(
        request, "authoring/home.html", {"rows": service.list_assessment_rows(session)}
    )


@router.get(VERSION_PATH, response_class=HTMLResponse)
def version_page(request: Request, user: AuthorUser, version: Version) -> Response:
    """One version: the answer-key overlay on the snippet, and links to its other views."""
    return templates.TemplateResponse(
        request,
        "authoring/key.html",
        {
            "version": version,
            "status": service.status_of(version),
            "files": service.snippet_files(version, with_key=True),
            "entries": service.key_entries(version),
        },
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
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "authoring/trial.html",
        {
            "version": version,
            "status": service.status_of(version),
            "graded": graded,
            "problems": problems or [],
            "text": text,
            "bugs": {b.key: b for b in version.bugs},
            "limits": {"reviews": trial.MAX_REVIEWS, "bytes": trial.MAX_UPLOAD_BYTES},
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
