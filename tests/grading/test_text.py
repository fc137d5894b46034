"""Text handling: line numbers named in prose."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from grading.text import LINE_REF_RE, line_refs
from tests.grading.conftest import texts_of


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("see line 44", [(44, 44)]),
        ("Lines 41-47 and L12", [(41, 47), (12, 12)]),
        ("LN 9 through 3", [(3, 9)]),
        ("l.5 to 900", [(5, 205)]),
        ("inline 44, deadline 3", []),
        ("İ line 7, İline 8", [(7, 7)]),  # outside ASCII the pattern itself decides
    ],
)
def test_line_numbers_named_in_prose(text: str, refs: list[tuple[int, int]]) -> None:
    assert line_refs(text) == refs


REF_PIECES = ["line", "Lines", "LINE", "l", "L.", "ln", "x", "_", "4", "12", "-", "–", "to", "."]


@settings(max_examples=400, deadline=None)
@given(texts_of(REF_PIECES, glues=(" ", ""), max_pieces=8))
def test_line_refs_find_what_the_pattern_finds(text: str) -> None:
    """The scan of the lower-cased text finds the references LINE_REF_RE finds."""
    expected = []
    for m in LINE_REF_RE.finditer(text):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else start
        start, end = min(start, end), max(start, end)
        expected.append((start, min(end, start + 200)))
    assert line_refs(text) == expected
