"""Whether a grade needs a human before it is used, and why (the review's `review_reasons`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from grading import scoring
from grading.analysis import Analysis
from grading.corrections import asks_correction
from grading.index import NO_FILE, AssessmentIndex
from grading.matching import REPLACE_BAR, SUMMARY, F
from grading.outline import Holder
from grading.text import normalise_space
from grading.types import CommentLabel, NearMiss, RedFlag, Review, comment_label
from grading.units import Unit

if TYPE_CHECKING:
    from grading.grader import GraderSettings

# A comment its author labels a nit (Conventional Comments: "nit:", "nitpick:") is cosmetic by
# their own account.
NIT_RE = re.compile(r"\s*(?:\*\*|_)?nit(?:pick)?\b", re.I)
SURE_DEFECT = 0.5  # the classifier's confidence from which a comment surely reports a defect
MIN_HOLDER_NAME = 4


def routing_reasons(
    review: Review,
    a: Analysis,
    index: AssessmentIndex,
    settings: GraderSettings,
    *,
    found: Mapping[str, int],
    labels: Sequence[CommentLabel],
    flags: Sequence[RedFlag],
    views: Sequence[scoring.CommentView],
    near_misses: Sequence[NearMiss],
    total: float,
) -> list[str]:
    """Why a human should look before the score is used; empty when nobody needs to.

    A review goes to a human when the score may be wrong: a bug whose best match is uncertain
    (unless its finder writes the key's own fix on the bug's lines: `_writes_keys_fix`); a
    comment on a missed bug's lines (or in its file, with no line) that raises a problem but is
    not credited (a terse find the matcher misread, or a near miss), shown with the candidate's
    words beside the key; a find resting on a question that states no defect or correction,
    outright or as a question; a red flag the classifier is unsure of; a total near a decision
    boundary. A sure red flag is shown for confirmation but does not route the review: it
    changes no score.
    """
    reasons: list[str] = []
    low, high = settings.uncertain
    threshold = settings.match_threshold
    bests: list[float] = a.proba.max(axis=0).tolist() if len(a.units) else [0.0] * len(index.bugs)
    for j, bug in enumerate(index.bugs):
        best = bests[j]
        if low <= best < high:
            if bug.id in found and _writes_keys_fix(a, index, found[bug.id], j, threshold):
                continue
            verdict = "found" if bug.id in found else "missed"
            reasons.append(f"uncertain match: '{bug.id}' {verdict} with best confidence {best:.2f}")
    for bug_id, i in sorted(found.items(), key=lambda item: item[1]):
        if i == SUMMARY:
            continue
        label = labels[i]
        if (
            label.kind == "question"
            and label.confidence >= settings.question_find
            and not a.units[i].correction
            and not asks_correction(a.units[i].text)
        ):
            reasons.append(
                f"{comment_label(i)} finds '{bug_id}' only by asking: whether the question "
                "states the defect is for a human to say"
            )
    uncredited: dict[tuple[int, str], str] = {(n.comment, n.bug): n.kind for n in near_misses}
    finding: list[bool] = np.asarray((a.proba[: len(labels)] >= threshold).any(axis=1)).tolist()
    holders = index.holders
    for i, label in enumerate(labels):
        unit = a.units[i]
        if not raises_problem(label, unit, a.replacing[i]) or finding[i]:
            continue
        in_range = a.features[i, :, F["in_range"]].tolist()
        near_range = a.features[i, :, F["near_range"]].tolist()
        symptom: bool | None = None  # read only when a bug's function could be its subject
        for j, bug in enumerate(index.bugs):
            if bug.id in found:
                continue
            target = index.targets[j]
            if in_range[j] > 0:
                uncredited.setdefault((i, bug.id), "uncredited")
            elif _in_file_without_line(unit, target.file_index):
                uncredited.setdefault((i, bug.id), "in_file")
            elif near_range[j] > 0 and _about(a.features[i, j]):
                uncredited.setdefault((i, bug.id), "beside")
            elif holders[j]:
                if symptom is None:
                    symptom = unit.symptom
                if symptom and _reports_on_holder(unit, target.file_index, holders[j]):
                    uncredited.setdefault((i, bug.id), "symptom")
        unplaced = unit.file_index == NO_FILE and unit.start is None
        if unplaced and unit.symptom and not any(c == i for c, _ in uncredited):
            # A tester's report with no file or line points nowhere the matcher can read; the
            # missed bug its words come nearest is what a human is shown it beside.
            missed = [j for j, bug in enumerate(index.bugs) if bug.id not in found]
            if missed:
                nearest = max(missed, key=lambda j: float(a.proba[i, j]))
                uncredited.setdefault((i, index.bugs[nearest].id), "unanchored")
    held = [j for j, bug in enumerate(index.bugs) if bug.id not in found and holders[j]]
    # The names each held bug's holders go by, read once for all the summary's sentences.
    held_names = [
        (j, {n for n in (_name(h) for h, _ in holders[j]) if n is not None}) for j in held
    ]
    for r, unit in enumerate(a.units):
        if unit.comment != SUMMARY or not held:
            continue
        named = [j for j, names in held_names if not names.isdisjoint(unit.facts.identifiers)]
        if (
            named
            and not unit.vague
            and unit.symptom
            and float(a.proba[r].max(initial=0.0)) < threshold
        ):
            for j in named:
                uncredited.setdefault((SUMMARY, index.bugs[j].id), "symptom")
    by_id = {b.id: b for b in index.bugs}
    for (i, bug_id), kind in sorted(uncredited.items()):
        what = {
            "misdiagnosed": "points at the lines of",
            "misplaced": "describes, away from its lines,",
            "uncredited": "raises a problem on the lines of",
            "in_file": "raises a problem, with no line, in the file of",
            "symptom": "reports a symptom of the function holding",
            "unanchored": "reports a symptom, with no file or line, nearest to",
            "beside": "describes, a few lines from them,",
        }[kind]
        words = normalise_space(review.summary if i == SUMMARY else review.comments[i].body)
        words = words if len(words) <= 160 else words[:159] + "…"
        reasons.append(
            f"{comment_label(i)} {what} '{bug_id}' but is not credited with finding it: "
            f'"{words}"; the key says: "{by_id[bug_id].title}"'
        )
    view_of = {v.comment: v for v in views}
    for flag in flags:
        if flag.kind in ("rewrite", "framework"):
            view = view_of.get(flag.comment)
            sure = view is not None and view.flag_confidence >= settings.flag_sure
        elif flag.kind == "no_questions":
            p_question = float(a.kind_proba[:, 2].max()) if len(a.units) else 0.0
            sure = p_question < settings.question_unsure
        else:
            sure = all(
                lab.confidence >= settings.flag_sure for lab in labels if lab.kind == "style"
            )
        if not sure:
            reasons.append(f"red flag '{flag.kind}' to confirm: the evidence for it is unsure")
    for boundary in settings.boundaries:
        if abs(total - boundary) <= settings.boundary_margin:
            reasons.append(
                f"total {total:.1f} is within {settings.boundary_margin:g} of the "
                f"decision boundary {boundary:g}"
            )
    return reasons


def _about(f: np.ndarray) -> bool:
    """Whether a unit's words are about a bug more than any other: its best text match, and
    a good share of its title or a phrase (as a near miss placed elsewhere is read)."""
    return bool(
        f[F["best_text_bug"]] > 0 and (f[F["phrase_cover"]] >= 0.5 or f[F["title_cover"]] >= 0.4)
    )


def _in_file_without_line(unit: Unit, file_index: int) -> bool:
    """Whether a comment names a bug's file but no line: it points at the whole file, and in a
    small file that is the bug's place ("`bitcount(7)` never comes back" on bitcount.py)."""
    return unit.start is None and unit.file_index >= 0 and unit.file_index == file_index


def _writes_keys_fix(
    a: Analysis, index: AssessmentIndex, comment: int, j: int, threshold: float
) -> bool:
    """Whether a comment finds bug `j` by writing the key's own fix on the bug's lines.

    A one-line correction ("`> 500` -> `>= 500`", "should this be `zone` too?") shares few
    words with a key, so the matcher's confidence in it stays middling; but when it states a
    correction, sits on (or beside) the bug's lines and names code the key writes (in
    backticks) and those lines lack, it says what the key says (RUBRIC.md: it names the
    defect and points at the code). Only the key's code counts: a long key's prose names
    incidental numbers ("1,000 records") that a wrong correction can name too. A comment
    proposing to replace the code states no correction.
    """
    if comment == SUMMARY:
        return False
    fix = _keys_fix_tokens(index, j)
    if not fix:
        return False
    for r, unit in enumerate(a.units):
        if unit.comment != comment or a.proba[r, j] < threshold:
            continue
        f = a.features[r, j]
        anchored = f[F["in_range"]] > 0 or f[F["near_range"]] > 0
        replacing = a.replacing[r] >= REPLACE_BAR
        stated = f[F["states_correction"]] > 0 or (not replacing and asks_correction(unit.text))
        if anchored and stated and not fix.isdisjoint(unit.tokens):
            return True
    return False


def _keys_fix_tokens(index: AssessmentIndex, j: int) -> frozenset[str]:
    """The code tokens bug `j`'s key writes in backticks and its lines lack: its fix."""
    return index.key_code_sets[j] - index.line_token_sets[j]


def _reports_on_holder(unit: Unit, file_index: int, holders: Sequence[tuple[Holder, int]]) -> bool:
    """Whether a symptom is reported against a function holding a bug: left on its code
    above the bug (its signature, most often), or naming it ("`wrap(body, 153)` returns []",
    whatever file the comment names)."""
    for holder, last in holders:
        start = unit.start
        if unit.file_index == file_index and start is not None and holder.line <= start <= last:
            return True
        if _names(unit, holder):
            return True
    return False


def _names(unit: Unit, holder: Holder) -> bool:
    name = _name(holder)
    return name is not None and name in unit.facts.identifiers


def _name(holder: Holder) -> str | None:
    """The lower-cased name a text names a holder by; None for a name too short to tell."""
    # A short name ("run", "get") is an ordinary word too often to say which function is meant.
    name = holder.name.lower()
    return name if len(name) >= MIN_HOLDER_NAME else None


def raises_problem(label: CommentLabel, unit: Unit, p_replace: float) -> bool:
    """Whether a comment can find a bug or miss one: it reports a defect, or states a defect or
    its correction in the words reviewers use ("should be 16", "typo", "doesn't close").

    A naming remark, a style nit or a framework suggestion on a bug's lines diagnoses nothing
    there: it is neither a near miss nor a find a human must rescue. Nor is unease that names
    no cause ("this lock looks sus", "could be more robust"). A comment the classifier
    misreads as style but that states a correction, or reports a symptom seen when running the
    code (`reports_symptom`), still counts, unless its author labels it a nit. `p_replace` is
    the red-flag classifier's probability that the comment proposes replacing the code (a
    rewrite or a framework): such a comment raises a problem only when the classifier is sure
    it also reports a defect.
    """
    sure_defect = label.kind == "defect" and label.confidence >= SURE_DEFECT
    if p_replace >= REPLACE_BAR and not sure_defect:
        return False
    if label.kind != "defect" and (
        label.kind == "praise"
        or not (unit.correction or unit.symptom)
        or NIT_RE.match(unit.text) is not None
    ):
        return False
    return not unit.vague
