"""The rubric's arithmetic over a grader's decisions: detection, severity and the total.

Pure functions over plain values, so the review page, the API and the export agree on every
number. Detection and severity are recomputed from the matches the grader kept or added
(RUBRIC.md); tradeoffs and tool taste depend on reading the prose and keep the auto value
unless a grader overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DIMENSIONS = ("detection", "severity", "tradeoffs", "tool_taste")
DEFAULT_WEIGHTS = {"detection": 30.0, "severity": 25.0, "tradeoffs": 25.0, "tool_taste": 20.0}
SUMMARY = -1
# The candidate's own severity labels, most urgent first; an unlabeled remark ranks last.
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "nit": 3}
NOT_A_PROBLEM = frozenset({"question", "praise"})


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


def detection(found: set[str], bugs: Sequence[Bug]) -> float:
    """100 x weight of found bugs / weight of all bugs; a subtle bug weighs 2."""
    total = sum(2 if b.subtle else 1 for b in bugs)
    if total == 0:
        return 0.0
    got = sum(2 if b.subtle else 1 for b in bugs if b.key in found)
    return round(100.0 * got / total, 1)


def urgency_order(matches: Sequence[tuple[str, int]], remarks: Sequence[Remark]) -> list[int]:
    """The candidate's order of urgency as comment indexes (SUMMARY last)."""
    items = [i for i, r in enumerate(remarks) if r.kind not in NOT_A_PROBLEM]
    # A question that nonetheless found a bug still counts as raising it.
    items += [c for _, c in matches if c >= 0 and c < len(remarks) and c not in items]
    items.sort(key=lambda i: (SEVERITY_RANK.get(remarks[i].severity or "", 4), i))
    return [*items, SUMMARY]


def severity(
    matches: Sequence[tuple[str, int]], remarks: Sequence[Remark], bugs: Sequence[Bug]
) -> float:
    """The severity-ranking score of RUBRIC.md from (bug, comment) matches.

    The summary's explicit priority statements are not parsed here; the auto value, which
    reads them, is kept while the grader has not changed the matches.
    """
    known = {b.key: b for b in bugs}
    matches = [(bug, comment) for bug, comment in matches if bug in known]
    if not matches or not bugs:
        return 0.0
    order = urgency_order(matches, remarks)
    ranked: list[str] = []
    for comment in order:
        for bug, where in matches:
            if where == comment and bug not in ranked:
                ranked.append(bug)
    top = min(bugs, key=lambda b: b.rank).key
    first_item_bugs = {bug for bug, where in matches if where == order[0]}
    points = 50.0 if top in first_item_bugs else 0.0
    if len(ranked) == 1:
        points += 25.0
    else:
        pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
        agree = sum(1 for a, b in pairs if known[a].rank < known[b].rank)
        points += 50.0 * agree / len(pairs)
    return round(points, 1)


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
) -> Recomputed:
    """Dimensions and total: overrides win, then recomputation when matches changed, then auto."""
    dimensions = {d: float(auto.get(d, 0.0)) for d in DIMENSIONS}
    sources = dict.fromkeys(DIMENSIONS, "auto")
    if matches != auto_matches and bugs:
        dimensions["detection"] = detection({bug for bug, _ in matches}, bugs)
        dimensions["severity"] = severity(ordered_matches, remarks, bugs)
        sources["detection"] = sources["severity"] = "recomputed"
    for dimension, value in overrides.items():
        dimensions[dimension] = float(value)
        sources[dimension] = "override"
    if auto_total is not None and set(sources.values()) == {"auto"}:
        # Nothing changed: the engine's own total stands, unrounded as it gave it.
        return Recomputed(dimensions, sources, float(auto_total))
    return Recomputed(dimensions, sources, weighted_total(dimensions, weights))
