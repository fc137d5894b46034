"""Where a line of code sits: the function or method that holds it, read from indentation.

A tester reports a symptom against a function ("`levenshtein("abc", "abc")` is 3", "`wrap` on
a short body returns []"), and often leaves the comment on its signature rather than on the
faulty line inside it. Knowing which function holds a seeded bug lets such a report be put
beside the bug for a human to judge. Reading indentation works the same in every language the
assessments use, without a parser per language; a snippet that indents nothing has no holder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The first name called or declared on a line: `def wrap(`, `public static int levenshtein(`,
# `func (b *Batcher) Flush(`, `async function relay(`, `fn charge(&self`.
_CALLED_NAME_RE = re.compile(r"([A-Za-z_]\w*)\s*(?:<[^<>()]*>)?\s*\(")
# Lines that open a block but define nothing: control flow, and a closing brace before it.
_CONTROL_RE = re.compile(
    r"\s*(?:[})\]]\s*)*(?:else\b|if\b|elif\b|for\b|foreach\b|while\b|do\b|switch\b|match\b"
    r"|case\b|catch\b|except\b|try\b|finally\b|with\b|return\b|select\b|loop\b|when\b)"
)
_ASSIGNS_RE = re.compile(r"(?<![=!<>])=(?![=>])")
# Lines that declare a type, not a function: the block a method sits in.
_TYPE_RE = re.compile(
    r"\s*(?:(?:export|public|private|protected|internal|abstract|final|sealed|data|pub|default)"
    r"\s+)*(?:class|struct|impl|interface|enum|object|trait|module|namespace|record)\b"
)
# Words before a declared name that are followed by a parenthesis themselves (`func (b *T)
# Flush(`) or that a declaration line may call (`super(`).
_NOT_DECLARED = frozenset(
    {"func", "fn", "function", "def", "if", "for", "while", "switch", "catch", "return", "super"}
)


@dataclass(frozen=True)
class Holder:
    """The function or method holding a line: its name and where its signature starts."""

    name: str
    line: int  # 1-based line of the signature


def holder_of(source: str, line: int) -> Holder | None:
    """The outermost-but-one definition holding `line` (1-based): its method, not its class.

    Walks up from the line; each line less indented than the last one kept opens a block
    holding it. The holder is the last such block that declares a name (not `if`, `else`,
    `for` ...) before the outermost level, which in most files is a class or the module.
    """
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    start = line
    while start >= 1 and not lines[start - 1].strip():
        start -= 1  # a blank line (an omission) is held by the code above it
    if start < 1:
        return None
    depth = _indent(lines[start - 1])
    declared = _declares(lines[start - 1])
    found = Holder(declared, start) if declared is not None else None  # the bug is its signature
    for number in range(start - 1, 0, -1):
        text = lines[number - 1]
        if not text.strip() or _indent(text) >= depth:
            continue
        depth = _indent(text)
        declared = _declares(text)
        if declared is not None:
            found = Holder(declared, number)
        if depth == 0:
            break
    return found


def _indent(text: str) -> int:
    return len(text.expandtabs(4)) - len(text.expandtabs(4).lstrip())


def _declares(text: str) -> str | None:
    """The name a line declares, if it opens a function: a statement ends in `;`, and an
    assignment before the first call says the line calls rather than declares."""
    if (
        _CONTROL_RE.match(text) is not None
        or _TYPE_RE.match(text) is not None
        or text.rstrip().endswith(";")
    ):
        return None
    for called in _CALLED_NAME_RE.finditer(text):
        if _ASSIGNS_RE.search(text, 0, called.start()) is not None:
            return None  # `result = compute(...)` calls, it does not declare
        if called.group(1).lower() not in _NOT_DECLARED:
            return called.group(1)
    return None
