"""The one Jinja2 environment, with filters for Markdown and times."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

import nh3
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from app.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "app" / "templates"

# Raw HTML in Markdown is escaped by the parser and anything left is sanitized again, so a
# candidate's comment can never run script in a grader's browser.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _image_as_text(
    renderer: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    # An image would be fetched by the grader's browser: a remote one is a tracking pixel that
    # tells the candidate when they are graded. Show what it points at instead.
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or [])
    src = str(token.attrs.get("src", ""))
    label = f"image {alt}: " if alt else "image: "
    return f"<span>[{escape(label)}<code>{escape(src)}</code>]</span>"


_markdown.add_render_rule("image", _image_as_text)
# The sanitizer drops <img> too, so no other path (a future plugin) can bring one back.
_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) - {"img"}


# Every autosave sends the whole draft and gets each comment back rendered, and most comments
# have not changed since the last save: up to this size, a text is rendered once per worker.
CACHED_MARKDOWN_CHARS = 4_000


def _render(text: str) -> str:
    html = _markdown.render(text)
    return nh3.clean(html, tags=_ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")


_render_cached = lru_cache(maxsize=2_048)(_render)


def render_markdown(text: str | None) -> Markup:
    """Markdown to sanitized HTML; images are shown as their address, never loaded."""
    text = text or ""
    return Markup(_render_cached(text) if len(text) <= CACHED_MARKDOWN_CHARS else _render(text))


_TAG = re.compile(r"(<[^>]*>)")


def markdown_marked(text: str | None, terms: Sequence[str] = ()) -> Markup:
    """Markdown to sanitized HTML with every whole-word occurrence of `terms` in <mark>."""
    html = str(render_markdown(text))
    wanted = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not wanted:
        return Markup(html)
    # Terms are matched against the escaped text between tags, never inside a tag; whole
    # words only, so that "key" does not light up inside "keyboard".
    pattern = re.compile(
        "|".join(rf"(?<![\w&]){re.escape(str(escape(t)))}(?!\w)" for t in wanted), re.IGNORECASE
    )
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = pattern.sub(lambda hit: f"<mark>{hit.group(0)}</mark>", parts[i])
    return Markup("".join(parts))


def format_time(value: datetime | str | None) -> str:
    """A timestamp as UTC text for people; an ISO 8601 string (as the model registry keeps
    them) is read first, and any other text is shown as it is."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["markdown"] = render_markdown
templates.env.filters["time"] = format_time
templates.env.filters["markdown_marked"] = markdown_marked
