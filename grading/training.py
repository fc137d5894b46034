"""Load the labelled corpora and train a `Grader` from them, deterministically.

Training data:

- `corpora/comments/*.jsonl` and the comments of `corpora/reviews/*.jsonl` teach the comment
  classifier (kind, tradeoff, rewrite/framework language);
- the reviews' gold matches teach the match model which (unit, bug) pairs are finds.

`exclude` leaves assessments out of every learned part, which is how leave-one-assessment-out
evaluation keeps the held assessment unseen.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from grading.classification import CommentClassifier
from grading.content import CatalogEntry, check_answer_key, load_catalog
from grading.errors import ModelError, Problem, ReviewFormatError
from grading.index import build_index
from grading.matching import FEATURES, SUMMARY, MatchModel, unit_features
from grading.models import Models, assemble
from grading.reviews import parse_review
from grading.scoring import LevelModel
from grading.synthetic import Correction, parse_correction, synthetic_examples
from grading.text import content_stems
from grading.types import AnswerKey, Review
from grading.units import classify_units, review_units

if TYPE_CHECKING:
    from grading.grader import Grader

MIN_BACKGROUND_DF = 2
# The register of `corpora/reviews/` and the answer keys of `seeded_bugs/`; other registers and
# key variants are named by their folder: `corpora/<name>/reviews/`, `corpora/<name>/keys/`.
PROSE = "prose"
FULL_KEY = "full"
SEALED = "sealed"  # never trained on: corpora/sealed is read only by `evaluate`
RETIRED = "retired"  # sealed sets once read: never trained on, never in the report
APART = (SEALED, RETIRED)
TEXT_COLUMNS = [
    FEATURES.index(n) for n in ("title_cover", "phrase_cover", "description_cover", "cosine")
]


def assessment_of(key: str) -> str:
    """The assessment a corpus key names: `<slug>` for the files, `<slug>@<version>` for a
    stored version of it (its reviews are held out together with the files' ones)."""
    return key.split("@", 1)[0]


def default_root() -> Path:
    """The folder holding assessments/, seeded_bugs/ and corpora/: the checkout this package
    sits in, or, installed from a wheel, the copy packaged as `grading/data/`."""
    package = Path(__file__).resolve().parent
    if (package.parent / "corpora").is_dir():
        return package.parent
    return package / "data"


@dataclass(frozen=True)
class LabelledComment:
    """A single comment with its labels (corpora/comments or a gold review comment)."""

    text: str
    kind: str
    tradeoff: bool | None  # None: the corpus does not label tradeoffs
    flag: str | None
    source: str  # the assessment slug for review comments, the file stem otherwise
    flag_known: bool = True  # False when the corpus does not label red flags
    repository: str | None = None  # the project a real comment was collected from


@dataclass(frozen=True)
class Gold:
    """A human grader's labels for one review (corpora/README.md)."""

    matches: tuple[tuple[str, int], ...]
    summary_priority: tuple[str, ...]
    dimensions: dict[str, float]
    total: float
    red_flags: tuple[tuple[str, int], ...]
    # (kind, tradeoff) of each comment; "" and None where nobody labelled them.
    comments: tuple[tuple[str, bool | None], ...]
    near_misses: tuple[tuple[str, int, str], ...] = ()
    false_alarms: tuple[tuple[str, int], ...] = ()
    # A human grader's word on single (bug, comment) pairs: True found, False not. They
    # override what `matches` implies for those pairs.
    verdicts: tuple[tuple[str, int, bool], ...] = ()
    # False when only `verdicts` and the `dimensions` given are known (a grade still open):
    # the pairs and dimensions not named teach nothing, and the review is not evaluated on.
    complete: bool = True


@dataclass(frozen=True)
class LabelledReview:
    """A corpus review with its gold labels and where it came from."""

    review: Review
    gold: Gold
    file: str
    line: int
    register: str = PROSE  # how it is written: the corpus folder it came from


@dataclass
class Corpus:
    """Everything training and evaluation read: content, labelled reviews and comments."""

    entries: dict[str, CatalogEntry]
    reviews: dict[str, list[LabelledReview]]
    comments: list[LabelledComment]
    problems: list[Problem] = field(default_factory=list)
    # Answer-key variants beside the full keys of `entries`: variant -> slug -> key.
    keys: dict[str, dict[str, AnswerKey]] = field(default_factory=dict)
    # Real one-line defects and their fixes (corpora/corrections), a synthetic match signal.
    corrections: list[Correction] = field(default_factory=list)

    def assessments(self) -> list[str]:
        """Slugs that have both content and labelled reviews, sorted."""
        return sorted(s for s in self.reviews if s in self.entries and self.reviews[s])

    def registers(self) -> list[str]:
        """The registers of the labelled reviews, prose first."""
        found = {i.register for items in self.reviews.values() for i in items}
        return sorted(found, key=lambda r: (r != PROSE, r))

    def key_variants(self) -> list[str]:
        """`full` (the answer keys of `seeded_bugs/`) and every other variant, in that order."""
        return [FULL_KEY, *sorted(v for v in self.keys if v != FULL_KEY)]

    def answer_key(self, slug: str, variant: str = FULL_KEY) -> AnswerKey | None:
        """The answer key of `slug` in a variant, or None when that variant has none."""
        if variant == FULL_KEY:
            entry = self.entries.get(slug)
            return entry.answer_key if entry is not None else None
        return self.keys.get(variant, {}).get(slug)

    def subset(
        self, *, registers: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> Corpus:
        """The same corpus with only the reviews of these registers and without `exclude`d
        assessments (their content and reviews both)."""
        kept = None if registers is None else set(registers)
        dropped = set(exclude)
        reviews = {
            slug: [i for i in items if kept is None or i.register in kept]
            for slug, items in self.reviews.items()
            if slug not in dropped
        }
        entries = {s: e for s, e in self.entries.items() if s not in dropped}
        keys = {v: {s: k for s, k in ks.items() if s not in dropped} for v, ks in self.keys.items()}
        return Corpus(entries, reviews, self.comments, self.problems, keys, self.corrections)


def _gold(raw: Any) -> Gold:
    if not isinstance(raw, dict):
        raise ReviewFormatError("gold", "must be an object")
    try:
        return Gold(
            matches=tuple((str(m["bug"]), int(m["comment"])) for m in raw.get("matches") or []),
            summary_priority=tuple(str(b) for b in raw.get("summary_priority") or []),
            dimensions={str(k): float(v) for k, v in (raw.get("dimensions") or {}).items()},
            total=float(raw.get("total", 0.0)),
            red_flags=tuple(
                (str(f["kind"]), int(f.get("comment", -1))) for f in raw.get("red_flags") or []
            ),
            comments=tuple(
                (str(c.get("kind", "other")), bool(c.get("tradeoff", False)))
                for c in raw.get("comments") or []
            ),
            near_misses=tuple(
                (str(n["bug"]), int(n["comment"]), str(n.get("kind", "")))
                for n in raw.get("near_misses") or []
            ),
            false_alarms=tuple(
                (str(f["decoy"]), int(f["comment"])) for f in raw.get("false_alarms") or []
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReviewFormatError("gold", f"malformed labels: {exc}") from exc


def _read_jsonl(path: Path) -> Iterable[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json.loads(line)


def review_folders(root: Path, *, corpora_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(register, folder) of every labelled review corpus under a project folder.

    `corpora/reviews/` is the prose register; `corpora/<name>/reviews/` is the register
    `<name>`. The sealed set and the sets retired from it are left out: nothing may train on
    them. `corpora_dir` stands for
    `root/corpora`.
    """
    corpora = Path(corpora_dir) if corpora_dir is not None else Path(root) / "corpora"
    found = [(PROSE, corpora / "reviews")]
    if corpora.is_dir():
        found.extend(
            (p.name, p / "reviews")
            for p in sorted(corpora.iterdir())
            if p.is_dir() and p.name not in APART and (p / "reviews").is_dir()
        )
    return found


def key_folders(root: Path, *, corpora_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(variant, folder) of every answer-key variant under `corpora/<name>/keys/`."""
    corpora = Path(corpora_dir) if corpora_dir is not None else Path(root) / "corpora"
    if not corpora.is_dir():
        return []
    return [
        (p.name, p / "keys")
        for p in sorted(corpora.iterdir())
        if p.is_dir() and p.name not in APART and (p / "keys").is_dir()
    ]


def load_corpus(
    root: Path,
    *,
    reviews_dir: Path | None = None,
    comments_dir: Path | None = None,
    corpora_dir: Path | None = None,
) -> Corpus:
    """Read content and labelled corpora under a project folder; bad lines become problems.

    Every register of reviews and every answer-key variant found by `review_folders` and
    `key_folders` is read; `reviews_dir` reads that one folder instead, as the prose register.
    `corpora_dir` stands for `root/corpora`; the assessments they label stay under `root`.
    """
    root = Path(root)
    corpora = Path(corpora_dir) if corpora_dir is not None else root / "corpora"
    catalog = load_catalog(root / "assessments", root / "seeded_bugs", display_root=root)
    entries = {e.assessment.slug: e for e in catalog.entries}
    problems = list(catalog.problems)
    reviews: dict[str, list[LabelledReview]] = {}
    folders = (
        [(PROSE, reviews_dir)]
        if reviews_dir is not None
        else review_folders(root, corpora_dir=corpora)
    )
    for register, folder in folders:
        for path in sorted(folder.glob("*.jsonl")):
            for number, obj in _read_jsonl(path):
                try:
                    review = parse_review(obj)
                    gold = _gold(obj.get("gold"))
                except ReviewFormatError as exc:
                    problems.append(Problem(str(path), number, exc.field, exc.message))
                    continue
                reviews.setdefault(review.assessment, []).append(
                    LabelledReview(review, gold, str(path), number, register)
                )
    keys: dict[str, dict[str, AnswerKey]] = {}
    for variant, folder in key_folders(root, corpora_dir=corpora) if reviews_dir is None else []:
        for path in sorted(folder.glob("*.yaml")):
            entry = entries.get(path.stem)
            if entry is None:
                problems.append(
                    Problem(str(path), None, "assessment", f"no valid assessment {path.stem!r}")
                )
                continue
            key, found = check_answer_key(path, entry.assessment)
            problems.extend(found)
            if key is not None:
                keys.setdefault(variant, {})[path.stem] = key
    comments: list[LabelledComment] = []
    for path in sorted((comments_dir or corpora / "comments").glob("*.jsonl")):
        for number, obj in _read_jsonl(path):
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                problems.append(Problem(str(path), number, "text", "must be a string"))
                continue
            # A corpus that labels kinds only leaves tradeoff null; its flags are unknown too.
            tradeoff = obj.get("tradeoff")
            origin = obj.get("source")
            repository = origin.get("repo") if isinstance(origin, dict) else None
            comments.append(
                LabelledComment(
                    obj["text"],
                    str(obj.get("kind") or "other"),
                    None if tradeoff is None else bool(tradeoff),
                    obj.get("flag"),
                    path.stem,
                    flag_known=tradeoff is not None or obj.get("flag") is not None,
                    repository=str(repository) if repository else None,
                )
            )
    corrections: list[Correction] = []
    if reviews_dir is None:
        for path in sorted((corpora / "corrections").glob("*.jsonl")):
            for number, obj in _read_jsonl(path):
                try:
                    corrections.append(parse_correction(obj))
                except ReviewFormatError as exc:
                    problems.append(Problem(str(path), number, exc.field, exc.message))
    return Corpus(entries, reviews, comments, problems, keys, corrections)


def review_comments(corpus: Corpus, slugs: Iterable[str]) -> list[LabelledComment]:
    """Gold-labelled comments of the reviews of these assessments, flags from gold red flags."""
    out = []
    for slug in slugs:
        for item in corpus.reviews.get(slug, []):
            flags = {c: k for k, c in item.gold.red_flags if k in ("rewrite", "framework")}
            for i, comment in enumerate(item.review.comments):
                if i >= len(item.gold.comments):
                    break
                kind, tradeoff = item.gold.comments[i]
                if not kind:
                    continue  # a grader's decisions said nothing about this comment's kind
                out.append(
                    LabelledComment(
                        comment.body,
                        kind,
                        tradeoff,
                        flags.get(i),
                        slug,
                        flag_known=item.gold.complete,
                    )
                )
    return out


def _fit_classifier(comments: Sequence[LabelledComment]) -> CommentClassifier:
    return CommentClassifier().fit(
        [c.text for c in comments],
        [c.kind for c in comments],
        [c.tradeoff for c in comments],
        [c.flag for c in comments],
        flag_known=[c.flag_known for c in comments],
    )


def background_weights(texts: Iterable[str]) -> dict[str, float]:
    """Stem weights in 0.2..1: words most review comments use weigh little."""
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update(set(content_stems(text)))
    if n < 10:
        return {}
    top = math.log(n)
    return {
        s: max(0.2, min(1.0, math.log(n / c) / top))
        for s, c in df.items()
        if c >= MIN_BACKGROUND_DF
    }


def match_examples(
    corpus: Corpus,
    slug: str,
    classifier: CommentClassifier,
    background: dict[str, float],
    *,
    answer_key: AnswerKey | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(unit, bug) features and labels for one assessment's labelled reviews.

    Gold names the *first* comment that finds each bug, so a later comment about a found bug
    may find it too: those pairs are left out rather than taught as misses. The summary is
    a positive only when gold credits it alone. `answer_key` grades against another variant
    of the key (the same bug ids); by default the full key.
    """
    entry = corpus.entries[slug]
    index = build_index(entry.assessment, answer_key or entry.answer_key, background=background)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    bug_pos = {b.id: j for j, b in enumerate(index.bugs)}
    for item in corpus.reviews[slug]:
        units = review_units(item.review, index)
        if not units:
            continue
        preds = classify_units(classifier, units)
        feats = unit_features(units, index, preds.kind_proba, preds.flag_proba)
        labels = np.zeros((len(units), len(index.bugs)))
        keep = np.full_like(labels, item.gold.complete, dtype=bool)
        gold = dict(item.gold.matches) if item.gold.complete else {}
        for bug, first in gold.items():
            j = bug_pos.get(bug)
            if j is None:
                continue
            for i, unit in enumerate(units):
                if first == SUMMARY:
                    # Only the summary found it; which sentence is unknown, so take the best.
                    if unit.comment == SUMMARY:
                        keep[i, j] = False
                elif unit.comment == first:
                    # Which part of the comment names the bug is unknown: teach the whole.
                    if unit.part:
                        keep[i, j] = False
                    else:
                        labels[i, j] = 1.0
                elif unit.comment == SUMMARY or unit.comment > first:
                    keep[i, j] = False
            if first == SUMMARY:
                rows = [i for i, u in enumerate(units) if u.comment == SUMMARY]
                if rows:
                    best = max(rows, key=lambda r: float(feats[r, j, TEXT_COLUMNS].sum()))
                    labels[best, j] = 1.0
                    keep[best, j] = True
        _apply_verdicts(item.gold.verdicts, units, feats, bug_pos, labels, keep)
        xs.append(feats[keep])
        ys.append(labels[keep])
    if not xs:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)


def _apply_verdicts(
    verdicts: Iterable[tuple[str, int, bool]],
    units: Sequence[Any],
    feats: np.ndarray,
    bug_pos: dict[str, int],
    labels: np.ndarray,
    keep: np.ndarray,
) -> None:
    """Teach a grader's verdicts on single pairs, over whatever the gold matches implied.

    A confirmed or added pair teaches the whole comment as a find (for the summary, its
    sentence most like the bug); a rejected pair teaches every part of the comment as a miss.
    """
    for bug, comment, found in verdicts:
        j = bug_pos.get(bug)
        rows = [i for i, u in enumerate(units) if u.comment == comment]
        if j is None or not rows:
            continue  # a bug no longer in the key, or a comment no longer in the review
        if not found:
            labels[rows, j] = 0.0
            keep[rows, j] = True
            continue
        if comment == SUMMARY:
            best = max(rows, key=lambda r: float(feats[r, j, TEXT_COLUMNS].sum()))
        else:
            best = next((r for r in rows if not units[r].part), rows[0])
        keep[rows, j] = False
        labels[best, j] = 1.0
        keep[best, j] = True


def train_grader(*args: Any, settings: Any = None, **kwargs: Any) -> Grader:
    """Train every learned part on the corpus and build a grader that decides with `settings`;
    see `train_models` for the parameters."""
    return assemble(train_models(*args, settings=settings, **kwargs), settings)


def train_models(*args: Any, **kwargs: Any) -> Models:
    """Train every learned part on the corpus; see `_train` for the parameters.

    BLAS is held to one thread: the problems are small, and spinning threads on a shared
    machine cost more than they save.
    """
    with threadpool_limits(limits=1):
        return _train(*args, **kwargs)


def _train(
    corpus: Corpus, *, exclude: Iterable[str] = (), oof: bool = True, settings: Any = None
) -> Models:
    """Train every learned part on the corpus, leaving out the `exclude`d assessments.

    With `oof`, the match model learns from classifier probabilities predicted by a classifier
    that did not see that assessment's comments, as it will be at grading time. `settings`
    are the thresholds the level models' signals are computed with.
    """
    excluded = set(exclude)
    slugs = [s for s in corpus.assessments() if s not in excluded]
    if not slugs:
        raise ModelError(
            "no labelled reviews to train on (corpora/reviews is empty or every "
            "assessment was excluded)"
        )
    base = list(corpus.comments)
    classifier = _fit_classifier(base + review_comments(corpus, slugs))
    background = background_weights(
        [c.text for c in base] + [c.text for c in review_comments(corpus, slugs)]
    )
    xs, ys = [], []
    trade_x: list[list[float]] = []
    trade_y: list[float] = []
    taste_x: list[list[float]] = []
    taste_y: list[float] = []
    groups = {assessment_of(s) for s in slugs}
    fold_classifiers: dict[str, CommentClassifier] = {}
    for slug in slugs:
        group = assessment_of(slug)
        if oof and len(groups) > 1 and group not in fold_classifiers:
            others = [s for s in slugs if assessment_of(s) != group]
            fold_classifiers[group] = _fit_classifier(base + review_comments(corpus, others))
        fold_classifier = fold_classifiers.get(group, classifier)
        # The same finds against every variant of the key (full, terse): what makes a find must
        # not depend on how long the author's key is.
        for variant in corpus.key_variants():
            key = corpus.answer_key(slug, variant)
            if key is not None:
                x, y = match_examples(corpus, slug, fold_classifier, background, answer_key=key)
                xs.append(x)
                ys.append(y)
        # Review-level signals for the level models, from the same unseen-by-classifier view.
        entry = corpus.entries[slug]
        probe = assemble(Models(fold_classifier, _NoMatches(), background), settings)
        items = corpus.reviews[slug]
        for item, (t, k) in zip(
            items,
            probe.dimension_signals([i.review for i in items], entry.assessment, entry.answer_key),
            strict=True,
        ):
            # An open grade teaches only the dimensions a grader set by hand.
            if item.gold.complete or "tradeoffs" in item.gold.dimensions:
                trade_x.append(t)
                trade_y.append(item.gold.dimensions.get("tradeoffs", 0.0))
            if item.gold.complete or "tool_taste" in item.gold.dimensions:
                taste_x.append(k)
                taste_y.append(item.gold.dimensions.get("tool_taste", 0.0))
    if corpus.corrections:
        x, y = synthetic_examples(corpus.corrections, classifier, background)
        xs.append(x)
        ys.append(y)
    model = MatchModel().fit(np.concatenate(xs), np.concatenate(ys))
    return Models(
        classifier,
        model,
        background,
        tradeoff_model=LevelModel().fit(np.array(trade_x), trade_y),
        taste_model=LevelModel().fit(np.array(taste_x), taste_y),
    )


class _NoMatches:
    """A stand-in match model for computing review-level signals, which need no matches."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[:-1])

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return np.zeros_like(x)
