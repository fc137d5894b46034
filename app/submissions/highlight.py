"""Syntax highlighting of snippet files, one HTML fragment per line.

Pygments' own HTML formatter cannot split its output by line (a token such as a docstring
spans several), so tokens are split here and each line gets its own balanced spans. The
result is cached per file content; snippets never change within a version.
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound


def _lexer(name: str, language: str) -> Lexer:
    options = {"stripnl": False, "ensurenl": False, "tabsize": 0}
    try:
        return get_lexer_for_filename(name, **options)
    except ClassNotFound:
        pass
    try:
        return get_lexer_by_name(language, **options)
    except ClassNotFound:
        return TextLexer(**options)


def _css_class(ttype: _TokenType) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


@lru_cache(maxsize=64)
def highlight_lines(name: str, text: str, language: str) -> tuple[Markup, ...]:
    """Each line of `text` as highlighted, escaped HTML (as many lines as `splitlines`)."""
    count = len(text.splitlines())
    lines: list[list[str]] = [[]]
    for ttype, value in _lexer(name, language).get_tokens(text):
        css = _css_class(ttype)
        for i, part in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if part:
                html = str(escape(part))
                lines[-1].append(f'<span class="{css}">{html}</span>' if css else html)
    return tuple(Markup("".join(parts)) for parts in lines[:count])
