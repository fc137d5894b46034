"""Highlighted snippet lines line up with the numbers candidates and the grader use."""

from __future__ import annotations

import pytest

from app.submissions.highlight import highlight_lines


@pytest.mark.parametrize(
    "text",
    [
        "\n\nx = 1\n",
        'def f():\n    """Doc\n    string."""\n    return 1',
        "a = 1\r\nb = 2\r\n",
        "",
        "\tindented = True\n\n\n",
    ],
)
def test_one_fragment_per_line_of_splitlines(text: str) -> None:
    lines = highlight_lines("snippet.py", text, "python")
    assert len(lines) == len(text.splitlines())


def test_multi_line_tokens_are_closed_on_every_line() -> None:
    lines = highlight_lines("doc.py", 'x = """a\nb\nc"""\n', "python")
    assert all(line.count("<span") == line.count("</span>") for line in lines)
    assert "b" in lines[1] and 'class="s2"' in lines[1]


def test_text_is_escaped_and_unknown_types_fall_back_to_plain_text() -> None:
    [line] = highlight_lines("notes.unknown-ext", "<script>alert(1)</script>", "no-such-lang")
    assert "<script>" not in line and "&lt;script&gt;" in line
