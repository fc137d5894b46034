"""Retrain on the corpora plus graders' decisions, and compare old and new held out.

The comparison is leave-one-assessment-out: for each assessment, models are trained by the
old recipe (the training set of the active model) and by the new one (the corpora plus every
grader decision), both without that assessment, and both grade its labelled reviews (the
corpora's and the human-finalized ones). The new models replace the old only when they are
*no worse* (`Tolerance`) on all held-out reviews pooled:

- match F1 (bug found or not, per review) at least the old F1 minus `Tolerance.f1`, and
- total MAE (points out of 100) at most the old MAE plus `Tolerance.mae`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grading.content import CatalogEntry
from grading.errors import ModelError
from grading.models import Models, assemble
from grading.persistence import load_models, save_models, training_digest
from grading.training import (
    Corpus,
    LabelledReview,
    assessment_of,
    default_root,
    load_corpus,
    train_models,
)
from grading.types import Grade

ALL = "all held out"
LEGEND = (
    "P/R/F1: bugs found per review against the labels; kappa: Cohen's kappa on found or not; "
    "MAE: mean absolute error of the total (points of 100); QWK: quadratic weighted kappa of "
    "totals in bins of 10; trained on: labelled reviews the held-out models learned from (on "
    "the pooled row, the most any of them did)."
)


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the old models the new ones may measure and still be "no worse".

    f1
        Match F1 may drop by at most this (0..1).
    mae
        Total MAE may rise by at most this many points (of 100).
    """

    f1: float = 0.01
    mae: float = 0.5


@dataclass
class Side:
    """One recipe's held-out figures on one row."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    bug_kappa: float | None = None
    total_mae: float | None = None
    qwk: float | None = None
    trained_on: int = 0  # labelled reviews the models of this row were trained on

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(vars(self))


@dataclass
class Row:
    """One held-out assessment (or all of them pooled): old and new side by side."""

    assessment: str
    reviews: int
    old: Side
    new: Side

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "assessment": self.assessment,
            "reviews": self.reviews,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
        }


@dataclass
class Comparison:
    """The held-out comparison and its verdict."""

    rows: list[Row]
    no_worse: bool
    reason: str
    tolerance: Tolerance
    skipped: list[str] = field(default_factory=list)

    def pooled(self) -> Row:
        """The row of all held-out reviews together."""
        return self.rows[-1]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "rows": [r.to_dict() for r in self.rows],
            "no_worse": self.no_worse,
            "reason": self.reason,
            "tolerance": {"f1": self.tolerance.f1, "mae": self.tolerance.mae},
            "skipped": list(self.skipped),
        }


def count_reviews(corpus: Corpus, exclude: Iterable[str] = ()) -> int:
    """Labelled reviews training would read, without the `exclude`d assessments."""
    dropped = set(exclude)
    return sum(len(items) for slug, items in corpus.reviews.items() if slug not in dropped)


def _side(
    pairs: Sequence[tuple[LabelledReview, Grade]],
    bugs: Mapping[str, Sequence[str]],
    trained_on: int,
) -> Side:
    if not pairs:
        return Side(trained_on=trained_on)
    # Measuring needs scikit-learn and SciPy, which grading alone never loads.
    from grading.evaluation import score_against_gold

    metrics = score_against_gold("held out", pairs, bugs).metrics
    match: Any = metrics["match"]
    total: Any = metrics["total"]
    return Side(
        precision=match["precision"],
        recall=match["recall"],
        f1=match["f1"],
        bug_kappa=metrics["bug_kappa"],  # type: ignore[arg-type]
        total_mae=total["mae"],
        qwk=total["qwk"],
        trained_on=trained_on,
    )


def verdict(old: Side, new: Side, tolerance: Tolerance) -> tuple[bool, str]:
    """Whether `new` is no worse than `old` (see the module's docstring), and why."""
    if old.f1 is None or new.f1 is None or old.total_mae is None or new.total_mae is None:
        return False, "no held-out reviews to compare on: the old models are kept"
    f1_ok = new.f1 >= old.f1 - tolerance.f1
    mae_ok = new.total_mae <= old.total_mae + tolerance.mae
    figures = (
        f"match F1 {new.f1:.3f} vs {old.f1:.3f} (may drop by {tolerance.f1:g}), "
        f"total MAE {new.total_mae:.2f} vs {old.total_mae:.2f} (may rise by {tolerance.mae:g})"
    )
    if f1_ok and mae_ok:
        return True, f"the new models are no worse held out: {figures}"
    worse = [name for name, ok in (("match F1", f1_ok), ("total MAE", mae_ok)) if not ok]
    return False, f"the new models are worse held out on {' and '.join(worse)}: {figures}"


class FoldCache:
    """Held-out models kept on disk by a key naming their training set, so that the old
    recipe's models (often the same from one retrain to the next) are trained once."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def get(self, key: str, train: Callable[[], Models]) -> Models:
        """The models of `key`, trained by `train` when not kept yet (an empty key: always)."""
        path = None
        if self.folder is not None and key:
            name = hashlib.sha256(key.encode()).hexdigest()[:24]
            path = self.folder / f"fold-{name}.npz"
            if path.is_file():
                try:
                    return load_models(path)
                except ModelError:
                    pass
        models = train()
        if path is not None:
            with contextlib.suppress(OSError):  # read-only: the next run trains again
                save_models(models, path)
        return models


def compare(
    old: Corpus,
    new: Corpus,
    *,
    groups: Mapping[str, Sequence[str]],
    tolerance: Tolerance | None = None,
    cache: FoldCache | None = None,
    old_key: str = "",
    new_key: str = "",
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Leave each assessment out in turn; grade its complete labelled reviews with models
    trained by the old and by the new recipe without it.

    Parameters
    ----------
    old, new
        The training sets of the old and of the new recipe. Each review of `new` whose gold
        is complete is graded.
    groups
        Assessment slug -> the corpus keys that are versions of it (a version stored in a
        database may differ from the files); every key of a group is held out together.
    tolerance
        What "no worse" allows (`Tolerance`).
    cache
        Where held-out models are kept between runs; `old_key` and `new_key` name the
        training sets (a digest of what they hold), and an empty key keeps nothing.
    """
    tolerance = tolerance or Tolerance()
    cache = cache or FoldCache(None)
    rows: list[Row] = []
    pooled: dict[str, list[tuple[LabelledReview, Grade]]] = {"old": [], "new": []}
    bugs: dict[str, list[str]] = {}
    trained: dict[str, list[int]] = {"old": [], "new": []}
    skipped: list[str] = []
    for slug in sorted(groups):
        keys = list(groups[slug])
        tested = [
            (key, item)
            for key in keys
            for item in new.reviews.get(key, [])
            if item.gold.complete and key in new.entries
        ]
        if not tested:
            continue
        if progress is not None:
            progress(f"holding out {slug}: training the old and the new models without it")
        sides: dict[str, Side] = {}
        results: dict[str, list[tuple[LabelledReview, Grade]]] = {}
        for name, corpus, key in (("old", old, old_key), ("new", new, new_key)):
            fold_key = f"{key}|{','.join(sorted(keys))}" if key else ""
            try:
                models = cache.get(fold_key, functools.partial(train_models, corpus, exclude=keys))
            except ModelError:
                skipped.append(slug)  # nothing left to train on without it
                break
            grader = assemble(models)
            pairs: list[tuple[LabelledReview, Grade]] = []
            for key_name in keys:
                items = [i for k, i in tested if k == key_name]
                if not items:
                    continue
                entry = new.entries[key_name]
                bugs[items[0].review.assessment] = [b.id for b in entry.answer_key.bugs]
                grades = grader.grade_many(
                    [i.review for i in items], entry.assessment, entry.answer_key
                )
                pairs.extend(zip(items, grades, strict=True))
            results[name] = pairs
            trained[name].append(count_reviews(corpus, keys))
            sides[name] = _side(pairs, bugs, trained[name][-1])
        else:
            rows.append(Row(slug, len(tested), sides["old"], sides["new"]))
            for name in ("old", "new"):
                pooled[name].extend(results[name])
    if not rows:
        raise ModelError(
            "nothing to hold out: leave-one-assessment-out needs labelled reviews of at least "
            "two assessments"
        )
    old_all = _side(pooled["old"], bugs, max(trained["old"], default=0))
    new_all = _side(pooled["new"], bugs, max(trained["new"], default=0))
    rows.append(Row(ALL, len(pooled["new"]), old_all, new_all))
    no_worse, reason = verdict(old_all, new_all, tolerance)
    return Comparison(rows, no_worse, reason, tolerance, skipped)


def format_table(
    comparison: Comparison, examples: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """The comparison as a plain-text table, one line per held-out assessment, old and new."""
    head = (
        f"{'held out':<22} {'reviews':>7}  {'model':<5} {'P':>6} {'R':>6} {'F1':>6} "
        f"{'kappa':>6} {'MAE':>6} {'QWK':>6} {'trained on':>10}"
    )
    lines = [head, "-" * len(head)]

    def fmt(value: float | None, digits: int) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    for row in comparison.rows:
        for name, side in (("old", row.old), ("new", row.new)):
            lines.append(
                f"{row.assessment if name == 'old' else '':<22} "
                f"{row.reviews if name == 'old' else '':>7}  {name:<5} "
                f"{fmt(side.precision, 3):>6} {fmt(side.recall, 3):>6} {fmt(side.f1, 3):>6} "
                f"{fmt(side.bug_kappa, 3):>6} {fmt(side.total_mae, 2):>6} {fmt(side.qwk, 3):>6} "
                f"{side.trained_on:>10}"
            )
    lines.append("")
    lines.extend(textwrap.wrap(LEGEND, width=len(head)))
    if comparison.skipped:
        lines.append(
            f"skipped (nothing left to train on without them): {', '.join(comparison.skipped)}"
        )
    if examples:
        for name, counts in examples.items():
            shown = ", ".join(f"{k} {v}" for k, v in counts.items())
            lines.append(f"{name} model trained on: {shown}")
    return "\n".join(lines)


# -- the corpora plus graders' decisions -----------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """A review a human grader decided on, as a labelled review of the corpus entry `key`.

    `key` is `<slug>@<version>` for a stored version of an assessment (its lines may differ
    from the files the corpora label), held out together with `<slug>`; `source` names where
    the decisions are kept (a submission id).
    """

    source: int
    key: str
    entry: CatalogEntry
    item: LabelledReview

    @property
    def slug(self) -> str:
        """The assessment this is a review of."""
        return assessment_of(self.key)


def with_decisions(base: Corpus, decided: Sequence[Decided]) -> Corpus:
    """The corpus plus these decided reviews, each under its entry's key."""
    entries = dict(base.entries)
    reviews = {slug: list(items) for slug, items in base.reviews.items()}
    for d in decided:
        entries.setdefault(d.key, d.entry)
        reviews.setdefault(d.key, []).append(d.item)
    return Corpus(entries, reviews, base.comments, base.problems, base.keys, base.corrections)


def groups(base: Corpus, decided: Sequence[Decided]) -> dict[str, list[str]]:
    """Assessment slug -> its keys (the files' and each stored version's)."""
    out: dict[str, list[str]] = {slug: [slug] for slug in base.assessments()}
    for d in decided:
        keys = out.setdefault(d.slug, [])
        if d.key not in keys:
            keys.append(d.key)
    return out


def decisions_digest(decided: Sequence[Decided]) -> str:
    """A digest of what these decisions teach, to name held-out models trained with them."""
    raw = "\n".join(f"{d.key}|{d.item.review!r}|{d.item.gold!r}" for d in decided)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def counts(base: Corpus, decided: Sequence[Decided]) -> dict[str, int]:
    """What a training set holds, by source."""
    return {
        "corpus reviews": sum(len(items) for items in base.reviews.values()),
        "corpus comments": len(base.comments),
        "finalized grades": sum(1 for d in decided if d.item.gold.complete),
        "open grades with decisions": sum(1 for d in decided if not d.item.gold.complete),
        "match verdicts": sum(len(d.item.gold.verdicts) for d in decided),
    }


@dataclass
class Refit:
    """The held-out comparison, the new models, and what each training set held."""

    comparison: Comparison
    models: Models
    examples: dict[str, dict[str, int]]

    def table(self) -> str:
        """The side-by-side report as text."""
        return format_table(self.comparison, self.examples)


def refit(
    decided: Sequence[Decided],
    *,
    old_sources: Iterable[int] = (),
    root: Path | None = None,
    corpora_dir: Path | None = None,
    tolerance: Tolerance | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Refit:
    """Compare the old training set (the corpora plus the decisions of `old_sources`) with
    the new one (the corpora plus every decision) held out, and train the new models on all
    of the new set.

    Parameters
    ----------
    decided
        Every decided review, as `Decided`.
    old_sources
        The sources (submission ids) whose decisions the active models learned from.
    root, corpora_dir
        The content and the labelled corpora (`load_corpus`); by default the shipped ones.
    cache_dir
        Where held-out models are kept between runs.
    """
    root = Path(root) if root is not None else default_root()
    base = load_corpus(root, corpora_dir=corpora_dir)
    kept = set(old_sources)
    old_decided = [d for d in decided if d.source in kept]
    source = training_digest(root, corpora_dir=corpora_dir)
    new = with_decisions(base, decided)
    comparison = compare(
        with_decisions(base, old_decided),
        new,
        groups=groups(base, decided),
        tolerance=tolerance,
        cache=FoldCache(cache_dir),
        old_key=f"{source}-{decisions_digest(old_decided)}",
        new_key=f"{source}-{decisions_digest(decided)}",
        progress=progress,
    )
    if progress is not None:
        progress("training the new models on everything")
    examples = {"old": counts(base, old_decided), "new": counts(base, decided)}
    return Refit(comparison, train_models(new), examples)
