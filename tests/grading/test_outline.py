"""Which function holds a line, read from indentation in any language."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grading.outline import Holder, holder_of

PYTHON = """\
import json


class Cache:
    def __init__(self, size):
        self.size = size

    def get(self, key):
        blob = json.dumps(key)
        if blob in self.items:
            return self.items[blob]

        return None
"""
JAVA = """\
public class Wrap {
    public static ArrayList<String> wrap(String text, int cols) {
        ArrayList<String> lines = new ArrayList<String>();
        while (text.length() > cols) {
            int end = text.lastIndexOf(" ", cols);
            lines.add(text.substring(0, end));
        }

        return lines;
    }
}
"""
GO = """\
package quota

func (s *Service) Allow(id string) bool {
\tw := s.windows[id]
\tif w.count < s.limit {
\t\treturn true
\t}
\treturn false
}
"""


@pytest.mark.parametrize(
    ("source", "line", "holder"),
    [
        (PYTHON, 11, Holder("get", 8)),  # inside an `if`: the method, not the branch
        (PYTHON, 12, Holder("get", 8)),  # a blank line (an omission) belongs to the code above
        (PYTHON, 8, Holder("get", 8)),  # the signature itself
        (PYTHON, 9, Holder("get", 8)),  # `json.dumps(` is called, not declared
        (PYTHON, 4, None),  # a class is not a function
        (PYTHON, 1, None),  # module level
        (JAVA, 8, Holder("wrap", 2)),
        (JAVA, 5, Holder("wrap", 2)),
        (GO, 6, Holder("Allow", 3)),  # a receiver before the name
        (GO, 99, None),
    ],
)
def test_the_holder_of_a_line(source: str, line: int, holder: Holder | None) -> None:
    assert holder_of(source, line) == holder


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=" \t(){}:;=<>_abcdefXYZ019\"'#/", max_size=40), min_size=1, max_size=30
    ),
    st.integers(min_value=-2, max_value=40),
)
def test_any_source_gives_a_holder_at_or_above_the_line_or_none(
    lines: list[str], line: int
) -> None:
    """Authors upload code in any language and shape: reading it never fails, and a holder is
    a name declared on a line at or above the one asked about."""
    holder = holder_of("\n".join(lines), line)
    if holder is not None:
        assert 1 <= holder.line <= line
        assert holder.name in lines[holder.line - 1]
