"""The rubric's arithmetic over a grader's decisions: detection, severity and the total.

Detection and severity are recomputed from the matches the grader kept or added, by the
grading engine's own rubric functions, so a recomputed score follows exactly the rules the
auto-score did (RUBRIC.md). Tradeoffs and tool taste depend on reading the prose and keep the
auto value unless a grader overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from grading import scoring as rubric
from grading.types import DIMENSIONS, SUMMARY, SeededBug

DEFAULT_WEIGHTS = {"detection": 30.0, "severity": 25.0, "tradeoffs": 25.0, "tool_taste": 20.0}

__all__ = ["DIMENSIONS", "SUMMARY", "Bug", "Remark", "detection", "recompute", "severity"]


@dataclass(frozen=True)
class Bug:
    """What the arithmetic needs of a seeded bug."""

    key: str
    rank: int
    subtle: bool = False


@dataclass(frozen=True)
class Remark:
    """What the arithmetic needs of a review comment."""

    severity: str | None
    kind: str | None = None


def _seeded(bugs: Sequence[Bug]) -> list[SeededBug]:
    return [
        SeededBug(id=b.key, title=b.key, description="", rank=b.rank, subtle=b.subtle) for b in bugs
    ]


def _first_finds(matches: Sequence[tuple[str, int]], bugs: Sequence[Bug]) -> dict[str, int]:
    """Each found bug with the first comment that finds it (several finds count once)."""
    known = {b.key for b in bugs}
    found: dict[str, int] = {}
    for bug, comment in matches:
        if bug in known:
            found.setdefault(bug, comment)
    return found


def detection(found: set[str], bugs: Sequence[Bug]) -> float:
    """100 x weight of found bugs / weight of all bugs; a subtle bug weighs 2."""
    score = rubric.detection(dict.fromkeys(found, 0), _seeded(bugs)).score
    return round(score, 1)


def severity(
    matches: Sequence[tuple[str, int]],
    remarks: Sequence[Remark],
    bugs: Sequence[Bug],
    summary_priority: Sequence[str] = (),
) -> float:
    """The severity-ranking score of RUBRIC.md from ordered (bug, comment) matches.

    A comment that finds several bugs mentions them in the order the matches list them; an
    explicit priority stated in the summary (as the engine read it) overrides the order.
    """
    found = _first_finds(matches, bugs)
    items = [
        rubric.Item(
            i, remark.severity, tuple(dict.fromkeys(b for b, c in matches if c == i and b in found))
        )
        for i, remark in enumerate(remarks)
        if remark.kind is None or remark.kind in rubric.PROBLEM_KINDS
    ]
    items.append(rubric.Item(SUMMARY, None, tuple(b for b, c in matches if c == SUMMARY)))
    score = rubric.severity(items, found, _seeded(bugs), summary_priority).score
    return round(score, 1)


def weighted_total(dimensions: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The rubric-weighted sum of the dimensions, on 0..100."""
    weight_sum = sum(float(weights.get(d, DEFAULT_WEIGHTS[d])) for d in DIMENSIONS)
    if weight_sum <= 0:
        return 0.0
    total = sum(
        float(weights.get(d, DEFAULT_WEIGHTS[d])) * float(dimensions.get(d, 0.0))
        for d in DIMENSIONS
    )
    return round(total / weight_sum, 1)


@dataclass(frozen=True)
class Recomputed:
    """Dimension scores after the grader's decisions, and where each one came from."""

    dimensions: dict[str, float]
    sources: dict[str, str]  # auto | recomputed | override
    total: float


def recompute(
    *,
    auto: Mapping[str, float],
    auto_total: float | None,
    auto_matches: set[tuple[str, int]],
    matches: set[tuple[str, int]],
    ordered_matches: Sequence[tuple[str, int]],
    overrides: Mapping[str, float],
    remarks: Sequence[Remark],
    bugs: Sequence[Bug],
    weights: Mapping[str, float],
    summary_priority: Sequence[str] = (),
) -> Recomputed:
    """Dimensions and total: overrides win, then recomputation when matches changed, then auto."""
    dimensions = {d: float(auto.get(d, 0.0)) for d in DIMENSIONS}
    sources = dict.fromkeys(DIMENSIONS, "auto")
    if matches != auto_matches and bugs:
        dimensions["detection"] = detection({bug for bug, _ in matches}, bugs)
        dimensions["severity"] = severity(ordered_matches, remarks, bugs, summary_priority)
        sources["detection"] = sources["severity"] = "recomputed"
    for dimension, value in overrides.items():
        dimensions[dimension] = float(value)
        sources[dimension] = "override"
    if auto_total is not None and set(sources.values()) == {"auto"}:
        # Nothing changed: the engine's own total stands, unrounded as it gave it.
        return Recomputed(dimensions, sources, float(auto_total))
    return Recomputed(dimensions, sources, weighted_total(dimensions, weights))
