"""A review as the matcher reads it: units (each comment, the parts of a long one, each summary
sentence), each with its anchor and what its text alone decides.

A text's reading (its tokens, code tokens, whether it states a correction, voices only unease
or reports a symptom, and the classifier's reading) is kept on a `UnitText` shared by every unit
of a batch with the same text, so a comment pasted into many reviews is read once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from grading.classification import CommentClassifier, CommentPredictions
from grading.corrections import code_tokens, only_vague, reports_symptom, states_correction
from grading.index import NO_FILE, AssessmentIndex
from grading.text import TextFacts, clip, sentences
from grading.types import SUMMARY, Comment, Review

QUOTED_LINES_KEPT = 3  # pasted snippet lines beyond these are quotation, not diagnosis
PART_RE = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
MIN_PART_CHARS = 30
MAX_PARTS = 6


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
        self.positions: tuple[AssessmentIndex, tuple[int, ...], dict[int, int]] | None = None
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
