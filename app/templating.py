"""The one Jinja2 environment, with filters for Markdown and times."""

from __future__ import annotations

from datetime import datetime

import nh3
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "app" / "templates"

# Raw HTML in Markdown is escaped by the parser and anything left is sanitized again, so a
# candidate's comment can never run script in a grader's browser.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """Markdown to sanitized HTML."""
    html = _markdown.render(text or "")
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))


def format_time(value: datetime | None) -> str:
    """A timestamp as UTC text for people."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["markdown"] = render_markdown
templates.env.filters["time"] = format_time
