"""CSV cells that spreadsheets show as text, never run as formulas.

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` (and, in
some versions, a leading tab or carriage return) as a formula, so a candidate named
`=HYPERLINK(...)` could run one on a grader's machine. Such a cell is written with a leading
apostrophe, which spreadsheets hide and treat as "this is text". A cell that really starts
with an apostrophe gets a second one, so `restore` gives back exactly what was written.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(value: str) -> str:
    """The cell as a spreadsheet shows it as text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def restore(cell: str) -> str:
    """The value `neutralise` was given."""
    return cell[1:] if cell.startswith("'") else cell
