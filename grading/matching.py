"""Match review comments to seeded bugs.

Every comment, and every sentence of the summary, is a *unit*. For each unit and each seeded
bug the matcher computes signals that carry over to assessments it has never seen:

- where the comment points: same file, overlap with the bug's line ranges, line distance, a line
  number named in the prose, whether it points at another bug or at a decoy instead;
- what it says: share of the bug's title, description and phrases it covers after stemming
  (weighted so words every bug uses count little), TF-IDF cosine, rapidfuzz similarity to the
  title and phrases, and identifiers from the bug's own code lines that it names;
- how it says it: the comment classifier's probability that it reports a defect;
- how each text signal compares with the best *other* bug, so a comment is given to the bug it
  is most about.

A small learned model turns these into a calibrated probability that the unit finds the bug.
`AssessmentIndex` holds everything that depends only on the assessment and its answer key; it
is built once and cached, so per-comment work is tokenising the comment and a few sparse
products over the whole batch.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process

from grading.classification import CommentClassifier, CommentPredictions
from grading.corrections import (
    asks_correction,
    code_tokens,
    drops_fix,
    is_bare_code,
    line_tokens,
    only_vague,
    reports_symptom,
    states_correction,
    writes_fix,
)
from grading.errors import ModelError
from grading.outline import Holder, holder_of
from grading.text import (
    FENCE_RE,
    TextFacts,
    clip,
    code_spans,
    content_stems,
    identifiers,
    line_refs,
    sentences,
)
from grading.types import (
    SUMMARY,
    AnswerKey,
    Assessment,
    Comment,
    Decoy,
    LineRange,
    Review,
    SeededBug,
)

DIGIT_RE = re.compile(r"\d")
NO_FILE = -1
UNKNOWN_FILE = -2
FAR = 60  # line distance treated as "nowhere near"
QUOTED_LINES_KEPT = 3  # pasted snippet lines beyond these are quotation, not diagnosis
PART_RE = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
MIN_PART_CHARS = 30
MAX_PARTS = 6
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


class UnitText:
    """What a unit's text alone decides: its tokens, code tokens, whether it states a
    correction and whether it only voices unease, and once read, how the classifier reads it
    and its text signals against an index's bugs. Units with the same text in a batch share
    one (see `review_units`), so a comment pasted into many reviews is read once."""

    __slots__ = (
        "_correction",
        "_symptom",
        "_vague",
        "classes",
        "cues",
        "facts",
        "positions",
        "said",
        "text",
        "tokens",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.facts = TextFacts(text)
        self.tokens = code_tokens(text)
        self._correction: bool | None = None
        self._symptom: bool | None = None
        self._vague: bool | None = None
        # Filled on first use, each with the model or index it was computed for: the
        # classifier's (kind, tradeoff, flag) reading, the text columns of `unit_features`,
        # where each bug is first mentioned, and scoring's cue lookups.
        self.classes: tuple[CommentClassifier, np.ndarray, float, np.ndarray] | None = None
        self.said: tuple[AssessmentIndex, np.ndarray] | None = None
        self.positions: tuple[AssessmentIndex, list[int]] | None = None
        self.cues: dict[str, bool] = {}

    @property
    def vague(self) -> bool:
        """Whether the text voices unease without saying what is wrong (corrections.py)."""
        if self._vague is None:
            self._vague = only_vague(self.text)
        return self._vague

    @property
    def correction(self) -> bool:
        """Whether the text states a defect or its correction (corrections.py), read once."""
        if self._correction is None:
            self._correction = states_correction(self.text)
        return self._correction

    @property
    def symptom(self) -> bool:
        """Whether the text reports a symptom seen when running the code (corrections.py),
        read once: routing asks it of a comment for each question it answers."""
        if self._symptom is None:
            self._symptom = reports_symptom(self.text)
        return self._symptom


TextMemo = dict[str, UnitText]


def unit_text(text: str, memo: TextMemo | None) -> UnitText:
    """The `UnitText` of `text`, from `memo` when a unit of the batch had the same text."""
    if memo is None:
        return UnitText(text)
    found = memo.get(text)
    if found is None:
        found = memo[text] = UnitText(text)
    return found


class Unit:
    """Something in a review that can find a bug: a comment or a summary sentence."""

    __slots__ = (
        "comment",
        "end",
        "facts",
        "file_index",
        "part",
        "pasted",
        "read",
        "start",
        "text",
        "tokens",
    )

    def __init__(
        self,
        comment: int,
        text: str,
        file_index: int = NO_FILE,
        start: int | None = None,
        end: int | None = None,
        pasted: float = 0.0,
        part: bool = False,
        *,
        memo: TextMemo | None = None,
    ) -> None:
        self.comment = comment
        self.part = part
        self.text = text
        self.file_index = file_index
        self.start = start
        self.end = end
        self.pasted = pasted
        self.read = unit_text(text, memo)
        self.facts = self.read.facts
        self.tokens = self.read.tokens

    @property
    def correction(self) -> bool:
        """Whether the unit states a defect or its correction (corrections.py).

        Computed on demand, once per text: the scan costs more than tokenising the unit.
        """
        return self.read.correction

    @property
    def symptom(self) -> bool:
        """Whether the unit reports a symptom seen when running the code (corrections.py)."""
        return self.read.symptom

    @property
    def vague(self) -> bool:
        """Whether the unit voices unease without saying what is wrong ("looks sus")."""
        return self.read.vague


@dataclass(frozen=True)
class _Target:
    """A bug or decoy as the matcher sees it."""

    id: str
    file_index: int
    ranges: tuple[LineRange, ...]
    text: str


@dataclass
class AssessmentIndex:
    """Per-assessment state computed once: vocabularies, weights and anchors of every bug."""

    assessment: Assessment
    answer_key: AnswerKey
    bugs: tuple[SeededBug, ...]
    files: dict[str, int]
    snippet_lines: frozenset[str]
    vocab: dict[str, int]
    stem_weight: np.ndarray  # (V,) idf of each vocabulary entry
    desc: np.ndarray  # (V, B) weights of title + description + phrases
    title: np.ndarray  # (V, B) weights of title + phrases
    diagnosis: np.ndarray  # (V, B) weights of the title's words that the bug's code lacks
    ident: np.ndarray  # (V, B) idf of identifiers on the bug's lines
    code: np.ndarray  # (V, B) stems of those identifiers' word parts
    decoy: np.ndarray  # (V, D) weights of decoy texts and identifiers
    desc_bin: np.ndarray  # (V, B) 1 where the bug text uses the entry
    desc_general: np.ndarray  # (V, B) background weight where the bug text uses the entry
    background: Mapping[str, float]  # stem -> weight in review comments in general (<= 1)
    ident_bin: np.ndarray  # (V, B) 1 where the bug's code has the identifier
    desc_norm: np.ndarray  # (B,) norms of the desc columns
    bug_identifiers: list[frozenset[str]]  # identifiers of each bug's code
    phrase: np.ndarray  # (V, P) normalised phrase vectors
    phrase_owner: np.ndarray  # (P,) bug index of each phrase
    title_strings: list[str]
    phrase_bags: list[str]  # each bug's phrases, stemmed, as one bag of words
    targets: tuple[_Target, ...]
    decoy_targets: tuple[_Target, ...]
    token_vocab: dict[str, int]  # code tokens (corrections.py) of the bugs' lines and keys
    line_tok: np.ndarray  # (T, B) 1 where the bug's lines hold the token
    key_tok: np.ndarray  # (T, B) 1 where the bug's key text names it
    new_tok: np.ndarray  # (T, B) named by the key but absent from the lines: the correction
    line_token_sets: list[frozenset[str]]  # each bug's lines' code tokens
    key_code_sets: list[frozenset[str]]  # the code tokens each bug's key writes in backticks
    # Per bug, the functions holding its line ranges, each with the last line it holds there
    # (see `outline.holder_of`): a tester reports a symptom against the function.
    holders: list[tuple[tuple[Holder, int], ...]]
    key_size: np.ndarray  # (B,) log of the distinct stems of each bug's key text, scaled
    # stem -> (bugs whose title or phrases use it, bugs whose whole text does), ascending
    stem_bugs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    # The vocabulary's rows by bare stem and by bare identifier, without the "s:"/"i:" prefix
    # a comment's words would need spelled out one by one.
    stem_rows: dict[str, int]
    identifier_rows: dict[str, int]

    def resolve_file(self, name: str | None) -> int:
        """Index of a snippet file from a candidate's spelling, NO_FILE or UNKNOWN_FILE."""
        if not name:
            return NO_FILE
        key = name.strip().replace("\\", "/").lstrip("./").lower()
        if key in self.files:
            return self.files[key]
        base = key.rsplit("/", 1)[-1]
        return self.files.get(base, UNKNOWN_FILE)


def _idf(df: Counter[str], n_docs: int) -> dict[str, float]:
    return {t: math.log((1 + n_docs) / (1 + c)) + 1.0 for t, c in df.items()}


def _bug_lines_text(assessment: Assessment, file: str | None, ranges: Sequence[LineRange]) -> str:
    snippet = assessment.file(file) if file else None
    if snippet is None:
        return ""
    lines = snippet.text.splitlines()
    return "\n".join("\n".join(lines[r.start - 1 : r.end]) for r in ranges)


def _backticked(text: str) -> str:
    return " ".join(code_spans(text))


def build_index(
    assessment: Assessment, answer_key: AnswerKey, *, background: Mapping[str, float] | None = None
) -> AssessmentIndex:
    """Precompute what matching needs from an assessment and its answer key.

    The stages: the snippet (file names, lines, identifier weights); each bug and decoy as
    the matcher reads it (key texts, identifiers of its code lines); the stem weights; one
    vocabulary of stems and identifiers with a weight matrix per view of the bugs; the code
    tokens of the bugs' lines and keys for reading corrections.

    `background` maps stems to a weight learned from review comments in general, so words
    every review uses ("error", "handle") count less than the bug's own words.
    """
    bugs = tuple(sorted(answer_key.bugs, key=lambda b: (b.rank, b.id)))
    snippet = _read_snippet(assessment)
    views = _bug_views(assessment, bugs, answer_key.decoys, snippet.ident_idf)
    bg = background or {}
    weight = _stem_weights(views, bg)
    vocab, mats, phrase_mat, phrase_owner = _weight_matrices(views, weight, snippet.ident_idf)
    stem_weight = np.ones(len(vocab))
    general = np.ones(len(vocab))
    for token, i in vocab.items():
        stem_weight[i] = (
            weight(token[2:]) if token.startswith("s:") else snippet.ident_idf.get(token[2:], 1)
        )
        if token.startswith("s:"):
            general[i] = bg.get(token[2:], 1.0)
    line_sets = [line_tokens(_bug_lines_text(assessment, b.file, b.lines)) for b in bugs]
    token_vocab, line_tok, key_tok = _token_matrices(line_sets, views.full)
    targets = tuple(
        _Target(b.id, snippet.file_index(b.file), b.lines, text)
        for b, text in zip(bugs, views.full, strict=True)
    )
    decoy_targets = tuple(
        _Target(d.id, snippet.file_index(d.file), d.lines, d.why) for d in answer_key.decoys
    )
    return AssessmentIndex(
        assessment=assessment,
        answer_key=answer_key,
        bugs=bugs,
        files=snippet.files,
        snippet_lines=snippet.lines,
        vocab=vocab,
        stem_weight=stem_weight,
        desc=mats["desc"],
        title=mats["title"],
        diagnosis=mats["diagnosis"],
        ident=mats["ident"],
        code=mats["code"],
        decoy=mats["decoy"],
        desc_bin=(mats["desc"] > 0).astype(np.float64),
        desc_general=(mats["desc"] > 0) * general[:, None],
        background=bg,
        ident_bin=(mats["ident"] > 0).astype(np.float64),
        desc_norm=np.sqrt((mats["desc"] ** 2).sum(axis=0)),
        bug_identifiers=[frozenset(i) for i in views.identifiers],
        phrase=phrase_mat,
        phrase_owner=phrase_owner,
        title_strings=[" ".join(sorted(set(content_stems(b.title)))) for b in bugs],
        phrase_bags=[
            " ".join(sorted(set(content_stems(" ".join(b.phrases))) or {"~"})) for b in bugs
        ],
        targets=targets,
        decoy_targets=decoy_targets,
        token_vocab=token_vocab,
        line_tok=line_tok,
        key_tok=key_tok,
        new_tok=key_tok * (1.0 - line_tok),
        line_token_sets=line_sets,
        key_code_sets=[
            frozenset(
                t
                for span in code_spans("\n".join((b.title, b.description, *b.phrases)))
                for t in line_tokens(span)
            )
            for b in bugs
        ],
        holders=[_holders(assessment, b) for b in bugs],
        key_size=np.array([math.log1p(len(set(content_stems(t)))) / 5.0 for t in views.full]),
        stem_bugs={
            token[2:]: (
                tuple(np.flatnonzero(mats["title"][v] > 0).tolist()),
                tuple(np.flatnonzero(mats["desc"][v] > 0).tolist()),
            )
            for token, v in vocab.items()
            if token.startswith("s:")
        },
        stem_rows={t[2:]: v for t, v in vocab.items() if t.startswith("s:")},
        identifier_rows={t[2:]: v for t, v in vocab.items() if t.startswith("i:")},
    )


@dataclass(frozen=True)
class _Snippet:
    """What the index needs from the assessment's code, whatever the answer key says."""

    files: dict[str, int]  # file name (and bare base name), lower-cased -> position
    lines: frozenset[str]  # stripped lines long enough to recognise when pasted back
    ident_idf: dict[str, float]  # identifier -> idf over the snippet's lines

    def file_index(self, name: str | None) -> int:
        """A key's file name as a position, NO_FILE or UNKNOWN_FILE."""
        return self.files.get(name.lower(), UNKNOWN_FILE) if name else NO_FILE


def _read_snippet(assessment: Assessment) -> _Snippet:
    files: dict[str, int] = {}
    for i, snippet in enumerate(assessment.files):
        files.setdefault(snippet.name.lower(), i)
        files.setdefault(snippet.name.lower().rsplit("/", 1)[-1], i)
    lines = frozenset(
        line.strip()
        for f in assessment.files
        for line in f.text.splitlines()
        if len(line.strip()) >= 8
    )
    # An identifier on few lines of the snippet says where a comment points.
    line_docs = [identifiers(line) for f in assessment.files for line in f.text.splitlines()]
    ident_idf = _idf(Counter(i for doc in line_docs for i in doc), max(len(line_docs), 1))
    return _Snippet(files, lines, ident_idf)


@dataclass(frozen=True)
class _BugViews:
    """Each bug (in rank order) and decoy as the matcher reads it."""

    full: list[str]  # title, description and phrases
    short: list[str]  # title and phrases
    titles: list[str]
    decoys: list[str]  # each decoy's reason
    identifiers: list[dict[str, float]]  # identifiers of the bug's code -> idf
    code_stems: list[set[str]]  # stems of those identifiers' word parts
    decoy_identifiers: list[set[str]]
    phrases: list[tuple[int, str]]  # (bug column, title or phrase)


def _bug_views(
    assessment: Assessment,
    bugs: Sequence[SeededBug],
    decoys: Sequence[Decoy],
    ident_idf: Mapping[str, float],
) -> _BugViews:
    """Texts and code of every bug and decoy; a bug's code is its lines and backticked words."""
    rare = max(ident_idf.values(), default=1.0)
    bug_idents: list[dict[str, float]] = []
    for b in bugs:
        code_text = _bug_lines_text(assessment, b.file, b.lines) + "\n" + _backticked(b.description)
        bug_idents.append({i: ident_idf.get(i, rare) for i in identifiers(code_text)})
    return _BugViews(
        full=[f"{b.title}\n{b.description}\n" + "\n".join(b.phrases) for b in bugs],
        short=[f"{b.title}\n" + "\n".join(b.phrases) for b in bugs],
        titles=[b.title for b in bugs],
        decoys=[d.why for d in decoys],
        identifiers=bug_idents,
        code_stems=[{s for i in idents for s in content_stems(i)} for idents in bug_idents],
        decoy_identifiers=[
            identifiers(_bug_lines_text(assessment, d.file, d.lines) + "\n" + _backticked(d.why))
            for d in decoys
        ],
        phrases=[(j, p) for j, b in enumerate(bugs) for p in (b.title, *b.phrases)],
    )


def _stem_weights(views: _BugViews, background: Mapping[str, float]) -> Callable[[str], float]:
    """A stem's weight: its idf over the bug and decoy texts times its background weight."""
    docs = [set(content_stems(t)) for t in views.full + views.decoys]
    stem_idf = _idf(Counter(s for d in docs for s in d), len(docs))

    def weight(s: str) -> float:
        return stem_idf.get(s, 1.0) * background.get(s, 1.0)

    return weight


def _weight_matrices(
    views: _BugViews, weight: Callable[[str], float], ident_idf: Mapping[str, float]
) -> tuple[dict[str, int], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """One vocabulary ("s:" stems, "i:" identifiers) and a (V, columns) weight matrix per view.

    Returns the vocabulary; the matrices desc, title, ident, code (a column per bug) and decoy
    (a column per decoy); the phrase matrix (a column per title or phrase, normalised to sum
    1); and the bug column of each phrase.
    """
    vocab: dict[str, int] = {}

    def vid(token: str) -> int:
        return vocab.setdefault(token, len(vocab))

    entries: list[tuple[str, int, int, float]] = []  # (matrix, row, column, weight)
    for j, text in enumerate(views.full):
        for s in set(content_stems(text)):
            entries.append(("desc", vid("s:" + s), j, weight(s)))
    for j, text in enumerate(views.short):
        for s in set(content_stems(text)):
            entries.append(("title", vid("s:" + s), j, weight(s)))
    for j, idents in enumerate(views.identifiers):
        for ident, w in idents.items():
            entries.append(("ident", vid("i:" + ident), j, w))
    for j, stems in enumerate(views.code_stems):
        for s in stems:
            entries.append(("code", vid("s:" + s), j, weight(s)))
    for j, (title, stems) in enumerate(zip(views.titles, views.code_stems, strict=True)):
        # A title naming only the code ("stream retried after yielding") says its cause in
        # the code's words: then all of it is the diagnosis.
        said = set(content_stems(title))
        for s in (said - stems) or said:
            entries.append(("diagnosis", vid("s:" + s), j, weight(s)))
    for j, (text, names) in enumerate(zip(views.decoys, views.decoy_identifiers, strict=True)):
        for s in set(content_stems(text)):
            entries.append(("decoy", vid("s:" + s), j, weight(s)))
        for ident in names:
            entries.append(("decoy", vid("i:" + ident), j, ident_idf.get(ident, 1.0)))
    phrase_stems = [set(content_stems(p)) for _, p in views.phrases]
    for stems in phrase_stems:
        for s in stems:
            vid("s:" + s)

    n_bugs = len(views.full)
    mats = {
        "desc": np.zeros((len(vocab), n_bugs)),
        "title": np.zeros((len(vocab), n_bugs)),
        "ident": np.zeros((len(vocab), n_bugs)),
        "code": np.zeros((len(vocab), n_bugs)),
        "diagnosis": np.zeros((len(vocab), n_bugs)),
        "decoy": np.zeros((len(vocab), len(views.decoys))),
    }
    for name, row, col, w in entries:
        mats[name][row, col] = w
    phrase_mat = np.zeros((len(vocab), len(views.phrases)))
    for k, stems in enumerate(phrase_stems):
        total = sum(weight(s) for s in stems) or 1.0
        for s in stems:
            phrase_mat[vocab["s:" + s], k] = weight(s) / total
    phrase_owner = np.array([j for j, _ in views.phrases], dtype=np.int64)
    return vocab, mats, phrase_mat, phrase_owner


def _holders(assessment: Assessment, bug: SeededBug) -> tuple[tuple[Holder, int], ...]:
    snippet = assessment.file(bug.file) if bug.file else None
    if snippet is None:
        return ()
    held = ((holder_of(snippet.text, r.start), r.end) for r in bug.lines)
    return tuple((holder, end) for holder, end in held if holder is not None)


def _token_matrices(
    line_sets: Sequence[frozenset[str]], key_texts: Sequence[str]
) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Code tokens (corrections.py) of each bug's lines and of its key text, as (T, B) 0/1."""
    key_sets = [code_tokens(text) for text in key_texts]
    token_vocab: dict[str, int] = {}
    for group in (*line_sets, *key_sets):
        for t in sorted(group):
            token_vocab.setdefault(t, len(token_vocab))
    line_tok = np.zeros((len(token_vocab), len(line_sets)))
    key_tok = np.zeros((len(token_vocab), len(line_sets)))
    for j, (lines_j, key_j) in enumerate(zip(line_sets, key_sets, strict=True)):
        line_tok[[token_vocab[t] for t in lines_j], j] = 1.0
        key_tok[[token_vocab[t] for t in key_j], j] = 1.0
    return token_vocab, line_tok, key_tok


# -- units ---------------------------------------------------------------------------------------


def _strip_pasted(text: str, snippet_lines: frozenset[str]) -> tuple[str, float]:
    """Drop snippet lines pasted back beyond the first few; return the text and pasted share."""
    if "\n" not in text:
        return text, 1.0 if text.strip() in snippet_lines else 0.0
    kept: list[str] = []
    pasted = quoted = 0
    total = 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            kept.append("")  # paragraph breaks separate the parts of a comment
            continue
        total += 1
        if stripped in snippet_lines:
            pasted += 1
            if quoted < QUOTED_LINES_KEPT:
                quoted += 1
                kept.append(line)
            continue
        kept.append(line)
    return "\n".join(kept), pasted / total if total else 0.0


def review_units(
    review: Review, index: AssessmentIndex, *, memo: TextMemo | None = None
) -> list[Unit]:
    """The units of a review: each comment, the parts of long ones, each summary sentence.

    The first `len(review.comments)` units are the comments themselves, in order. A comment
    made of several paragraphs or list items also yields each part, so that a comment finding
    two bugs is not diluted by talking about both. Units of the same text share what the text
    alone decides through `memo`, one per batch.
    """
    units = [comment_unit(c, i, index, memo=memo) for i, c in enumerate(review.comments)]
    for i, unit in enumerate(units[:]):
        if "\n" not in unit.text:
            continue
        parts = [p for p in PART_RE.split(unit.text) if len(p.strip()) >= MIN_PART_CHARS]
        if len(parts) >= 2:
            units.extend(
                Unit(i, p, unit.file_index, unit.start, unit.end, unit.pasted, True, memo=memo)
                for p in parts[:MAX_PARTS]
            )
    for sentence in sentences(clip(review.summary)):
        # A line of the snippet pasted into the summary quotes the code; it diagnoses nothing.
        if sentence not in index.snippet_lines:
            units.append(Unit(SUMMARY, sentence, memo=memo))
    return units


def comment_unit(
    comment: Comment, position: int, index: AssessmentIndex, *, memo: TextMemo | None = None
) -> Unit:
    """One comment as a unit: its prose and its anchor resolved against the snippet files."""
    text, pasted = _strip_pasted(clip(comment.body), index.snippet_lines)
    file_index = index.resolve_file(comment.file)
    if file_index == NO_FILE and comment.line is not None and len(index.assessment.files) == 1:
        file_index = 0
    start, end = comment.line, comment.end_line or comment.line
    if start is not None and end is not None and end < start:
        start, end = end, start
    if start is not None and end is not None:
        end = min(end, start + 400)
    return Unit(position, text, file_index, start, end, pasted, memo=memo)


def classify_units(classifier: CommentClassifier, units: Sequence[Unit]) -> CommentPredictions:
    """Classifier output for every unit; a comment's parts share the comment's row.

    Parts exist to localise a diagnosis for matching; what kind of comment it is belongs to
    the comment as a whole, so parts are not classified again. The classifier reads the text
    alone, so a text shared by units (see `TextMemo`) is classified once.
    """
    rows: list[int] = []
    main: list[UnitText] = []
    where: dict[int, int] = {}  # comment index -> row of its main unit, within one review
    for unit in units:
        if unit.part:
            rows.append(where[unit.comment])
            continue
        if unit.comment != SUMMARY and unit.comment == 0:
            where = {}  # a new review starts with its comment 0
        if unit.comment != SUMMARY:
            where[unit.comment] = len(main)
        rows.append(len(main))
        main.append(unit.read)
    fresh = list(
        {id(t): t for t in main if t.classes is None or t.classes[0] is not classifier}.values()
    )
    preds = classifier.predict_facts([t.facts for t in fresh])
    for i, t in enumerate(fresh):
        t.classes = (classifier, preds.kind_proba[i], preds.tradeoff_proba[i], preds.flag_proba[i])
    if len(fresh) == len(main) == len(units):
        return preds
    read = [main[r].classes for r in rows]
    return CommentPredictions(
        np.array([c[1] for c in read]).reshape(len(rows), -1),  # type: ignore[index]
        np.array([c[2] for c in read], dtype=np.float64),  # type: ignore[index]
        np.array([c[3] for c in read]).reshape(len(rows), -1),  # type: ignore[index]
        preds.defect_threshold,
    )


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

    def inside(target: _Target) -> np.ndarray:
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
