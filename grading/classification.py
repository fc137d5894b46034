"""Comment classification: kind (FORMATS.md section 4), tradeoff, and red-flag language.

Three linear models share one sparse representation of a comment: word uni- and bigrams of
its prose (code blocks collapsed to a marker) plus a few cue features that carry across
assessments (a question mark, a heavy-framework name, rewrite wording). Linear models keep
training under a second and make prediction one sparse product, so a batch of thousands of
comments is classified at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from grading.errors import ModelError
from grading.text import FENCE_RE, INLINE_CODE_RE, clip
from grading.types import COMMENT_KINDS

FLAG_CLASSES: tuple[str, ...] = ("none", "rewrite", "framework")

# Heavy frameworks, platforms and services that a small function rarely needs.
HEAVY_TOOLS = (
    "langchain",
    "llamaindex",
    "llama_index",
    "llama-index",
    "haystack",
    "autogen",
    "crewai",
    "semantic kernel",
    "kafka",
    "rabbitmq",
    "celery",
    "airflow",
    "dagster",
    "prefect",
    "temporal",
    "spark",
    "hadoop",
    "flink",
    "kubernetes operator",
    "service mesh",
    "istio",
    "microservice",
    "microservices",
    "graphql",
    "elasticsearch",
    "spring boot",
    "django",
    "ray",
    "dask",
    "event sourcing",
    "cqrs",
    "kubeflow",
    "mlflow",
    "feature store",
    "vector database platform",
)
HEAVY_RE = re.compile(r"\b(" + "|".join(re.escape(t) for t in HEAVY_TOOLS) + r")\b", re.I)
REWRITE_RE = re.compile(
    r"\b(rewrite|rewriting|rewritten|re-write|from scratch|start over|throw (?:it|this|the whole"
    r"[a-z ]*) away|scrap (?:it|this|the)|rebuild (?:it|the whole|everything)|replace the whole"
    r"|redo the whole|burn it down|greenfield)\b",
    re.I,
)
QUESTION_START_RE = re.compile(
    r"^\s*(?:q:|question:)?\s*(?:how|what|why|when|where|which|who|is|are|does|do|did|can|could"
    r"|should|would|will|have|has)\b",
    re.I,
)
TRADEOFF_RE = re.compile(
    r"\b(but|however|cost|costs|tradeoff|trade-off|trade off|at the expense|measure|benchmark"
    r"|profile|before (?:we|you|changing|switching)|first\b.*\bthen|later|short[- ]term"
    r"|long[- ]term|hotfix|unless|depends|if (?:we|you|the)|latency|overhead|worth|risk)\b",
    re.I,
)
STYLE_RE = re.compile(
    r"\b(nit|naming|rename|type hints?|typing|docstring|formatting|pep ?8|lint|whitespace|"
    r"import order|unused import|f-string|camelcase|snake_case|readability|comment(?:s)? )\b",
    re.I,
)
N_CUES = 9


def prose(text: str) -> str:
    """The text a classifier reads: code collapsed to marker words, clipped."""
    text = FENCE_RE.sub(" codeblock ", clip(text))
    return INLINE_CODE_RE.sub(" inlinecode ", text).lower()


def cue_features(texts: Sequence[str]) -> sp.csr_matrix:
    """Dense cues that generalise across assessments, as a sparse block."""
    rows = np.zeros((len(texts), N_CUES), dtype=np.float64)
    for i, raw in enumerate(texts):
        text = clip(raw)
        stripped = text.strip()
        rows[i, 0] = 1.0 if stripped.endswith("?") else 0.0
        rows[i, 1] = min(stripped.count("?"), 3) / 3.0
        rows[i, 2] = 1.0 if QUESTION_START_RE.match(stripped) else 0.0
        rows[i, 3] = min(len(HEAVY_RE.findall(text)), 2) / 2.0
        rows[i, 4] = 1.0 if REWRITE_RE.search(text) else 0.0
        rows[i, 5] = min(len(TRADEOFF_RE.findall(text)), 4) / 4.0
        rows[i, 6] = min(len(STYLE_RE.findall(text)), 3) / 3.0
        rows[i, 7] = min(len(text), 2000) / 2000.0
        rows[i, 8] = 1.0 if not stripped else 0.0
    return sp.csr_matrix(rows)


@dataclass(frozen=True)
class CommentPredictions:
    """Classifier output for a batch of texts, row per text."""

    kind_proba: np.ndarray  # (n, len(COMMENT_KINDS))
    tradeoff_proba: np.ndarray  # (n,)
    flag_proba: np.ndarray  # (n, len(FLAG_CLASSES))

    def kind(self, i: int) -> tuple[str, float]:
        """The most likely kind of text i and its probability."""
        j = int(np.argmax(self.kind_proba[i]))
        return COMMENT_KINDS[j], float(self.kind_proba[i, j])

    def prob(self, i: int, kind: str) -> float:
        """Probability that text i is of `kind`."""
        return float(self.kind_proba[i, COMMENT_KINDS.index(kind)])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class CommentClassifier:
    """Kind, tradeoff and red-flag classifier for review comments.

    Parameters
    ----------
    C
        Inverse regularisation strength of the three logistic regressions.
    min_df
        Minimum document frequency of an n-gram.
    random_state
        Kept for the estimator convention; the lbfgs solver is deterministic.
    """

    def __init__(self, *, C: float = 4.0, min_df: int = 1, random_state: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.random_state = random_state

    def _features(self, texts: Sequence[str]) -> sp.csr_matrix:
        words = self.vectorizer_.transform([prose(t) for t in texts])
        return sp.hstack([words, cue_features(texts)], format="csr")

    def fit(
        self,
        texts: Sequence[str],
        kinds: Sequence[str],
        tradeoffs: Sequence[bool],
        flags: Sequence[str | None],
    ) -> CommentClassifier:
        """Learn from labelled comments; returns self."""
        if not texts:
            raise ModelError("no labelled comments to train the comment classifier on")
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=self.min_df,
            token_pattern=r"(?u)\b\w+\b|\?",
            dtype=np.float64,
        )
        self.vectorizer_.fit([prose(t) for t in texts])
        x = self._features(texts)
        kind_index = {k: i for i, k in enumerate(COMMENT_KINDS)}
        y_kind = np.array([kind_index.get(k, kind_index["other"]) for k in kinds])
        self.kind_coef_, self.kind_intercept_ = self._fit_multi(x, y_kind, len(COMMENT_KINDS))
        y_trade = np.array([1 if t else 0 for t in tradeoffs])
        self.trade_coef_, self.trade_intercept_ = self._fit_binary(x, y_trade)
        flag_index = {f: i for i, f in enumerate(FLAG_CLASSES)}
        y_flag = np.array([flag_index.get(f or "none", 0) for f in flags])
        self.flag_coef_, self.flag_intercept_ = self._fit_multi(x, y_flag, len(FLAG_CLASSES))
        return self

    def _fit_multi(
        self, x: sp.csr_matrix, y: np.ndarray, n_classes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients for every class, even those missing from the training labels."""
        present = np.unique(y)
        coef = np.zeros((n_classes, x.shape[1]))
        intercept = np.full(n_classes, -30.0)
        if len(present) == 1:
            intercept[present[0]] = 0.0
            return coef, intercept
        model = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        model.fit(x, y)
        if len(present) == 2:
            coef[present[1]] = model.coef_[0]
            intercept[present[1]] = model.intercept_[0]
            intercept[present[0]] = 0.0
        else:
            coef[present] = model.coef_
            intercept[present] = model.intercept_
        return coef, intercept

    def _fit_binary(self, x: sp.csr_matrix, y: np.ndarray) -> tuple[np.ndarray, float]:
        if len(np.unique(y)) == 1:
            return np.zeros(x.shape[1]), (30.0 if y[0] else -30.0)
        model = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        model.fit(x, y)
        return model.coef_[0], float(model.intercept_[0])

    def predict(self, texts: Sequence[str]) -> CommentPredictions:
        """Classify a batch of comment texts."""
        if not hasattr(self, "vectorizer_"):
            raise ModelError("the comment classifier is not trained")
        if not texts:
            return CommentPredictions(
                np.zeros((0, len(COMMENT_KINDS))), np.zeros(0), np.zeros((0, len(FLAG_CLASSES)))
            )
        x = self._features(texts)
        kind = _softmax(np.asarray(x @ self.kind_coef_.T) + self.kind_intercept_)
        trade = _sigmoid(np.asarray(x @ self.trade_coef_).ravel() + self.trade_intercept_)
        flag = _softmax(np.asarray(x @ self.flag_coef_.T) + self.flag_intercept_)
        return CommentPredictions(kind, trade, flag)
