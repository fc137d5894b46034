"""Measure the grader against the gold labels of the shipped corpora.

`evaluate` grades every labelled review and compares with gold. With `holdout=True` each
assessment is graded by a grader trained with that assessment left out of every learned part
(leave-one-assessment-out), the figure that predicts how a new assessment will be graded.
Baselines swap the match model for a single plain signal and keep everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from grading.grader import Grader
from grading.matching import FEATURES, PairScorer
from grading.training import Corpus, LabelledReview, train_grader
from grading.types import DIMENSIONS, Grade

F = {name: i for i, name in enumerate(FEATURES)}
TOTAL_BIN = 10.0  # totals are binned in steps of 10 points (0-9.99, 10-19.99, ..., 90-100)


class LineOverlapModel:
    """Baseline: a unit finds a bug when it is anchored inside the bug's lines."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """1 where the anchor overlaps the bug's ranges, else 0."""
        return (x[..., F["in_range"]] > 0).astype(np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Only the anchor signal counts."""
        out = np.zeros_like(x)
        out[..., F["in_range"]] = x[..., F["in_range"]]
        return out


class FuzzyTextModel:
    """Baseline: a unit finds a bug when rapidfuzz similarity to its title or a phrase is high."""

    def __init__(self, threshold: float = 0.7) -> None:
        self.threshold = threshold

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """1 where the best of title/phrase token-set similarity reaches the threshold."""
        best = np.maximum(x[..., F["fuzzy_title"]], x[..., F["fuzzy_phrase"]])
        return (best >= self.threshold).astype(np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Only the fuzzy signals count."""
        out = np.zeros_like(x)
        for name in ("fuzzy_title", "fuzzy_phrase"):
            out[..., F[name]] = x[..., F[name]]
        return out


BASELINES: dict[str, Callable[[], PairScorer]] = {
    "line_overlap": LineOverlapModel,
    "fuzzy_text": FuzzyTextModel,
}


@dataclass
class _Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: set[Any], gold: set[Any]) -> None:
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    def report(self) -> dict[str, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f1, 3),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class Evaluation:
    """Metrics of one grader configuration over labelled reviews."""

    name: str
    n_reviews: int
    metrics: dict[str, object] = field(default_factory=dict)
    per_review: list[dict[str, object]] = field(default_factory=list)


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _bins(values: Iterable[float]) -> list[int]:
    return [min(int(v // TOTAL_BIN), int(100 // TOTAL_BIN) - 1) for v in values]


def score_against_gold(name: str, pairs: Sequence[tuple[LabelledReview, Grade]]) -> Evaluation:
    """Compare grades with gold labels: matches, dimensions, totals, flags, review routing."""
    matches = _Tally()
    exact = _Tally()
    flags = _Tally()
    near = _Tally()
    alarms = _Tally()
    kinds_right = kinds_total = trade_right = 0
    dims: dict[str, tuple[list[float], list[float]]] = {d: ([], []) for d in DIMENSIONS}
    totals: tuple[list[float], list[float]] = ([], [])
    auto = auto_wrong = auto_missed = 0
    auto_but_questions = auto_but_questions_wrong = 0
    per_review = []
    for item, grade in pairs:
        gold = item.gold
        predicted = {m.bug for m in grade.matches}
        gold_bugs = {b for b, _ in gold.matches}
        matches.add(predicted, gold_bugs)
        exact.add({(m.bug, m.comment) for m in grade.matches}, set(gold.matches))
        flags.add({f.kind for f in grade.red_flags}, {k for k, _ in gold.red_flags})
        near.add(
            {(n.bug, n.comment) for n in grade.near_misses},
            {(b, c) for b, c, _ in gold.near_misses},
        )
        alarms.add({(f.decoy, f.comment) for f in grade.false_alarms}, set(gold.false_alarms))
        for label, (kind, tradeoff) in zip(grade.comments, gold.comments, strict=False):
            kinds_total += 1
            kinds_right += label.kind == kind
            trade_right += label.tradeoff == tradeoff
        for d in DIMENSIONS:
            dims[d][0].append(grade.dimension(d))
            dims[d][1].append(gold.dimensions.get(d, 0.0))
        totals[0].append(grade.total)
        totals[1].append(gold.total)
        if not grade.needs_review:
            auto += 1
            auto_wrong += len(predicted - gold_bugs)
            auto_missed += len(gold_bugs - predicted)
        # The no_questions flag alone routes many reviews to a human; show what it costs.
        if all(r == "red flag 'no_questions' to confirm" for r in grade.evidence.review_reasons):
            auto_but_questions += 1
            auto_but_questions_wrong += len(predicted - gold_bugs)
        per_review.append(
            {
                "id": grade.id,
                "total": round(grade.total, 2),
                "gold_total": gold.total,
                "matches": sorted(predicted),
                "gold_matches": sorted(gold_bugs),
                "needs_review": grade.needs_review,
            }
        )
    n = len(pairs)
    metrics: dict[str, object] = {
        "match": matches.report(),
        "match_with_comment": exact.report(),
        "dimensions": {
            d: {
                "mae": round(float(np.mean(np.abs(np.subtract(*dims[d])))), 2) if n else None,
                "spearman": round(_spearman(*dims[d]), 3),
            }
            for d in DIMENSIONS
        },
        "total": {
            "mae": round(float(np.mean(np.abs(np.subtract(*totals)))), 2) if n else None,
            "spearman": round(_spearman(*totals), 3),
            "qwk": round(
                float(cohen_kappa_score(_bins(totals[0]), _bins(totals[1]), weights="quadratic")), 3
            )
            if n > 1
            else None,
            "qwk_bins": f"totals binned in steps of {TOTAL_BIN:g} points",
        },
        "red_flags": flags.report(),
        "near_misses": near.report(),
        "false_alarms": alarms.report(),
        "comment_kind_accuracy": round(kinds_right / kinds_total, 3) if kinds_total else None,
        "tradeoff_accuracy": round(trade_right / kinds_total, 3) if kinds_total else None,
        "auto_graded_share": round(auto / n, 3) if n else None,
        "wrong_matches_per_auto_review": round(auto_wrong / auto, 3) if auto else None,
        "missed_matches_per_auto_review": round(auto_missed / auto, 3) if auto else None,
        "auto_graded_share_if_no_questions_did_not_route": (
            round(auto_but_questions / n, 3) if n else None
        ),
        "wrong_matches_per_such_review": (
            round(auto_but_questions_wrong / auto_but_questions, 3) if auto_but_questions else None
        ),
    }
    return Evaluation(name, n, metrics, per_review)


def _with_model(grader: Grader, model: PairScorer) -> Grader:
    """The same grader with another match model: baselines differ in matching only."""
    return Grader(
        grader.classifier,
        model,
        background=grader.background,
        settings=grader.settings,
        tradeoff_model=grader.tradeoff_model,
        taste_model=grader.taste_model,
    )


def evaluate(
    corpus: Corpus,
    *,
    unseen: Corpus | None = None,
    holdout: bool = False,
    baselines: Sequence[str] = (),
    settings: object = None,
    progress: Callable[[str], None] | None = None,
) -> list[Evaluation]:
    """Grade every labelled review and compare with gold.

    Parameters
    ----------
    corpus
        Content and labelled reviews (`load_corpus`).
    unseen
        Another corpus to test on, with every model trained on all of `corpus`: assessments
        and reviews that played no part in building the grader.
    holdout
        Leave one assessment out: grade each with models trained on the others only.
    baselines
        Names from `BASELINES` to report beside the learned matcher.
    settings
        `GraderSettings` for every grader built here.

    Returns
    -------
    list of Evaluation
        The learned grader first, then each baseline, in the order asked.
    """
    tested = unseen if unseen is not None else corpus
    names = ["grader", *baselines]
    results: dict[str, list[tuple[LabelledReview, Grade]]] = {n: [] for n in names}
    full = None if holdout and unseen is None else train_grader(corpus, settings=settings)
    for slug in tested.assessments():
        if progress is not None:
            progress(slug)
        grader = full or train_grader(corpus, exclude=[slug], settings=settings)
        entry = tested.entries[slug]
        items = tested.reviews[slug]
        for name in names:
            g = grader if name == "grader" else _with_model(grader, BASELINES[name]())
            grades = g.grade_many([i.review for i in items], entry.assessment, entry.answer_key)
            results[name].extend(zip(items, grades, strict=True))
    if unseen is not None:
        label = "unseen assessments"
    else:
        label = "leave-one-assessment-out" if holdout else "trained on all (in-sample)"
    return [score_against_gold(f"{n} ({label})", results[n]) for n in names]
