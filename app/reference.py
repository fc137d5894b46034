"""The rubric and the file formats, for staff to read where they work.

Graders confirm and override scores by the rubric, and authors write assessments, answer keys
and sample reviews in the formats; a self-hosted install has no other copy of either at hand.
The Markdown ships with the service (`docs/reference/`, packaged into the wheel) and is
rendered here, with an anchor on every heading so a page can link to a section.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.auth import StaffUser
from app.resources import reference_dir
from app.templating import templates


class Document(NamedTuple):
    name: str
    title: str
    file: str


DOCUMENTS = (
    Document("rubric", "Rubric", "rubric.md"),
    Document("formats", "Formats", "formats.md"),
)
_BY_NAME = {d.name: d for d in DOCUMENTS}

# The files are ours, not a candidate's, but they are rendered as strictly: no raw HTML.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def anchor(heading: str) -> str:
    """A heading's anchor, from its words before any colon or parenthesis, so that it stays
    put when the rest is reworded: "3. Review: one JSON object" -> "3-review", "Detection
    (default 30)" -> "detection"."""
    name = re.split(r"[:(]", heading, maxsplit=1)[0]
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# Where the rubric explains each dimension, for the pages that show a dimension's score.
RUBRIC_SECTIONS = {
    "detection": "detection",
    "severity": "severity-ranking",
    "tradeoffs": "tradeoff-articulation",
    "tool_taste": "tool-taste",
}
templates.env.globals["rubric_sections"] = RUBRIC_SECTIONS


@lru_cache(maxsize=len(DOCUMENTS))
def rendered(name: str) -> Markup:
    """The document as HTML, each heading with its anchor as id."""
    text = (reference_dir() / _BY_NAME[name].file).read_text(encoding="utf-8")
    tokens = _markdown.parse(text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", anchor(tokens[i + 1].content))
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


router = APIRouter(include_in_schema=False)


@router.get("/staff/reference/{name}", response_class=HTMLResponse)
def reference_page(request: Request, name: str, user: StaffUser) -> Response:
    """The rubric or the formats, rendered."""
    if name not in _BY_NAME:
        known = ", ".join(d.name for d in DOCUMENTS)
        raise HTTPException(404, f"There is no reference page {name!r}; there are: {known}.")
    return templates.TemplateResponse(
        request,
        "reference.html",
        {"documents": DOCUMENTS, "current": _BY_NAME[name], "body": rendered(name)},
    )
