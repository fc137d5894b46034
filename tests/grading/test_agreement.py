"""Label agreement between two human graders: pairing and the figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grading.agreement import LabelPair, measure, pair_labels
from grading.errors import ReviewFormatError

DIMS = {"detection": 50.0, "severity": 50.0, "tradeoffs": 25.0, "tool_taste": 75.0}


def _gold(found: list[str], total: float, flags: list[str], kinds: list[str]) -> dict[str, Any]:
    return {
        "matches": [{"bug": b, "comment": 0} for b in found],
        "dimensions": DIMS,
        "total": total,
        "red_flags": [{"kind": k, "comment": -1} for k in flags],
        "comments": [{"kind": k, "tradeoff": False} for k in kinds],
    }


def test_two_graders_who_disagree_on_one_bug_of_four() -> None:
    bugs = {"a": ["x", "y"]}
    pairs = [
        LabelPair("r1", "a", _gold(["x"], 40, [], ["defect"]), _gold(["x"], 45, [], ["defect"])),
        LabelPair(
            "r2", "a", _gold(["x", "y"], 90, [], ["defect"]), _gold(["x"], 60, [], ["style"])
        ),
    ]
    result = measure("t", pairs, bugs)
    assert result.n_reviews == 2
    assert result.bug_agreement == pytest.approx(3 / 4)
    # Found: first [1, 0, 1, 1], second [1, 0, 1, 0]: po = 0.75, pe = 0.75*0.5 + 0.25*0.5 = 0.5.
    assert result.bug_kappa == pytest.approx(0.5)
    assert result.total_mae == pytest.approx(17.5)
    assert result.kind_agreement == pytest.approx(0.5)
    assert result.flag_kappa == 1.0


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_second_labels_must_label_the_same_review_text(tmp_path: Path) -> None:
    review = {"id": "r1", "assessment": "a", "comments": [{"body": "off by one"}], "summary": ""}
    first = _write(tmp_path / "first.jsonl", [{**review, "gold": _gold([], 0, [], ["defect"])}])
    changed = {**review, "comments": [{"body": "off by two"}], "gold": _gold([], 0, [], ["x"])}
    second = _write(tmp_path / "second.jsonl", [changed])
    with pytest.raises(ReviewFormatError, match=r"second\.jsonl:1: differs"):
        pair_labels(second, first)
    same = _write(tmp_path / "same.jsonl", [{**review, "gold": _gold([], 0, [], ["defect"])}])
    assert [p.review_id for p in pair_labels(same, first)] == ["r1"]
