"""Measure the grader against the gold labels of the shipped corpora.

`report` is the full picture: every assessment graded by models trained without it
(leave-one-assessment-out), per register of the reviews (prose, terse, ...) and per answer-key
variant (the full keys, terse keys, ...), across registers (train on one, test on another), per
snippet language, and on the sealed set nothing is trained on. Registers and key variants are
discovered from the corpus folders. `evaluate` is the older single-row view (in-sample,
held out, or on an unseen corpus). Baselines swap the match model for a single plain signal and
keep everything else.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from grading.errors import ModelError
from grading.grader import Grader
from grading.matching import F, PairScorer
from grading.training import FULL_KEY, Corpus, LabelledReview, train_grader
from grading.types import DIMENSIONS, Grade, Rubric

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
    """Metrics of one grader configuration over labelled reviews.

    `row` names what was measured (e.g. "held-out assessment"), `tested` the register and key
    it was measured on and `trained` what every learned part was trained on.
    """

    name: str
    n_reviews: int
    metrics: dict[str, object] = field(default_factory=dict)
    per_review: list[dict[str, object]] = field(default_factory=list)
    row: str = ""
    config: str = "grader"
    tested: str = ""
    trained: str = ""


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two found/not-found labellings; 1.0 when both agree on one class."""
    if not a:
        return None
    if len(set(a) | set(b)) < 2:
        return 1.0
    return round(float(cohen_kappa_score(a, b)), 3)


def _bins(values: Iterable[float]) -> list[int]:
    return [min(int(v // TOTAL_BIN), int(100 // TOTAL_BIN) - 1) for v in values]


def score_against_gold(
    name: str,
    pairs: Sequence[tuple[LabelledReview, Grade]],
    bugs: Mapping[str, Sequence[str]] | None = None,
    rubrics: Mapping[str, Rubric] | None = None,
) -> Evaluation:
    """Compare grades with gold labels: matches, dimensions, totals, flags, review routing.

    `bugs` maps each assessment slug to its bug ids, for Cohen's kappa on bug-level
    found/not-found; without it the bugs are those any grade or gold label names. `rubrics`
    maps a slug to its assessment's weights (default 30/25/25/20), to say how many total points
    each dimension's error is worth.
    """
    matches = _Tally()
    found_pred: list[int] = []
    found_gold: list[int] = []
    exact = _Tally()
    flags = _Tally()
    near = _Tally()
    alarms = _Tally()
    kinds_right = kinds_total = trade_right = 0
    dims: dict[str, tuple[list[float], list[float]]] = {d: ([], []) for d in DIMENSIONS}
    weights: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
    totals: tuple[list[float], list[float]] = ([], [])
    auto = auto_wrong = auto_missed = 0
    auto_but_questions = auto_but_questions_wrong = 0
    per_review = []
    for item, grade in pairs:
        gold = item.gold
        predicted = {m.bug for m in grade.matches}
        gold_bugs = {b for b, _ in gold.matches}
        matches.add(predicted, gold_bugs)
        universe = (
            bugs[item.review.assessment]
            if bugs is not None and item.review.assessment in bugs
            else sorted(predicted | gold_bugs)
        )
        found_pred.extend(int(b in predicted) for b in universe)
        found_gold.extend(int(b in gold_bugs) for b in universe)
        exact.add({(m.bug, m.comment) for m in grade.matches}, set(gold.matches))
        flags.add({f.kind for f in grade.red_flags}, {k for k, _ in gold.red_flags})
        near.add(
            {(n.bug, n.comment) for n in grade.near_misses},
            {(b, c) for b, c, _ in gold.near_misses},
        )
        alarms.add({(f.decoy, f.comment) for f in grade.false_alarms}, set(gold.false_alarms))
        for label, (kind, tradeoff) in zip(grade.comments, gold.comments, strict=False):
            if not kind or tradeoff is None:
                continue  # not labelled (a comment a grader's decisions said nothing about)
            kinds_total += 1
            kinds_right += label.kind == kind
            trade_right += label.tradeoff == tradeoff
        rubric = (rubrics or {}).get(item.review.assessment) or Rubric()
        for d in DIMENSIONS:
            dims[d][0].append(grade.dimension(d))
            dims[d][1].append(gold.dimensions.get(d, 0.0))
            weights[d].append(rubric.weight(d) / 100.0)
        totals[0].append(grade.total)
        totals[1].append(gold.total)
        if not grade.needs_review:
            auto += 1
            auto_wrong += len(predicted - gold_bugs)
            auto_missed += len(gold_bugs - predicted)
        # The no_questions flag alone routes many reviews to a human; show what it costs.
        if all(r.startswith("red flag 'no_questions'") for r in grade.evidence.review_reasons):
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
        "bug_kappa": _kappa(found_pred, found_gold),
        "dimensions": {
            d: {
                "mae": round(float(np.mean(np.abs(np.subtract(*dims[d])))), 2) if n else None,
                # Signed mean (grader minus gold): which way a dimension is off, not only how far.
                "bias": round(float(np.mean(np.subtract(*dims[d]))), 2) if n else None,
                # The dimension's share of the total's error, in total points (its weight applied).
                "weighted_mae": round(
                    float(np.mean(np.abs(np.subtract(*dims[d])) * np.array(weights[d]))), 2
                )
                if n
                else None,
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
    rubrics = {s: e.assessment.rubric for s, e in tested.entries.items()}
    # Every bug of the key, found by nobody or not: kappa needs the bugs both agree are missed.
    bugs = {s: [b.id for b in e.answer_key.bugs] for s, e in tested.entries.items()}
    return [
        score_against_gold(f"{n} ({label})", results[n], bugs=bugs, rubrics=rubrics) for n in names
    ]


# -- the full report: every register, key variant, language and the sealed set ------------------


@dataclass(frozen=True)
class RowSpec:
    """What one row of the report measures.

    Every row is leave-one-assessment-out: each assessment is graded by models trained on the
    labelled reviews of the *other* assessments, in the registers `trained` (None: all).
    """

    row: str
    tested: str  # the register of the reviews graded
    key: str  # the answer-key variant they are graded against
    trained: tuple[str, ...] | None = None

    def describe_training(self) -> str:
        """What the models of this row were trained on, in words."""
        registers = "all registers" if self.trained is None else " + ".join(self.trained)
        return f"{registers}, other assessments"


class ModelCache:
    """Graders trained per training set, kept in memory and, given a folder, on disk.

    A training set is the registers trained on and the assessments left out. On disk a grader
    is named by `digest` (of the corpora and the engine's source) and by the training set, so a
    changed corpus or feature never loads a stale model.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: Path | None = None,
        digest: str = "",
        settings: object = None,
    ) -> None:
        self.corpus = corpus
        self.cache_dir = cache_dir
        self.digest = digest
        self.settings = settings
        self._graders: dict[tuple[tuple[str, ...] | None, tuple[str, ...]], Grader] = {}

    def get(self, registers: tuple[str, ...] | None, exclude: Iterable[str] = ()) -> Grader:
        """The grader trained on `registers` (None: all) without the `exclude`d assessments."""
        from grading.models import assemble
        from grading.persistence import load_models, save_models
        from grading.training import train_models

        key = (registers, tuple(sorted(exclude)))
        found = self._graders.get(key)
        if found is not None:
            return found
        path = None
        if self.cache_dir is not None and self.digest and self.settings is None:
            name = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
            path = self.cache_dir / f"eval-{self.digest}-{name}.npz"
        models = None
        if path is not None and path.is_file():
            with contextlib.suppress(ModelError):
                models = load_models(path)
        if models is None:
            models = train_models(
                self.corpus.subset(registers=registers), exclude=key[1], settings=self.settings
            )
            if path is not None:
                with contextlib.suppress(OSError):
                    save_models(models, path)
        grader = assemble(models, self.settings)  # type: ignore[arg-type]
        self._graders[key] = grader
        return grader


def report_rows(corpus: Corpus) -> list[RowSpec]:
    """The rows the report measures, discovered from the corpus's registers and key variants."""
    registers = corpus.registers()
    specs = [
        RowSpec("held-out assessment", register, variant)
        for register in registers
        for variant in corpus.key_variants()
        if any(corpus.answer_key(s, variant) for s in corpus.assessments())
    ]
    specs.extend(
        RowSpec("cross-register", tested, FULL_KEY, (trained,))
        for tested in registers
        for trained in registers
        if trained != tested
    )
    return specs


def _grade_row(
    corpus: Corpus,
    spec: RowSpec,
    models: ModelCache,
    names: Sequence[str],
    progress: Callable[[str], None] | None,
) -> tuple[dict[str, list[tuple[LabelledReview, Grade]]], dict[str, list[str]], list[str]]:
    """Grade one row's reviews with the learned matcher and each baseline."""
    results: dict[str, list[tuple[LabelledReview, Grade]]] = {n: [] for n in names}
    bugs: dict[str, list[str]] = {}
    skipped: list[str] = []
    for slug in corpus.assessments():
        items = [i for i in corpus.reviews[slug] if i.register == spec.tested]
        key = corpus.answer_key(slug, spec.key)
        if not items or key is None:
            continue
        if progress is not None:
            progress(f"{spec.row}: {spec.tested} reviews of {slug}, {spec.key} key")
        try:
            grader = models.get(spec.trained, exclude=[slug])
        except ModelError:
            skipped.append(slug)  # nothing left to train on without it
            continue
        bugs[slug] = [b.id for b in key.bugs]
        assessment = corpus.entries[slug].assessment
        for name in names:
            g = grader if name == "grader" else _with_model(grader, BASELINES[name]())
            grades = g.grade_many([i.review for i in items], assessment, key)
            results[name].extend(zip(items, grades, strict=True))
    return results, bugs, skipped


def _rows_of(
    row: str,
    tested: str,
    trained: str,
    results: Mapping[str, list[tuple[LabelledReview, Grade]]],
    bugs: Mapping[str, Sequence[str]],
    rubrics: Mapping[str, Rubric],
    skipped: Sequence[str] = (),
) -> list[Evaluation]:
    out = []
    for config, pairs in results.items():
        if not pairs:
            continue
        ev = score_against_gold(f"{config} · {row} · {tested}", pairs, bugs, rubrics)
        ev.row, ev.config, ev.tested, ev.trained = row, config, tested, trained
        ev.metrics["assessments"] = sorted({item.review.assessment for item, _ in pairs})
        if skipped:
            ev.metrics["skipped_assessments"] = list(skipped)
        out.append(ev)
    return out


def report(
    corpus: Corpus,
    *,
    sealed: Corpus | None = None,
    baselines: Sequence[str] = tuple(BASELINES),
    models: ModelCache | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Evaluation]:
    """Every row of the agreement report, each with the baselines beside the learned grader.

    Parameters
    ----------
    corpus
        Content, labelled reviews of every register and every answer-key variant.
    sealed
        A corpus nothing is trained on (`corpora/sealed`): graded by models trained on all of
        `corpus`, reported as its own rows.
    baselines
        Names from `BASELINES`.
    models
        Where trained graders are kept between rows (and runs, with a cache folder).

    Returns
    -------
    list of Evaluation
        Rows in order: held-out assessment per register and key variant, cross-register,
        per language, then the sealed set; the learned grader first within each row.
    """
    models = models or ModelCache(corpus)
    names = ["grader", *baselines]
    rubrics = {s: e.assessment.rubric for s, e in corpus.entries.items()}
    if sealed is not None:
        rubrics.update({s: e.assessment.rubric for s, e in sealed.entries.items()})
    out: list[Evaluation] = []
    by_language: dict[str, dict[str, list[tuple[LabelledReview, Grade]]]] = {}
    language_bugs: dict[str, list[str]] = {}
    for spec in report_rows(corpus):
        results, bugs, skipped = _grade_row(corpus, spec, models, names, progress)
        tested = f"{spec.tested} reviews, {spec.key} keys"
        out.extend(
            _rows_of(spec.row, tested, spec.describe_training(), results, bugs, rubrics, skipped)
        )
        if spec.row == "held-out assessment" and spec.key == FULL_KEY:
            language_bugs.update(bugs)
            for name, pairs in results.items():
                for item, grade in pairs:
                    language = corpus.entries[item.review.assessment].assessment.language
                    by_language.setdefault(language, {n: [] for n in names})[name].append(
                        (item, grade)
                    )
    for language in sorted(by_language):
        out.extend(
            _rows_of(
                f"language: {language}",
                "all registers, full keys",
                "all registers, other assessments",
                by_language[language],
                language_bugs,
                rubrics,
            )
        )
    if sealed is not None and sealed.assessments():
        out.extend(_sealed_rows(sealed, models.get(None), names, rubrics, progress))
    return out


def _sealed_rows(
    sealed: Corpus,
    grader: Grader,
    names: Sequence[str],
    rubrics: Mapping[str, Rubric],
    progress: Callable[[str], None] | None,
) -> list[Evaluation]:
    """The sealed set graded by models trained on everything else: one row per register of its
    reviews and variant of its keys, each over every sealed assessment that has both."""
    out: list[Evaluation] = []
    for register in sealed.registers():
        for variant in sealed.key_variants():
            results: dict[str, list[tuple[LabelledReview, Grade]]] = {n: [] for n in names}
            bugs: dict[str, list[str]] = {}
            for slug in sealed.assessments():
                key = sealed.answer_key(slug, variant)
                items = [i for i in sealed.reviews[slug] if i.register == register]
                if key is None or not items:
                    continue
                if progress is not None:
                    progress(f"sealed: {slug}, {register} reviews, {variant} keys")
                bugs[slug] = [b.id for b in key.bugs]
                assessment = sealed.entries[slug].assessment
                for name in names:
                    g = grader if name == "grader" else _with_model(grader, BASELINES[name]())
                    grades = g.grade_many([i.review for i in items], assessment, key)
                    results[name].extend(zip(items, grades, strict=True))
            if not bugs:
                continue
            languages = sorted({sealed.entries[s].assessment.language for s in bugs})
            out.extend(
                _rows_of(
                    f"sealed, unseen ({', '.join(languages)})",
                    f"{register} reviews, {variant} keys",
                    "all registers, all assessments",
                    results,
                    bugs,
                    rubrics,
                )
            )
    return out
