"""How the comment classifier's defect class holds up on comments unlike its training data.

Two views, each against a plain baseline (TF-IDF uni- and bigrams and a logistic regression,
trained on real comments only: the labelled GitHub comments of `corpora/comments/`):

- **across projects**: the real comments that name the repository they came from are split
  by repository into folds; each fold is classified by a classifier trained on everything
  except that fold's repositories (so no test repository's vocabulary is seen), and the
  baseline is trained on the other folds' real comments;
- **across registers**: the comments of each register's labelled reviews (prose, terse, ...)
  are classified by a classifier trained on everything but that register's reviews.

The figures are precision, recall and F1 of the defect class, per split and pooled over all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from grading.classification import DEFECT, CommentClassifier
from grading.errors import ModelError
from grading.training import Corpus, LabelledComment, review_comments

DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class DefectScore:
    """Precision, recall and F1 of the defect class on one set of comments."""

    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, gold: Sequence[bool], predicted: Sequence[bool]) -> DefectScore:
        """Count agreement between gold and predicted defect labels."""
        g = np.asarray(gold, dtype=bool)
        p = np.asarray(predicted, dtype=bool)
        return cls(int((g & p).sum()), int((~g & p).sum()), int((g & ~p).sum()))

    def __add__(self, other: DefectScore) -> DefectScore:
        return DefectScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """Share of predicted defects that are defects (0 when none is predicted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of defects predicted as defects (0 when there is none)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class KindSplit:
    """One held-out set: what it is, what trained on it, and both scores."""

    view: str  # "projects" or "registers"
    name: str
    tested: str
    n: int
    n_defects: int
    classifier: DefectScore
    baseline: DefectScore


def repository_folds(comments: Sequence[LabelledComment], k: int) -> list[list[str]]:
    """Repositories dealt into k folds of near-equal comment counts, deterministically.

    Largest repositories first, each to the fold with fewest comments so far (ties to the
    lower fold), so the split depends only on the data.
    """
    sizes = Counter(c.repository for c in comments if c.repository)
    if len(sizes) < k:
        raise ModelError(
            f"splitting by repository needs at least {k} repositories; the labelled comments "
            f"name {len(sizes)}"
        )
    folds: list[list[str]] = [[] for _ in range(k)]
    counts = [0] * k
    for repo, n in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        f = min(range(k), key=lambda i: (counts[i], i))
        folds[f].append(repo)
        counts[f] += n
    return folds


def _fit(comments: Sequence[LabelledComment]) -> CommentClassifier:
    return CommentClassifier().fit(
        [c.text for c in comments],
        [c.kind for c in comments],
        [c.tradeoff for c in comments],
        [c.flag for c in comments],
        flag_known=[c.flag_known for c in comments],
    )


def _predict_defects(classifier: CommentClassifier, texts: Sequence[str]) -> list[bool]:
    kinds = classifier.decide(classifier.predict(texts).kind_proba)
    return [bool(k == DEFECT) for k in kinds]


def baseline_defects(train: Sequence[LabelledComment], texts: Sequence[str]) -> list[bool]:
    """The plain baseline: TF-IDF and a balanced logistic regression, defect or not."""
    labels = [c.kind == "defect" for c in train]
    if len(set(labels)) < 2:
        raise ModelError("the baseline needs defect and non-defect comments to train on")
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    x = vectorizer.fit_transform([c.text for c in train])
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(x, labels)
    return [bool(p) for p in model.predict(vectorizer.transform(list(texts)))]


def evaluate_kinds(
    corpus: Corpus,
    *,
    folds: int = DEFAULT_FOLDS,
    progress: Callable[[str], None] | None = None,
) -> list[KindSplit]:
    """Defect precision/recall/F1 across projects and across registers, with the baseline."""
    with threadpool_limits(limits=1):
        return _evaluate(corpus, folds, progress or (lambda _: None))


def _evaluate(corpus: Corpus, k: int, progress: Callable[[str], None]) -> list[KindSplit]:
    real = [c for c in corpus.comments if c.repository]
    written = [c for c in corpus.comments if not c.repository]
    every_review = review_comments(corpus, corpus.assessments())
    out: list[KindSplit] = []
    if real:
        for number, repos in enumerate(repository_folds(real, k), start=1):
            progress(f"comment kinds, projects fold {number}")
            held = set(repos)
            test = [c for c in real if c.repository in held]
            train_real = [c for c in real if c.repository not in held]
            classifier = _fit(written + every_review + train_real)
            texts = [c.text for c in test]
            gold = [c.kind == "defect" for c in test]
            shown = ", ".join(repos[:3]) + (f" and {len(repos) - 3} more" if len(repos) > 3 else "")
            out.append(
                KindSplit(
                    "projects",
                    f"fold {number}",
                    shown,
                    len(test),
                    sum(gold),
                    DefectScore.of(gold, _predict_defects(classifier, texts)),
                    DefectScore.of(gold, baseline_defects(train_real, texts)),
                )
            )
    for register in corpus.registers():
        test = review_comments(corpus.subset(registers=[register]), corpus.assessments())
        if not test:
            continue
        progress(f"comment kinds, {register} register")
        others = [r for r in corpus.registers() if r != register]
        train = review_comments(corpus.subset(registers=others), corpus.assessments())
        classifier = _fit(written + real + train)
        texts = [c.text for c in test]
        gold = [c.kind == "defect" for c in test]
        baseline = baseline_defects(real, texts) if real else [False] * len(texts)
        out.append(
            KindSplit(
                "registers",
                register,
                f"the {register} reviews' comments",
                len(test),
                sum(gold),
                DefectScore.of(gold, _predict_defects(classifier, texts)),
                DefectScore.of(gold, baseline),
            )
        )
    return out


def format_kinds(splits: Sequence[KindSplit]) -> str:
    """The kinds section of the evaluation report, with a pooled line per view."""
    header = (
        f"  {'':12} {'n':>4} {'defects':>7}   {'classifier P':>12} {'R':>6} {'F1':>6}"
        f"   {'baseline P':>10} {'R':>6} {'F1':>6}   tested on"
    )
    lines = ["Comment kinds: the defect class held out (see grading/kinds.py)"]
    for view, title in (
        ("projects", "across projects: real GitHub comments, each fold's repositories unseen"),
        ("registers", "across registers: each register's review comments unseen"),
    ):
        rows = [s for s in splits if s.view == view]
        if not rows:
            continue
        lines.append("")
        lines.append(title)
        lines.append(header)
        pooled = KindSplit(
            view,
            "pooled",
            "all of the above",
            sum(s.n for s in rows),
            sum(s.n_defects for s in rows),
            sum((s.classifier for s in rows), DefectScore(0, 0, 0)),
            sum((s.baseline for s in rows), DefectScore(0, 0, 0)),
        )
        for s in [*rows, pooled] if len(rows) > 1 else rows:
            c, b = s.classifier, s.baseline
            lines.append(
                f"  {s.name:12} {s.n:4d} {s.n_defects:7d}   {c.precision:12.3f} {c.recall:6.3f} "
                f"{c.f1:6.3f}   {b.precision:10.3f} {b.recall:6.3f} {b.f1:6.3f}   {s.tested}"
            )
    lines.append("")
    lines.append(
        "classifier: the grader's comment classifier, trained on the written comments, the "
        "other folds' real comments and the review comments; baseline: TF-IDF uni/bigrams + "
        "logistic regression trained on the real comments of the other folds (all of them, for "
        "registers)."
    )
    return "\n".join(lines)
