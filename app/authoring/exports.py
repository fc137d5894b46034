"""The item analysis tables as CSV, one file per table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from app.authoring.analysis import SEVERITIES, Analysis
from app.spreadsheet import neutralise

TABLES = ("bugs", "decoys", "totals", "agreement", "time")


def _cell(value: object) -> str:
    if value is None:
        return ""
    return neutralise(str(value))


def _rows(table: str, a: Analysis) -> tuple[Sequence[str], Iterable[Sequence[object]]]:
    if table == "bugs":
        header = [
            "bug",
            "rank",
            "subtle",
            "found_auto",
            "found_confirmed",
            "discrimination",
            *[f"severity_{s}" for s in SEVERITIES],
            "median_position",
        ]
        return header, (
            [
                b.key,
                b.rank,
                b.subtle,
                b.found_auto,
                b.found_confirmed,
                b.discrimination,
                *[b.severities[s] for s in SEVERITIES],
                b.median_position,
            ]
            for b in a.bugs
        )
    if table == "decoys":
        return ["decoy", "false_alarms", "rate"], (
            [d.key, d.false_alarms, d.rate] for d in a.decoys
        )
    if table == "totals":
        return ["range", "submissions"], ([label, count] for label, count in a.histogram)
    if table == "agreement":
        rows: list[list[object]] = [[g.name, g.pairs, g.mae, g.qwk] for g in a.agreement]
        rows.append(["match_precision", a.finalized, a.match_precision, ""])
        rows.append(["match_recall", a.finalized, a.match_recall, ""])
        return ["measure", "pairs", "mae_or_value", "qwk"], rows
    return ["submission", "minutes"], ([i + 1, m] for i, m in enumerate(a.minutes))


def table_csv(table: str, a: Analysis) -> str:
    """Table `table` (one of TABLES) of an analysis as CSV text."""
    header, rows = _rows(table, a)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
