"""Match review comments to seeded bugs.

Every comment, and every sentence of the summary, is a *unit* (units.py). For each unit and
each seeded bug the matcher computes signals that carry over to assessments it has never seen:

- where the comment points: same file, overlap with the bug's line ranges, line distance, a line
  number named in the prose, whether it points at another bug or at a decoy instead;
- what it says: share of the bug's title, description and phrases it covers after stemming
  (weighted so words every bug uses count little), TF-IDF cosine, rapidfuzz similarity to the
  title and phrases, and identifiers from the bug's own code lines that it names;
- how it says it: the comment classifier's probability that it reports a defect;
- how each text signal compares with the best *other* bug, so a comment is given to the bug it
  is most about.

A small learned model turns these into a calibrated probability that the unit finds the bug.
What depends only on the assessment and its answer key is read once into an `AssessmentIndex`
(index.py), so per-comment work is tokenising the comment and a few sparse products over the
whole batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import repeat
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process

from grading.corrections import asks_correction, drops_fix, is_bare_code, line_tokens, writes_fix
from grading.errors import ModelError
from grading.index import NO_FILE, UNKNOWN_FILE, AssessmentIndex, Target
from grading.text import FENCE_RE, line_refs
from grading.types import SUMMARY, LineRange
from grading.units import Unit, UnitText

DIGIT_RE = re.compile(r"\d")
FAR = 60  # line distance treated as "nowhere near"
# Prior mass, in background-weighted words, in the denominator of a comment's precision on a
# bug's text: a one-word comment whose word the key happens to use ("off by one" against a
# description that says "one" in passing) has shown little, not everything.
PRECISION_PRIOR = 1.0
# The red-flag classifier's probability (rewrite plus framework) from which a comment proposes
# replacing the code rather than correcting it.
REPLACE_BAR = 0.5
# The least P(found) of a comment writing the key's own correction on the bug's lines: sure
# enough to grade without a human (the grader's uncertain band ends at 0.8).
KEYS_FIX_FLOOR = 0.8

FEATURES: tuple[str, ...] = (
    "anchored",
    "same_file",
    "wrong_file",
    "in_range",
    "near_range",
    "line_distance",
    "other_bug_in_range",
    "decoy_in_range",
    "bug_unplaced",
    "prose_line_hit",
    "title_cover",
    "phrase_cover",
    "description_cover",
    "description_precision",
    # Share of the title's cause words that the comment says: the title's words that are not
    # the code's own ("cancelled" in "workers are never cancelled", beside `pending` and
    # `budget` of the lines). A comment on the lines that repeats the code's words but names
    # another cause shares the location, not the diagnosis. Titles are one line in every key,
    # so this reads the same against a one-line key and a page-long one.
    "diagnosis_cover",
    "cosine",
    "identifier_weight",
    "identifier_count",
    "code_words",
    "fuzzy_title",
    "fuzzy_phrase",
    "title_margin",
    "phrase_margin",
    "description_margin",
    "cosine_margin",
    "identifier_margin",
    "best_text_bug",
    "decoy_similarity",
    "p_defect",
    "p_question",
    "p_style",
    "p_praise",
    "is_summary",
    "length",
    "pasted",
    # A comment read as a correction (corrections.py), normalised by what the comment says so
    # that a one-line comment and a one-line key can score as high as long ones.
    "token_key_share",
    "token_new_value",
    # Whether the comment states a defect or its correction in reviewers' words ("should be",
    # "typo", "doesn't"), and that times its precision on the key: on the bug's lines, a stated
    # correction in the key's own words is a find; "off by one" against a key about another
    # defect is not.
    "states_correction",
    "correction_precision",
    # A comment on (or beside) the bug's lines that writes, as a correction, code the key
    # writes and the lines lack, and nothing else new (`corrections.writes_fix`): RUBRIC.md's
    # "states the correction, on the code". `MatchModel` holds such a pair at KEYS_FIX_FLOOR.
    "writes_keys_fix",
    # How much the key says: a one-line key and a page-long one give the same comment very
    # different covers, so the model learns each text signal's weight per key size.
    "key_size",
)
KEY_SIZE_SIGNALS: tuple[str, ...] = (
    "title_cover",
    "phrase_cover",
    "description_cover",
    "description_precision",
    "cosine",
    "fuzzy_title",
    "fuzzy_phrase",
)
# Pointing at the bug's lines makes a moderate diagnosis a find: the anchor times each text
# signal lets a linear model say so.
INTERACTION_SIGNALS: tuple[str, ...] = (
    "description_precision",
    "diagnosis_cover",
    "phrase_cover",
    "title_cover",
    "identifier_count",
    "p_defect",
)
# Code tokens the key names are read only on the bug's lines: "should be 16" there states the
# key's correction; the same words elsewhere are about other code.
ANCHORED_SIGNALS: tuple[str, ...] = (
    "token_key_share",
    "token_new_value",
    "states_correction",
    "correction_precision",
)
# Both anchors: a correction is often anchored a line or two off the lines the key names.
INTERACTIONS: tuple[tuple[str, str], ...] = tuple(
    (anchor, signal)
    for anchor in ("in_range", "near_range")
    for signal in INTERACTION_SIGNALS + ANCHORED_SIGNALS
)
FEATURES += tuple(f"key_size_x_{signal}" for signal in KEY_SIZE_SIGNALS)
FEATURES += tuple(f"{anchor}_x_{signal}" for anchor, signal in INTERACTIONS)
F = {name: i for i, name in enumerate(FEATURES)}


# -- features ------------------------------------------------------------------------------------


def _margin(values: np.ndarray) -> np.ndarray:
    """Each column minus the best of the other columns (0 with a single column)."""
    if values.shape[1] < 2:
        return np.zeros_like(values)
    top2 = np.sort(values, axis=1)[:, -2:]
    best, second = top2[:, 1:2], top2[:, 0:1]
    others = np.where(values >= best, second, best)
    return values - others


def _range_distance(ranges: Sequence[LineRange], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Line distance from each [start, end] to the nearest range (0 inside); FAR without ranges."""
    best = np.full(start.shape, FAR, dtype=np.float64)
    for r in ranges:
        d = np.maximum(np.maximum(r.start - end, start - r.end), 0)
        best = np.minimum(best, d)
    return best


def unit_features(
    units: Sequence[Unit],
    index: AssessmentIndex,
    kind_proba: np.ndarray,
    flag_proba: np.ndarray | None = None,
) -> np.ndarray:
    """Signals for every (unit, bug) pair: an array (n_units, n_bugs, len(FEATURES)).

    `kind_proba` is the comment classifier's output for the units, one row each, in the
    column order of `COMMENT_KINDS`; `flag_proba` its red-flag output in the order of
    `FLAG_CLASSES` (none: no comment proposes a rewrite or a framework). What a unit says is
    read once per text (units of a `TextMemo` share their texts); where it points and how the
    classifier read it, per unit.
    """
    n, b = len(units), len(index.bugs)
    if n == 0 or b == 0:
        return np.zeros((n, b, len(FEATURES)))
    fresh = list(
        {
            id(u.read): u.read for u in units if u.read.said is None or u.read.said[0] is not index
        }.values()
    )
    said = _text_features(fresh, index)
    for i, t in enumerate(fresh):
        t.said = (index, said[i])
    # Every unit its own text, in order: the rows are the units'; else gather them.
    out = said.copy() if len(fresh) == n else np.stack([u.read.said[1] for u in units])  # type: ignore[index]
    out[:, :, F["p_defect"]] = kind_proba[:, 0:1]
    out[:, :, F["p_style"]] = kind_proba[:, 1:2]
    out[:, :, F["p_question"]] = kind_proba[:, 2:3]
    out[:, :, F["p_praise"]] = kind_proba[:, 4:5]
    out[:, :, F["is_summary"]] = np.array([u.comment == SUMMARY for u in units], dtype=np.float64)[
        :, None
    ]
    out[:, :, F["pasted"]] = np.array([u.pasted for u in units])[:, None]
    replacing = np.zeros(n, dtype=bool)
    if flag_proba is not None:
        # "Should be a Temporal workflow", "use LangChain instead": a comment proposing to
        # replace the code (a rewrite, a framework) words the replacement, not a correction.
        replacing = flag_proba[:, 1:].sum(axis=1) >= REPLACE_BAR
        out[replacing, :, F["states_correction"]] = 0.0
        out[replacing, :, F["correction_precision"]] = 0.0
    _anchor_features(out, units, index)
    _keys_fix_feature(out, units, index, replacing)
    out[:, :, F["key_size"]] = index.key_size[None, :]
    for signal in KEY_SIZE_SIGNALS:
        out[:, :, F[f"key_size_x_{signal}"]] = index.key_size[None, :] * out[:, :, F[signal]]
    for anchor, signal in INTERACTIONS:
        out[:, :, F[f"{anchor}_x_{signal}"]] = out[:, :, F[anchor]] * out[:, :, F[signal]]
    return out


def _text_features(units: Sequence[UnitText], index: AssessmentIndex) -> np.ndarray:
    """The columns of `unit_features` that a unit's text alone decides, one row per unit."""
    n, b = len(units), len(index.bugs)
    out = np.zeros((n, b, len(FEATURES)))
    vocab = index.vocab
    cols: list[int] = []  # the vocabulary rows each unit uses, unit after unit
    counts: list[int] = []  # how many each unit uses
    stem_counts: list[int] = []
    masses: list[float] = []  # background-weighted count of each unit's stems
    general = index.background
    stem_rows, identifier_rows = index.stem_rows, index.identifier_rows
    # Set operations with the vocabulary's keys pick a unit's known words in one call each.
    stem_keys, identifier_keys = stem_rows.keys(), identifier_rows.keys()
    stem_strings = []
    for unit in units:
        facts = unit.facts
        stems = set(facts.stems)
        known_stems = stems & stem_keys
        known_identifiers = facts.identifiers & identifier_keys
        cols.extend(map(stem_rows.__getitem__, known_stems))
        cols.extend(map(identifier_rows.__getitem__, known_identifiers))
        counts.append(len(known_stems) + len(known_identifiers))
        stem_counts.append(len(stems))
        masses.append(sum(map(general.get, stems, repeat(1.0))))
        stem_strings.append(" ".join(sorted(stems)))
    rows = np.repeat(np.arange(n), counts)
    n_stems = np.array(stem_counts, dtype=np.float64)
    mass = np.array(masses, dtype=np.float64)
    u = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(vocab)))

    def cover(mat: np.ndarray) -> np.ndarray:
        total = mat.sum(axis=0)
        return np.asarray(u @ mat) / np.where(total > 0, total, 1.0)

    desc_cover = cover(index.desc)
    title_cover = cover(index.title)
    code_words = cover(index.code)
    ident_weight = np.log1p(np.asarray(u @ index.ident))
    ident_count = np.asarray(u @ index.ident_bin)
    # Share of what the unit says that the bug's text says too, each word weighted by how
    # rarely review comments use it, and smoothed by a prior mass so few words show little.
    desc_precision = np.asarray(u @ index.desc_general) / (mass + PRECISION_PRIOR)[:, None]
    phrase_scores = np.asarray(u @ index.phrase)
    phrase_cover = np.zeros((n, b))
    np.maximum.at(phrase_cover.T, index.phrase_owner, phrase_scores.T)
    # Cosine between the unit and each bug text, both weighted by the index's idf.
    uw = u.multiply(index.stem_weight[None, :]).tocsr()
    in_vocab = np.asarray(u.sum(axis=1)).ravel()
    unit_norm = np.sqrt(
        np.asarray(uw.multiply(uw).sum(axis=1)).ravel() + np.maximum(n_stems - in_vocab, 0.0)
    )
    cosine = np.asarray(uw @ index.desc) / (
        np.maximum(unit_norm, 1e-9)[:, None] * np.maximum(index.desc_norm, 1e-9)[None, :]
    )
    fuzzy_title = (
        process.cdist(
            stem_strings,
            index.title_strings,
            scorer=fuzz.token_set_ratio,
            dtype=np.float32,
            workers=1,
        )
        / 100.0
    )
    # One bag per bug keeps this a handful of comparisons per unit, whatever the phrase count.
    fuzzy_phrase = (
        process.cdist(
            stem_strings,
            index.phrase_bags,
            scorer=fuzz.token_set_ratio,
            dtype=np.float32,
            workers=1,
        )
        / 100.0
    )

    out[:, :, F["title_cover"]] = title_cover
    out[:, :, F["phrase_cover"]] = phrase_cover
    out[:, :, F["description_cover"]] = desc_cover
    out[:, :, F["description_precision"]] = desc_precision
    out[:, :, F["diagnosis_cover"]] = cover(index.diagnosis)
    out[:, :, F["cosine"]] = cosine
    out[:, :, F["identifier_weight"]] = ident_weight
    out[:, :, F["identifier_count"]] = np.minimum(ident_count, 5.0) / 5.0
    out[:, :, F["code_words"]] = code_words
    out[:, :, F["fuzzy_title"]] = fuzzy_title
    out[:, :, F["fuzzy_phrase"]] = fuzzy_phrase
    out[:, :, F["title_margin"]] = _margin(title_cover)
    out[:, :, F["phrase_margin"]] = _margin(phrase_cover)
    out[:, :, F["description_margin"]] = _margin(desc_cover)
    out[:, :, F["cosine_margin"]] = _margin(cosine)
    out[:, :, F["identifier_margin"]] = _margin(ident_weight)
    text_score = desc_cover + phrase_cover + cosine + 0.2 * ident_weight
    out[:, :, F["best_text_bug"]] = (text_score >= text_score.max(axis=1, keepdims=True)) & (
        text_score > 0
    )
    if index.decoy.shape[1]:
        decoy_sim = np.asarray(u @ index.decoy) / np.maximum(index.decoy.sum(axis=0), 1e-9)
        out[:, :, F["decoy_similarity"]] = decoy_sim.max(axis=1)[:, None]
    out[:, :, F["length"]] = (np.log1p(n_stems) / 5.0)[:, None]
    correction = np.array([u.correction for u in units], dtype=np.float64)[:, None]
    out[:, :, F["states_correction"]] = correction
    out[:, :, F["correction_precision"]] = correction * desc_precision
    _correction_features(out, units, index)
    _prose_line_features(out, units, index)
    return out


def _correction_features(
    out: np.ndarray, units: Sequence[UnitText], index: AssessmentIndex
) -> None:
    """Fill the correction columns: the share of the comment's code tokens that the key names,
    and whether it names one the key has and the bug's lines lack (the corrected value)."""
    n = out.shape[0]
    token_vocab = index.token_vocab
    known = [unit.tokens & token_vocab.keys() for unit in units]
    rows = np.repeat(np.arange(n), [len(k) for k in known])
    cols = [token_vocab[t] for k in known for t in k]
    n_tokens = np.array([len(unit.tokens) for unit in units], dtype=np.float64)
    tok = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n, max(len(index.token_vocab), 1))
    )
    has = np.maximum(n_tokens, 1.0)[:, None]
    if index.token_vocab:
        out[:, :, F["token_key_share"]] = np.asarray(tok @ index.key_tok) / has
        out[:, :, F["token_new_value"]] = np.asarray(tok @ index.new_tok) > 0


def _keys_fix_feature(
    out: np.ndarray, units: Sequence[Unit], index: AssessmentIndex, replacing: np.ndarray
) -> None:
    """Fill `writes_keys_fix` in place: only units on or beside a bug's lines can, so only
    they are read. A comment proposing to replace the code (`replacing`) corrects nothing."""
    near = out[:, :, F["near_range"]] > 0
    for r in np.flatnonzero(near.any(axis=1) & ~replacing).tolist():
        unit = units[r]
        bare = is_bare_code(unit.text)
        if not (bare or unit.correction or asks_correction(unit.text)):
            continue
        suggested = _suggestion(unit, index) if bare else None
        for j in np.flatnonzero(near[r]).tolist():
            lines, key_code = index.line_token_sets[j], index.key_code_sets[j]
            if writes_fix(unit.tokens, lines, key_code, bare=bare) or (
                suggested is not None and drops_fix(suggested[0], suggested[1], key_code)
            ):
                out[r, j, F["writes_keys_fix"]] = 1.0


def _suggestion(unit: Unit, index: AssessmentIndex) -> tuple[frozenset[str], frozenset[str]] | None:
    """A suggestion block's code tokens and those of the lines it would replace, or None
    when the unit holds no block or points at no line of a known file."""
    blocks = [m.group(1) for m in FENCE_RE.finditer(unit.text)]
    if len(blocks) != 1 or unit.start is None or unit.file_index < 0:
        return None
    source = index.assessment.files[unit.file_index].text.splitlines()
    end = unit.end if unit.end is not None else unit.start
    replaced = "\n".join(source[unit.start - 1 : end])
    return line_tokens(blocks[0]), line_tokens(replaced)


def _anchor_features(out: np.ndarray, units: Sequence[Unit], index: AssessmentIndex) -> None:
    """Fill the anchor columns of `out` (n_units, n_bugs, n_features) in place, vectorised."""
    n = len(units)
    anchored = np.array([u.start is not None for u in units])
    start = np.array(
        [u.start if u.start is not None else -(10**6) for u in units], dtype=np.float64
    )
    end = np.array([u.end if u.end is not None else -(10**6) for u in units], dtype=np.float64)
    file_index = np.array([u.file_index for u in units])
    no_file = file_index == NO_FILE

    def inside(target: Target) -> np.ndarray:
        if not target.ranges:
            return np.zeros(n, dtype=bool)
        same = (file_index == target.file_index) | no_file
        return anchored & same & (_range_distance(target.ranges, start, end) == 0)

    in_bug = np.stack([inside(t) for t in index.targets], axis=1)  # (n, B)
    in_decoy = np.zeros(n, dtype=bool)
    for decoy in index.decoy_targets:
        in_decoy |= inside(decoy)
    any_bug: np.ndarray = np.asarray(in_bug.any(axis=1))
    out[:, :, F["decoy_in_range"]] = in_decoy[:, None]
    out[:, :, F["other_bug_in_range"]] = any_bug[:, None] & ~in_bug
    out[:, :, F["anchored"]] = anchored[:, None]
    for j, target in enumerate(index.targets):
        col = out[:, j]
        col[:, F["bug_unplaced"]] = 0.0 if target.ranges else 1.0
        wrong = anchored & (
            (file_index == UNKNOWN_FILE)
            | ((file_index >= 0) & (target.file_index >= 0) & (file_index != target.file_index))
        )
        same = anchored & (file_index == target.file_index)
        col[:, F["wrong_file"]] = wrong
        col[:, F["same_file"]] = same
        if target.ranges:
            d = _range_distance(target.ranges, start, end)
            placed = anchored & ~wrong
            col[:, F["in_range"]] = placed & (d == 0)
            col[:, F["near_range"]] = placed & (d <= 3)
            distance = np.log1p(np.minimum(d, FAR)) / math.log1p(FAR)
            col[:, F["line_distance"]] = np.where(wrong, 1.0, np.where(placed, distance, 0.5))
        else:
            col[:, F["line_distance"]] = np.where(wrong, 1.0, 0.5)


def _prose_line_features(
    out: np.ndarray, units: Sequence[UnitText], index: AssessmentIndex
) -> None:
    """Line numbers named in prose ("line 44") point too, in whichever file."""
    owners: list[int] = []  # the unit naming each line reference
    starts: list[int] = []
    ends: list[int] = []
    for i, unit in enumerate(units):
        if not DIGIT_RE.search(unit.text):
            continue
        for start, end in line_refs(unit.text):
            owners.append(i)
            starts.append(start)
            ends.append(end)
    if not owners:
        return
    # Every reference of the batch against each bug at once, not each unit's on its own.
    owner = np.array(owners)
    a = np.array(starts, dtype=np.float64)
    b = np.array(ends, dtype=np.float64)
    for j, target in enumerate(index.targets):
        if target.ranges:
            hit = owner[_range_distance(target.ranges, a, b) <= 1]
            out[hit, j, F["prose_line_hit"]] = 1.0


# -- the learned combiner ------------------------------------------------------------------------


class PairScorer(Protocol):
    """Anything that turns pair features into P(found): the learned model or a baseline."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...

    def contributions(self, x: np.ndarray) -> np.ndarray: ...


class MatchModel:
    """Logistic regression over the matching signals: a calibrated P(unit finds bug).

    Parameters
    ----------
    C
        Inverse regularisation strength; small, because a handful of assessments must
        generalise to the next one.
    random_state
        Kept for the estimator convention; the lbfgs solver is deterministic.
    """

    def __init__(self, *, C: float = 0.5, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: np.ndarray) -> MatchModel:
        """Learn from pair features `x` (n, len(FEATURES)) and 0/1 labels `y`; returns self."""
        if len(np.unique(y)) < 2:
            raise ModelError("matching needs both found and not-found examples to train on")
        # scikit-learn is needed to train, not to grade: importing it costs every grading
        # process about a second of start-up.
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        # `writes_keys_fix` is a rule (see `predict_proba`), not a weight: the other signals'
        # weights are learned as if it were not there.
        x = x.copy()
        x[..., F["writes_keys_fix"]] = 0.0
        self.scaler_ = StandardScaler().fit(x)
        model = LogisticRegression(C=self.C, max_iter=5000)
        model.fit(self.scaler_.transform(x), y)
        scale = np.where(self.scaler_.scale_ > 0, self.scaler_.scale_, 1.0)
        # Fold the scaler into the weights so prediction is one dot product.
        self.coef_ = model.coef_[0] / scale
        self.intercept_ = float(model.intercept_[0] - (self.scaler_.mean_ / scale) @ model.coef_[0])
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(found) for each row of `x` (any leading shape, last axis the features).

        A comment writing the key's own correction on the bug's lines is a find by the
        rubric, however few words it shares with the key: it is held at KEYS_FIX_FLOOR, which
        the weights alone, learned from keys that spell out few corrections, may not reach.
        """
        if not hasattr(self, "coef_"):
            raise ModelError("the match model is not trained")
        z = x @ self.coef_ + self.intercept_
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        return np.where(x[..., F["writes_keys_fix"]] > 0, np.maximum(p, KEYS_FIX_FLOOR), p)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's additive share of the log-odds, for explanations."""
        return x * self.coef_
