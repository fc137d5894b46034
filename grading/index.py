"""An assessment and its answer key as the matcher reads them, computed once per key.

`AssessmentIndex` holds everything matching needs that depends only on the assessment and its
answer key: the snippet's files and lines, each bug's and decoy's texts as weighted
vocabularies (title, description, phrases, the diagnosis its title names), the identifiers and
code tokens of each bug's lines and of what its key writes, and the functions holding each bug.
Per-comment work is then tokenising the comment and a few sparse products over a batch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from grading.corrections import code_tokens, line_tokens
from grading.outline import Holder, holder_of
from grading.text import code_spans, content_stems, identifiers, stem, wordlist
from grading.types import AnswerKey, Assessment, Decoy, LineRange, SeededBug

NO_FILE = -1
UNKNOWN_FILE = -2


@dataclass(frozen=True)
class Target:
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
    targets: tuple[Target, ...]
    decoy_targets: tuple[Target, ...]
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
    # Per bug, the stems of its title and phrases that no other bug and no decoy uses: a
    # priority statement that says one of them ("pagination first, then the zones") names it.
    own_stems: list[frozenset[str]]
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
        Target(b.id, snippet.file_index(b.file), b.lines, text)
        for b, text in zip(bugs, views.full, strict=True)
    )
    decoy_targets = tuple(
        Target(d.id, snippet.file_index(d.file), d.lines, d.why) for d in answer_key.decoys
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
        own_stems=_own_stems(views),
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


# The words a priority statement orders bugs with. They name no bug, even where a single
# bug's title uses them ("stops after the first page").
ORDER_STEMS = frozenset(
    stem(w)
    for w in wordlist(
        """first second third then next last later before after fix fixes fixed urgent priority
        order top block blocker blocking must start begin immediately"""
    )
)


def _own_stems(views: _BugViews) -> list[frozenset[str]]:
    """Each bug's own words: stems of its title and phrases that no other bug's text, no
    decoy and no ordering word uses."""
    texts = [set(content_stems(t)) for t in views.full]
    decoys = {s for t in views.decoys for s in content_stems(t)}
    own = []
    for j, short in enumerate(views.short):
        others = set().union(*(t for k, t in enumerate(texts) if k != j))
        said = {s for s in content_stems(short) if len(s) >= 3}
        own.append(frozenset(said - others - decoys - ORDER_STEMS))
    return own


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
