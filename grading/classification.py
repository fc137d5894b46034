"""Comment classification: kind (FORMATS.md section 4), tradeoff, and red-flag language.

Three linear models share one sparse representation of a comment: word uni- and bigrams of
its prose (code blocks collapsed to a marker) plus a few cue features that carry across
assessments (a question mark, a heavy-framework name, rewrite wording). Linear models keep
training under a second and make prediction one sparse product, so a batch of thousands of
comments is classified at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, pairwise, repeat
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from grading.errors import ModelError
from grading.text import (
    FENCE_RE,
    INLINE_CODE_RE,
    TextFacts,
    case_sensitive_twin,
    clip,
    contains_any,
)
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
REWRITE_HINTS = (
    "rewrit",
    "re-writ",
    "scratch",
    "start over",
    "throw",
    "scrap",
    "rebuild",
    "replace the whole",
    "redo",
    "burn it",
    "greenfield",
)
QUESTION_WORDS = frozenset(
    [
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "is",
        "are",
        "does",
        "do",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "have",
        "has",
        "q:",
        "question:",
    ]
)
HEAVY_WORDS = frozenset(t for t in HEAVY_TOOLS if " " not in t and "-" not in t and "_" not in t)
HEAVY_PHRASES = tuple(t for t in HEAVY_TOOLS if t not in HEAVY_WORDS)
TRADEOFF_WORDS = frozenset(
    [
        "but",
        "however",
        "cost",
        "costs",
        "tradeoff",
        "tradeoffs",
        "trade",
        "measure",
        "benchmark",
        "profile",
        "later",
        "unless",
        "depends",
        "latency",
        "overhead",
        "worth",
        "risk",
        "hotfix",
        "expense",
        "first",
        "then",
        "before",
        "cheaper",
        "slower",
    ]
)
TRADEOFF_RE = re.compile(
    r"\b(but|however|cost|costs|tradeoff|trade-off|trade off|at the expense|measure|benchmark"
    r"|profile|before (?:we|you|changing|switching)|first\b[^.]{0,80}\bthen|later|short[- ]term"
    r"|long[- ]term|hotfix|unless|depends|if (?:we|you|the)|latency|overhead|worth|risk)\b",
    re.I,
)
STYLE_WORDS = frozenset(
    [
        "nit",
        "naming",
        "rename",
        "hint",
        "hints",
        "typing",
        "docstring",
        "docstrings",
        "formatting",
        "pep8",
        "lint",
        "whitespace",
        "unused",
        "camelcase",
        "snake_case",
        "readability",
        "typo",
        "spelling",
    ]
)
# Words that report something wrong in any codebase; they carry to projects whose vocabulary
# the n-grams have never seen, where a defect report otherwise reads like any other remark.
DEFECT_WORDS = frozenset(
    [
        "bug",
        "bugs",
        "buggy",
        "wrong",
        "incorrect",
        "broken",
        "break",
        "breaks",
        "fail",
        "fails",
        "failed",
        "failing",
        "failure",
        "error",
        "errors",
        "crash",
        "crashes",
        "exception",
        "raise",
        "raises",
        "missing",
        "leak",
        "leaks",
        "race",
        "deadlock",
        "hang",
        "hangs",
        "never",
        "instead",
        "typo",
        "regression",
        "revert",
        "edge",
        "corner",
        "thread",
        "unsafe",
        "security",
        "deprecated",
        "deprecation",
        "compatible",
        "compatibility",
        "version",
        "support",
        "supported",
        "test",
        "tests",
        "assert",
        "none",
        "null",
        "undefined",
        "overflow",
        "should",
        "doesn",
        "isn",
        "shouldn",
        "didn",
        "wasn",
        "aren",
        "not",
        "otherwise",
    ]
)
N_CUES = 10


@functools.cache
def _hint_re(hints: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(h) for h in hints), re.I)


def search(
    pattern: re.Pattern[str],
    text: str,
    hints: tuple[str, ...] = (),
    *,
    lower: str | None = None,
) -> re.Match[str] | None:
    """`text.find(pattern, text)`, skipped when none of the lower-case `hints` occurs in the text.

    Most texts have no hint, and a substring test per hint on the lower-cased text is several
    times cheaper than any case-insensitive regex scan, the hints' own alternation included.
    Outside ASCII, lower-casing and the regex engine's case folding can disagree, so there the
    alternation decides. `lower` is `text.lower()`, when the caller has it already.
    """
    if not text.isascii():
        if hints and _hint_re(hints).search(text) is None:
            return None
        return pattern.search(text)
    if lower is None:
        lower = text.lower()
    if hints and not contains_any(lower, hints):
        return None
    folded = case_sensitive_twin(pattern)
    return pattern.search(text) if folded is None else folded.search(lower)


def prose(text: str) -> str:
    """The text a classifier reads: code collapsed to marker words, clipped."""
    text = clip(text)
    if "`" in text:
        text = FENCE_RE.sub(" codeblock ", text)
        text = INLINE_CODE_RE.sub(" inlinecode ", text)
    return text.lower()


def _heavy_tool_count(facts: TextFacts) -> int:
    """How many heavy frameworks and platforms a text names."""
    count = len(facts.word_set & HEAVY_WORDS)
    for phrase in HEAVY_PHRASES:
        if phrase in facts.lower:
            count += 1
    return count


# The cues of a text with nothing but white space in it.
_BLANK_CUES = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def cue_features(facts: Sequence[TextFacts]) -> sp.csr_matrix:
    """Cues that generalise across assessments, as a sparse block."""
    # Rows built as tuples and turned into an array once: setting an array's cells one by
    # one cost more than computing the cues.
    rows: list[tuple[float, ...]] = []
    for f in facts:
        stripped = f.lower.strip()
        if not stripped:
            rows.append(_BLANK_CUES)
            continue
        rows.append(
            (
                1.0 if stripped.endswith("?") else 0.0,
                min(stripped.count("?"), 3) / 3.0,
                1.0 if stripped.split(None, 1)[0] in QUESTION_WORDS else 0.0,
                min(_heavy_tool_count(f), 2) / 2.0,
                1.0 if search(REWRITE_RE, f.text, REWRITE_HINTS, lower=f.lower) else 0.0,
                min(len(f.word_set & TRADEOFF_WORDS), 4) / 4.0,
                min(len(f.word_set & STYLE_WORDS), 3) / 3.0,
                min(len(f.text), 2000) / 2000.0,
                0.0,
                min(len(f.word_set & DEFECT_WORDS), 4) / 4.0,
            )
        )
    return sp.csr_matrix(np.array(rows, dtype=np.float64).reshape(len(facts), N_CUES))


TOKEN_RE = re.compile(r"\w+|\?")
# Every byte of ASCII text that TOKEN_RE leaves out of its tokens, made a space.
_ASCII_TOKEN_BYTES = bytes(
    c if c < 128 and (chr(c).isalnum() or chr(c) in "_?") else ord(" ") for c in range(256)
)


def tokens(text: str) -> list[str]:
    """The words of a text's prose (and '?' as a word), in order."""
    lowered = prose(text)
    if lowered.isascii():
        # What TOKEN_RE finds, its runs of word characters and lone question marks, is what is
        # left between spaces once every other character is one: a byte table maps them in
        # one C loop, several times faster than the scan. Outside ASCII `\w` takes in letters
        # no such table lists.
        spaced = lowered.encode().translate(_ASCII_TOKEN_BYTES).replace(b"?", b" ? ")
        return spaced.decode().split()
    return TOKEN_RE.findall(lowered)


def grams(words: list[str]) -> list[str]:
    """The unigrams and bigrams of a text's `tokens`, unigrams first."""
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class NgramTfidf:
    """TF-IDF over precomputed n-grams: sublinear tf, smoothed idf, l2-normalised rows.

    The same weighting as scikit-learn's `TfidfVectorizer(sublinear_tf=True)`, without its
    per-document preprocessing, which dominated the cost of classifying a batch.
    """

    def __init__(self, *, min_df: int = 1) -> None:
        self.min_df = min_df

    def fit(self, docs: Sequence[list[str]]) -> NgramTfidf:
        """Learn the vocabulary and idf from each document's tokens; returns self."""
        df: dict[str, int] = {}
        for doc in docs:
            for g in set(grams(doc)):
                df[g] = df.get(g, 0) + 1
        kept = sorted(g for g, c in df.items() if c >= self.min_df)
        self.vocabulary_ = {g: i for i, g in enumerate(kept)}
        n = len(docs)
        self.idf_ = np.array([np.log((1 + n) / (1 + df[g])) + 1.0 for g in kept])
        return self

    def transform(self, docs: Sequence[list[str]]) -> sp.csr_matrix:
        """Rows of l2-normalised tf-idf weights of each document's unigrams and bigrams, from
        its tokens."""
        n_terms = len(self.vocabulary_)
        ids, doc_of = self._term_ids(docs)
        known = ids >= 0
        # One key per (document, term); counted in one sort over the whole batch instead of a
        # dictionary per document. Each row keeps its terms in the order they first occur, as
        # the dictionaries did, so every sum over a row adds in the same order.
        pairs, first, counts = np.unique(
            doc_of[known] * n_terms + ids[known], return_index=True, return_counts=True
        )
        order = np.argsort(first, kind="stable")
        pairs, counts = pairs[order], counts[order]
        cols = pairs % n_terms if n_terms else pairs
        indptr = np.searchsorted(pairs // max(n_terms, 1), np.arange(len(docs) + 1))
        data = (1.0 + np.log(counts.astype(np.float64))) * self.idf_[cols]
        x = sp.csr_matrix((data, cols, indptr), shape=(len(docs), n_terms))
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x

    def _term_ids(self, docs: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary column (-1 if none) of each document's grams, laid out as `grams`
        lists them (a document's unigrams, then its bigrams), and the document of each.

        A bigram is looked up as the pair of its two words' numbers, in one sorted search over
        the batch: spelling out and hashing every bigram of a batch cost more than the rest of
        the transform.
        """
        tables = self._word_tables()
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        flat = list(chain.from_iterable(docs))
        word = np.fromiter(
            map(tables.number.get, flat, repeat(tables.unknown)), dtype=np.int64, count=len(flat)
        )
        doc_of_word = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        first_word = np.cumsum(lengths) - lengths
        position = np.arange(len(flat), dtype=np.int64) - first_word[doc_of_word]
        n_grams = lengths + np.maximum(lengths - 1, 0)
        # Where each word's unigram, and the bigram it opens, sit among its document's grams.
        unigram_at = (np.cumsum(n_grams) - n_grams)[doc_of_word] + position
        bigram_at = unigram_at + lengths[doc_of_word]
        ids = np.full(int(n_grams.sum()), -1, dtype=np.int64)
        ids[unigram_at] = tables.unigram_col[word]
        # A word opens a bigram with the next unless it ends its document; only pairs of words
        # that some known bigram is made of are searched for.
        opening = np.flatnonzero(
            (position < lengths[doc_of_word] - 1)[:-1]
            & tables.opens[word[:-1]]
            & tables.closes[word[1:]]
        )
        keys = word[opening] * (tables.unknown + 1) + word[opening + 1]
        at = np.searchsorted(tables.bigram_keys, keys)
        hit = tables.bigram_keys[np.minimum(at, len(tables.bigram_keys) - 1)] == keys
        ids[bigram_at[opening[hit]]] = tables.bigram_cols[at[hit]]
        doc_of = np.repeat(np.arange(len(docs), dtype=np.int64), n_grams)
        return ids, doc_of

    def _word_tables(self) -> _WordTables:
        """The vocabulary by word numbers (see `_WordTables`), built once per vocabulary."""
        cached = getattr(self, "_tables", None)
        if cached is not None and cached[0] is self.vocabulary_:
            tables: _WordTables = cached[1]
            return tables
        number: dict[str, int] = {}
        for g in self.vocabulary_:
            for w in g.split(" "):
                number.setdefault(w, len(number))
        unknown = len(number)
        unigram_col = np.full(unknown + 1, -1, dtype=np.int64)
        opens = np.zeros(unknown + 1, dtype=bool)
        closes = np.zeros(unknown + 1, dtype=bool)
        keys: list[int] = []
        cols: list[int] = []
        for g, col in self.vocabulary_.items():
            words = g.split(" ")
            if len(words) == 1:
                unigram_col[number[g]] = col
            elif len(words) == 2:
                first, second = number[words[0]], number[words[1]]
                opens[first] = closes[second] = True
                keys.append(first * (unknown + 1) + second)
                cols.append(col)
        order = np.argsort(np.array(keys, dtype=np.int64))
        tables = _WordTables(
            number,
            unknown,
            unigram_col,
            opens,
            closes,
            np.array(keys, dtype=np.int64)[order],
            np.array(cols, dtype=np.int64)[order],
        )
        self._tables = (self.vocabulary_, tables)
        return tables


class _WordTables(NamedTuple):
    """An n-gram vocabulary by numbered words, for looking a batch's grams up in arrays."""

    number: dict[str, int]  # each word of the vocabulary's grams
    unknown: int  # the number of any other word
    unigram_col: np.ndarray  # (unknown + 1,) column of each word as a unigram, -1 if none
    opens: np.ndarray  # (unknown + 1,) whether the word is the first of some bigram
    closes: np.ndarray  # (unknown + 1,) whether it is the second of some bigram
    bigram_keys: np.ndarray  # sorted: first * (unknown + 1) + second
    bigram_cols: np.ndarray  # the column of each key


DEFECT = COMMENT_KINDS.index("defect")


def decide_kinds(kind_proba: np.ndarray, *, defect_threshold: float) -> np.ndarray:
    """The kind index of each row: defect from `defect_threshold`, else the most likely kind.

    The kind models are trained with balanced class weights, so their probabilities assume
    every kind equally likely a priori. Calling a comment a defect once its probability
    passes that prior (1/6) asks "defect or not?" as a balanced two-way question, instead of
    making the defect reading beat each of five others one by one. Out of domain, where a
    defect report shares little vocabulary with training, that is what keeps them found.
    """
    kinds = np.argmax(kind_proba, axis=1)
    if len(kinds):
        kinds[kind_proba[:, DEFECT] >= defect_threshold] = DEFECT
    return kinds


@dataclass(frozen=True)
class CommentPredictions:
    """Classifier output for a batch of texts, row per text."""

    kind_proba: np.ndarray  # (n, len(COMMENT_KINDS))
    tradeoff_proba: np.ndarray  # (n,)
    flag_proba: np.ndarray  # (n, len(FLAG_CLASSES))
    defect_threshold: float = 1.0 / len(COMMENT_KINDS)

    def kind(self, i: int) -> tuple[str, float]:
        """The kind of text i (see `decide_kinds`) and its probability."""
        j = int(decide_kinds(self.kind_proba[i : i + 1], defect_threshold=self.defect_threshold)[0])
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
    defect_threshold
        Probability of `defect` from which a comment is called a defect (see `decide_kinds`);
        None: the balanced prior, 1 / the number of kinds.
    random_state
        Kept for the estimator convention; the lbfgs solver is deterministic.
    """

    def __init__(
        self,
        *,
        C: float = 4.0,
        min_df: int = 2,
        defect_threshold: float | None = None,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.min_df = min_df
        self.defect_threshold = defect_threshold
        self.random_state = random_state

    @property
    def defect_threshold_(self) -> float:
        """The defect threshold in use."""
        if self.defect_threshold is None:
            return 1.0 / len(COMMENT_KINDS)
        return self.defect_threshold

    def decide(self, kind_proba: np.ndarray) -> np.ndarray:
        """The kind index of each row of `kind_proba` (see `decide_kinds`)."""
        return decide_kinds(kind_proba, defect_threshold=self.defect_threshold_)

    def _features(self, facts: Sequence[TextFacts]) -> sp.csr_matrix:
        words = self.vectorizer_.transform([tokens(f.text) for f in facts])
        return sp.hstack([words, cue_features(facts)], format="csr")

    def fit(
        self,
        texts: Sequence[str],
        kinds: Sequence[str],
        tradeoffs: Sequence[bool | None],
        flags: Sequence[str | None],
        *,
        flag_known: Sequence[bool] | None = None,
    ) -> CommentClassifier:
        """Learn from labelled comments; returns self."""
        if not texts:
            raise ModelError("no labelled comments to train the comment classifier on")
        facts = [TextFacts(clip(t)) for t in texts]
        self.vectorizer_ = NgramTfidf(min_df=self.min_df).fit([tokens(t) for t in texts])
        x = self._features(facts)
        kind_index = {k: i for i, k in enumerate(COMMENT_KINDS)}
        y_kind = np.array([kind_index.get(k, kind_index["other"]) for k in kinds])
        self.kind_coef_, self.kind_intercept_ = self._fit_multi(x, y_kind, len(COMMENT_KINDS))
        # Corpora without tradeoff or flag labels (None) teach the kinds only.
        known = np.array([t is not None for t in tradeoffs])
        y_trade = np.array([1 if t else 0 for t in tradeoffs])
        self.trade_coef_, self.trade_intercept_ = self._fit_binary(x[known], y_trade[known])
        flag_index = {f: i for i, f in enumerate(FLAG_CLASSES)}
        y_flag = np.array([flag_index.get(f or "none", 0) for f in flags])
        has_flag = np.array(flag_known if flag_known is not None else [True] * len(flags))
        self.flag_coef_, self.flag_intercept_ = self._fit_multi(
            x[has_flag], y_flag[has_flag], len(FLAG_CLASSES)
        )
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
        # Imported here: grading needs only the learned arrays, and scikit-learn costs every
        # grading process about a second of start-up.
        from sklearn.linear_model import LogisticRegression

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
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.C, max_iter=2000, class_weight=None)
        model.fit(x, y)
        return model.coef_[0], float(model.intercept_[0])

    def predict(self, texts: Sequence[str]) -> CommentPredictions:
        """Classify a batch of comment texts."""
        return self.predict_facts([TextFacts(clip(t)) for t in texts])

    def predict_facts(self, facts: Sequence[TextFacts]) -> CommentPredictions:
        """Classify a batch of texts already tokenised by `TextFacts`."""
        if not hasattr(self, "vectorizer_"):
            raise ModelError("the comment classifier is not trained")
        if not facts:
            return CommentPredictions(
                np.zeros((0, len(COMMENT_KINDS))),
                np.zeros(0),
                np.zeros((0, len(FLAG_CLASSES))),
                self.defect_threshold_,
            )
        x = self._features(facts)
        kind = _softmax(np.asarray(x @ self.kind_coef_.T) + self.kind_intercept_)
        trade = _sigmoid(np.asarray(x @ self.trade_coef_).ravel() + self.trade_intercept_)
        flag = _softmax(np.asarray(x @ self.flag_coef_.T) + self.flag_intercept_)
        return CommentPredictions(kind, trade, flag, self.defect_threshold_)
