"""Score a review by RUBRIC.md, every point with the comment and words behind it.

The functions here are pure: they take what matching and classification decided about a
review and return dimension scores with `Point`s explaining them. Keeping the rubric apart from
the models makes each rule testable with hand-built inputs.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from grading.classification import (
    HEAVY_RE,
    REWRITE_RE,
    TRADEOFF_RE,
    search,
)
from grading.text import contains_any, find, matched_words, normalise_space, quote, sentences
from grading.types import SEVERITIES, SUMMARY, Point, RedFlag, SeededBug, comment_label

NO_SEVERITY = len(SEVERITIES)
PROBLEM_KINDS = frozenset({"defect", "style", "suggestion", "other"})

MEASURE_RE = re.compile(
    r"\b(measure|measuring|benchmark|profile|profiling|metric|metrics|instrument|load[- ]test"
    r"|p9[59]|percentile|dashboard|alert|monitor|telemetry|trace|observe|before (?:deciding"
    r"|changing|switching|we|you))\b",
    re.I,
)
SEQUENCE_RE = re.compile(
    r"\b(first|then|afterwards|after that|later|follow[- ]up|next sprint|short[- ]term"
    r"|long[- ]term|hotfix|stopgap|for now|until|phase|step \d|once)\b",
    re.I,
)
ABSTRACTION_RE = re.compile(
    r"\b(over-?engineer\w*|overkill|yagni|premature (?:abstraction|generali[sz]ation)"
    r"|needless (?:abstraction|indirection|layer)|unnecessary (?:abstraction|indirection|layer"
    r"|dependency|registry|factory|wrapper|base class|plugin|class|complexity|framework)"
    r"|(?:doesn't|does not|don't|do not) need (?:a |an |the |this )?(?:abstract\w*|registry"
    r"|factory|plugin|base class|framework|library|dependency|wrapper|class)"
    r"|(?:a |one )?plain function|just a function|a simple function would|too many layers"
    r"|indirection|abstract base class for (?:one|a single)|single implementation)\b",
    re.I,
)

# RUBRIC.md's taste at 100 "names unnecessary abstraction where the code has it": reviewers
# name the construct (a registry, factory, ABC, plugin layer; `AgentRegistry` in code) and say
# in a few words that it is not needed ("for one provider", "ceremony", "a dict would do",
# "drop it", "do we need ...?"). Both must sit close together: a registry with a race and a
# "drop" three sentences later is no taste call.
CONSTRUCT_RE = re.compile(
    r"\b(?:registr(?:y|ies)|factor(?:y|ies)|abcs?|abstract (?:base )?class(?:es)?|abstractions?"
    r"|plugin(?: system| layer)?s?|strategy (?:pattern|class|interface)|supplier map"
    r"|base class(?:es)?|class hierarch(?:y|ies)|indirection|interfaces? for (?:one|a single))\b",
    re.I,
)
CAMEL_CONSTRUCT_RE = re.compile(r"(?<=[a-z])(?:Registry|Registries|Factory|Factories)\b")
CONSTRUCT_HINTS = (
    "regist",
    "factor",
    "abc",
    "abstract",
    "plugin",
    "strateg",
    "supplier",
    "base class",
    "hierarch",
    "indirection",
    "interface",
)
NEEDLESS_RE = re.compile(
    r"\b(?:for (?:just |only |exactly )?(?:one|a single|single|two|2)\b"
    r"|(?:one|single|only one)[- ](?:impl\w*|entry|policy|provider|class|strategy|function"
    r"|backend|agent|option)"
    r"|ceremony|machinery|overkill|over-?(?:built|engineered|engineering|abstracted)|boilerplate"
    r"|would do|(?:is|are) (?:enough|plenty)|(?:drop|remove|delete|inline|rip out|get rid of)\b"
    r"|just (?:a|an|use|take|pass|call|inline|make)\b|plain (?:dict|class|function|if|call|map)"
    r"|dict literal|doesn'?t earn|not (?:needed|necessary|worth)|(?:do|does) (?:we|this|it|you)"
    r" (?:really )?need|worth it|needless|unnecessary|yagni|should go)\b",
    re.I,
)
NEEDLESS_REACH = (80, 120)  # characters before and after the construct a judgement may sit


def needless_abstraction(text: str) -> tuple[int, int] | None:
    """Where a text names an abstraction the code does not need, as a (start, end) span."""
    lower = text.lower()
    m = search(ABSTRACTION_RE, text, ABSTRACTION_HINTS, lower=lower)
    if m is not None:
        return m.span()
    if not contains_any(lower, CONSTRUCT_HINTS):
        return None
    constructs = [*CONSTRUCT_RE.finditer(text), *CAMEL_CONSTRUCT_RE.finditer(text)]
    before, after = NEEDLESS_REACH
    for c in sorted(constructs, key=lambda c: c.start()):
        left = max(0, c.start() - before)
        right = min(len(text), c.end() + after)
        # A paragraph break ends the remark.
        left = max(left, text.rfind("\n\n", left, c.start()) + 1)
        cut = text.find("\n\n", c.end(), right)
        judgement = NEEDLESS_RE.search(text, left, right if cut < 0 else cut)
        if judgement is not None:
            return min(c.start(), judgement.start()), max(c.end(), judgement.end())
    return None


ABSTRACTION_HINTS = (
    "engineer",
    "overkill",
    "yagni",
    "premature",
    "needless",
    "unnecessary",
    # Not "need", which most comments use: the pattern's "need" is in "needless" or these.
    "n't need",
    "not need",
    "plain function",
    "just a function",
    "simple function",
    "layers",
    "indirection",
    "single implementation",
    "abstract",
)
TRADEOFF_HINTS = (
    "but",
    "however",
    "cost",
    "trade",
    "expense",
    "measur",
    "benchmark",
    "profil",
    "before",
    "then",
    "later",
    "term",
    "hotfix",
    "unless",
    "depends",
    "if ",
    "latency",
    "overhead",
    "worth",
    "risk",
)


MEASURE_HINTS = (
    "measur",
    "benchmark",
    "profil",
    "metric",
    "instrument",
    "load",
    "p9",
    "percentile",
    "dashboard",
    "alert",
    "monitor",
    "telemetry",
    "trace",
    "observ",
    "before",
)
SEQUENCE_HINTS = (
    "first",
    "then",
    "after",
    "later",
    "follow",
    "next",
    "term",
    "hotfix",
    "stopgap",
    "for now",
    "until",
    "phase",
    "step",
    "once",
)
CUES: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "measure": (MEASURE_RE, MEASURE_HINTS),
    "sequence": (SEQUENCE_RE, SEQUENCE_HINTS),
    "taste": (ABSTRACTION_RE, ABSTRACTION_HINTS),
    "tradeoff": (TRADEOFF_RE, TRADEOFF_HINTS),
}


@dataclass(frozen=True)
class Item:
    """Something in the candidate's order of urgency: a problem-raising comment or the summary."""

    comment: int
    severity: str | None
    bugs: tuple[str, ...]  # bugs it finds, in the order it mentions them


@dataclass(eq=False)
class CommentView:
    """What scoring needs to know about one comment (or the summary, comment = -1)."""

    comment: int
    text: str
    kind: str
    tradeoff: float
    flag: str
    flag_confidence: float
    severity: str | None = None
    # Cue lookups, memoised per view: several dimensions ask the same question of one text.
    cues: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def cue(self, name: str) -> bool:
        """Whether the text shows a cue: measure, sequence, taste or tradeoff."""
        found = self.cues.get(name)
        if found is None:
            if name == "taste":
                found = needless_abstraction(self.text) is not None
            else:
                pattern, hints = CUES[name]
                found = search(pattern, self.text, hints) is not None
            self.cues[name] = found
        return found


class DimensionScore:
    """A dimension's score and the reasons for it.

    The reasons may be given as a function listing them, called on first use: a batch graded
    without explanations never reads them, and quoting the words behind each costs more than
    the score.
    """

    __slots__ = ("_points", "score")

    def __init__(
        self, score: float, points: list[Point] | Callable[[], list[Point]] | None = None
    ) -> None:
        self.score = score
        self._points = [] if points is None else points

    @property
    def points(self) -> list[Point]:
        """The reasons behind the score, in the order a grader reads them."""
        if callable(self._points):
            self._points = self._points()
        return self._points


def detection(found: Mapping[str, int], bugs: Sequence[SeededBug]) -> DimensionScore:
    """100 x weight found / total weight; a subtle bug weighs 2 (RUBRIC.md, Detection)."""
    total = sum(b.weight for b in bugs)
    if total == 0:
        return DimensionScore(0.0, [Point(0.0, "the answer key has no bugs")])
    result = DimensionScore(0.0)
    for bug in sorted(bugs, key=lambda b: (b.rank, b.id)):
        share = 100.0 * bug.weight / total
        what = f"'{bug.title}' (rank {bug.rank}{', subtle, weighs 2' if bug.subtle else ''})"
        if bug.id in found:
            where = comment_label(found[bug.id])
            result.points.append(
                Point(share, f"{where} finds {what}", found[bug.id], signal="match")
            )
            result.score += share
        else:
            result.points.append(
                Point(0.0, f"no comment finds {what}: {share:.1f} points missed", signal="match")
            )
    result.score = min(100.0, result.score)
    return result


def raises_problem(kind: str | None, finds: Sequence[str]) -> bool:
    """Whether a comment is an item in the candidate's order of urgency (RUBRIC.md, Severity
    ranking, step 1): it raises a problem, or its kind is unknown.

    A comment that finds a seeded bug says what is wrong, so it raises a problem even when it
    is phrased as a question ("what happens if two requests hit this at once?") or the
    classifier reads it as one.
    """
    return kind is None or kind in PROBLEM_KINDS or bool(finds)


def urgency_order(
    items: Sequence[Item], summary_priority: Sequence[str]
) -> tuple[list[Item], list[str]]:
    """The candidate's order of urgency (RUBRIC.md, Severity ranking, steps 1-4).

    Returns the items sorted by the severity given (stable among equals, the summary last) and
    the bugs in the order the candidate would fix them: an explicit summary priority first, then
    every other found bug in the order the sorted items reach it.
    """

    def key(pair: tuple[int, Item]) -> tuple[int, int, int]:
        position, item = pair
        rank = SEVERITIES.index(item.severity) if item.severity in SEVERITIES else NO_SEVERITY
        return (rank, 1 if item.comment == SUMMARY else 0, position)

    ordered = [item for _, item in sorted(enumerate(items), key=key)]
    bugs: list[str] = list(dict.fromkeys(summary_priority))
    for item in ordered:
        for bug in item.bugs:
            if bug not in bugs:
                bugs.append(bug)
    return ordered, bugs


def severity(
    items: Sequence[Item],
    found: Mapping[str, int],
    bugs: Sequence[SeededBug],
    summary_priority: Sequence[str] = (),
) -> DimensionScore:
    """Severity ranking: 50 for putting the rank-1 bug first, 50 x pairs in key order."""
    if not found:
        return DimensionScore(
            0.0, [Point(0.0, "no seeded bug was found, so there is no ranking to judge")]
        )
    ranks = {b.id: b.rank for b in bugs}
    priority = [b for b in summary_priority if b in found]
    items = [Item(i.comment, i.severity, tuple(b for b in i.bugs if b in found)) for i in items]
    ordered, order = urgency_order(items, priority)
    order = [b for b in order if b in found]
    order += sorted((b for b in found if b not in order), key=lambda b: (found[b], ranks[b]))
    rank1 = min(bugs, key=lambda b: b.rank)
    result = DimensionScore(0.0)
    if priority:
        top_bug = priority[0]
        if top_bug == rank1.id:
            result.points.append(
                Point(
                    50.0,
                    f"the summary puts '{rank1.title}' first "
                    f"(an explicit priority overrides severity labels)",
                    SUMMARY,
                    signal="summary_priority",
                )
            )
        else:
            result.points.append(
                Point(
                    0.0,
                    f"the summary's first priority is {top_bug!r}, not "
                    f"the rank-1 bug '{rank1.title}'",
                    SUMMARY,
                    signal="summary_priority",
                )
            )
    elif ordered:
        top = ordered[0]
        where = comment_label(top.comment)
        label = f" (marked {top.severity})" if top.severity else ""
        if rank1.id in top.bugs:
            result.points.append(
                Point(
                    50.0,
                    f"the most urgent item, {where}{label}, finds the rank-1 bug '{rank1.title}'",
                    top.comment,
                    signal="order",
                )
            )
        elif top.bugs:
            result.points.append(
                Point(
                    0.0,
                    f"the most urgent item, {where}{label}, finds "
                    f"{', '.join(top.bugs)}, not the rank-1 bug "
                    f"'{rank1.title}'",
                    top.comment,
                    signal="order",
                )
            )
        else:
            result.points.append(
                Point(
                    0.0,
                    f"the most urgent item, {where}{label}, finds no "
                    f"seeded bug; it sits above the rank-1 bug",
                    top.comment,
                    signal="order",
                )
            )
    if len(order) == 1:
        result.points.append(
            Point(25.0, "a single bug was found: half of the pair points", signal="order")
        )
    else:
        pairs = agree = 0
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                pairs += 1
                agree += ranks[order[i]] < ranks[order[j]]
        share = 50.0 * agree / pairs
        result.points.append(
            Point(
                share,
                f"the candidate orders {agree} of {pairs} pairs of "
                f"found bugs as the key does (order: "
                f"{' > '.join(order)})",
                signal="order",
            )
        )
    result.score = sum(p.points for p in result.points)
    return result


def _first_sentence_matching(text: str, pattern: re.Pattern[str]) -> str:
    m = find(pattern, text)
    if m is None:
        return normalise_space(text)[:120]
    return quote(text, m.start(), m.end(), width=90)


def tradeoffs(
    views: Sequence[CommentView], *, threshold: float = 0.5, rewrite: bool = False
) -> DimensionScore:
    """Tradeoff articulation on RUBRIC.md's anchors 0/25/50/75/100."""
    if rewrite:
        return DimensionScore(
            0.0,
            [
                Point(
                    0.0,
                    "the review proposes a rewrite instead of weighing fixes",
                    signal="red_flag:rewrite",
                )
            ],
        )
    framed = [v for v in views if v.tradeoff >= threshold and v.text.strip()]
    if not framed:
        # The first passing mention is all that is quoted: the cue is looked for no further.
        passing = next((v for v in views if v.tradeoff >= threshold / 2 or v.cue("tradeoff")), None)
        if passing is not None:
            mention = passing  # not None for good: the reasons are listed later
            return DimensionScore(
                25.0,
                lambda: [
                    Point(
                        25.0,
                        "one passing mention of a cost or alternative",
                        mention.comment,
                        _first_sentence_matching(mention.text, TRADEOFF_RE),
                        "tradeoff",
                    )
                ],
            )
        return DimensionScore(
            0.0,
            [
                Point(
                    0.0, "only prescriptions: no fix is weighed against its cost", signal="tradeoff"
                )
            ],
        )

    def weighed() -> list[Point]:
        return [
            Point(
                0.0,
                f"{comment_label(v.comment)} weighs a cost or condition "
                f"(likelihood {v.tradeoff:.0%})",
                v.comment,
                _first_sentence_matching(v.text, TRADEOFF_RE),
                "tradeoff",
            )
            for v in framed
        ]

    if len(framed) == 1:
        return DimensionScore(
            50.0,
            lambda: [
                *weighed(),
                Point(50.0, "one fix framed with a condition or cost", signal="tradeoff"),
            ],
        )
    problems = [v for v in views if v.kind in PROBLEM_KINDS and v.comment != SUMMARY]
    consistent = len(framed) >= max(3, (len(problems) + 1) // 2)
    measures = any(v.cue("measure") for v in framed)
    sequences = any(v.cue("sequence") for v in framed)
    if consistent and measures and sequences:
        return DimensionScore(
            100.0,
            lambda: [
                *weighed(),
                Point(
                    100.0,
                    "weighs options throughout, orders the work and says what to measure first",
                    signal="tradeoff",
                ),
            ],
        )
    return DimensionScore(
        75.0,
        lambda: [
            *weighed(),
            Point(
                75.0,
                f"{len(framed)} fixes framed with conditions, measurements or sequencing",
                signal="tradeoff",
            ),
        ],
    )


def disproportionate(frameworks: Sequence[CommentView]) -> int:
    """How many disproportionate suggestions the comments flagged `framework` make.

    RUBRIC.md prices suggestions, not comments: "Kafka + Celery for the webhook" in one
    comment is two. A flagged comment counts each heavy tool it names, and once at least; the
    summary counts only what no comment already suggested, since it mostly repeats them.
    """
    count = 0
    seen: set[str] = set()
    for v in sorted(frameworks, key=lambda v: v.comment == SUMMARY):
        tools = matched_words(HEAVY_RE, v.text)
        if v.comment == SUMMARY:
            count += len(tools - seen) if tools else int(count == 0)
        else:
            count += max(1, len(tools))
        seen |= tools
    return count


def flagged(views: Sequence[CommentView], kind: str, threshold: float) -> list[CommentView]:
    """The views the classifier flags `kind` (framework, rewrite) at `threshold` or more."""
    return [v for v in views if v.flag == kind and v.flag_confidence >= threshold]


def tool_taste(views: Sequence[CommentView], *, flag_threshold: float = 0.5) -> DimensionScore:
    """Tool taste on RUBRIC.md's anchors, from framework/rewrite flags, style share and taste."""
    comments = [v for v in views if v.comment != SUMMARY]
    frameworks = flagged(views, "framework", flag_threshold)
    suggestions = disproportionate(frameworks)
    rewrites = flagged(views, "rewrite", flag_threshold)
    styles = [v for v in comments if v.kind == "style"]
    problems = [v for v in comments if v.kind in PROBLEM_KINDS]
    style_share = len(styles) / len(problems) if problems else 0.0

    def at(v: CommentView, pattern: re.Pattern[str]) -> Point:
        where = comment_label(v.comment)
        return Point(0.0, f"{where}", v.comment, _first_sentence_matching(v.text, pattern))

    if rewrites and (frameworks or any(find(HEAVY_RE, v.text) for v in rewrites)):
        rewrite = rewrites[0]
        return DimensionScore(
            0.0,
            lambda: [
                Point(
                    0.0,
                    "proposes rewriting the whole thing on a framework",
                    rewrite.comment,
                    _first_sentence_matching(rewrite.text, REWRITE_RE),
                    "red_flag:rewrite",
                )
            ],
        )
    if suggestions >= 2 or (problems and style_share >= 0.75 and len(styles) >= 2):
        why = (
            f"{suggestions} disproportionate suggestions"
            if suggestions >= 2
            else f"mostly style: {len(styles)} of {len(problems)} remarks"
        )
        return DimensionScore(
            25.0,
            lambda: [Point(25.0, why, signal="tool_taste"), *(at(v, HEAVY_RE) for v in frameworks)],
        )
    if frameworks or rewrites or (len(styles) >= 3 and style_share >= 0.4):
        if frameworks or rewrites:
            suggestion = (frameworks or rewrites)[0]
            pattern = HEAVY_RE if frameworks else REWRITE_RE
            return DimensionScore(
                50.0,
                lambda: [
                    Point(
                        50.0,
                        "one disproportionate suggestion",
                        suggestion.comment,
                        _first_sentence_matching(suggestion.text, pattern),
                        "red_flag:framework",
                    )
                ],
            )
        return DimensionScore(
            50.0,
            [
                Point(
                    50.0,
                    f"heavy with style nits: {len(styles)} of {len(problems)} remarks",
                    signal="tool_taste",
                )
            ],
        )
    tasteful = [v for v in views if v.cue("taste")]
    if tasteful:
        remark = tasteful[0]

        def names_abstraction() -> list[Point]:
            span = needless_abstraction(remark.text) or (0, 0)
            return [
                Point(
                    100.0,
                    "proportionate, and names unnecessary abstraction or dependency",
                    remark.comment,
                    quote(remark.text, *span, width=90),
                    "tool_taste",
                )
            ]

        return DimensionScore(100.0, names_abstraction)
    return DimensionScore(
        75.0,
        [
            Point(
                75.0,
                "proportionate, without misjudgment, but no taste shown either way",
                signal="tool_taste",
            )
        ],
    )


def red_flags(
    views: Sequence[CommentView],
    *,
    found_any: bool,
    asked_question: bool,
    flag_threshold: float = 0.5,
) -> list[RedFlag]:
    """The red flags of RUBRIC.md with the words that raised them, in a stable order."""
    flags: list[RedFlag] = []
    for v in views:
        if v.flag == "rewrite" and v.flag_confidence >= flag_threshold:
            flags.append(
                RedFlag("rewrite", v.comment, _first_sentence_matching(v.text, REWRITE_RE))
            )
        elif v.flag == "framework" and v.flag_confidence >= flag_threshold:
            flags.append(
                RedFlag("framework", v.comment, _first_sentence_matching(v.text, HEAVY_RE))
            )
    comments = [v for v in views if v.comment != SUMMARY]
    styles = [v for v in comments if v.kind == "style"]
    problems = [v for v in comments if v.kind in PROBLEM_KINDS]
    if not found_any and styles and len(styles) * 2 >= len(problems):
        quoted = "; ".join(normalise_space(v.text)[:60] for v in styles[:3])
        flags.append(RedFlag("style_only", SUMMARY, quoted))
    if not asked_question:
        flags.append(
            RedFlag(
                "no_questions",
                SUMMARY,
                "no comment or summary sentence asks how the system is used",
            )
        )
    return flags


PRIORITY_RE = re.compile(
    r"\b(first|most urgent|urgent|top priority|highest priority|priority|before anything"
    r"|start with|begin with|immediately|asap|right away|blocker|must fix|fix .{0,40} before)\b"
    r"|^\s*(?:\d+[.)]|\(\d+\)|#\d)",
    re.I | re.M,
)


def has_priority_statement(summary: str) -> bool:
    """Whether a summary states an order of work ("fix X first", a numbered list)."""
    return bool(find(PRIORITY_RE, summary))


def summary_sentences(summary: str) -> list[str]:
    """The sentences of a summary, as the matcher sees them."""
    return sentences(summary)


# -- learned levels ------------------------------------------------------------------------------

LEVELS: tuple[float, ...] = (0.0, 25.0, 50.0, 75.0, 100.0)
TRADEOFF_FEATURES = (
    "framed",
    "framed_share",
    "passing",
    "measures",
    "sequences",
    "mean_p",
    "max_p",
    "summary_p",
    "problems",
)
TASTE_FEATURES = (
    "frameworks",
    "rewrites",
    "styles",
    "style_share",
    "abstraction",
    "problems",
    "comments",
)


# What each signal counts, in words an author or grader reads in an explanation: the names
# above are the models' column names and mean nothing outside the code. A count reads as
# (one, many); a share or likelihood as one phrase with the value as a percentage.
COUNT_WORDS: dict[str, tuple[str, str]] = {
    "framed": (
        "fix weighed against a cost or condition",
        "fixes weighed against a cost or condition",
    ),
    "passing": (
        "passing mention of a cost or alternative",
        "passing mentions of a cost or alternative",
    ),
    "measures": (
        "weighed fix says what to measure first",
        "weighed fixes say what to measure first",
    ),
    "sequences": ("weighed fix orders the work", "weighed fixes order the work"),
    "problems": ("comment reports a problem", "comments report a problem"),
    "frameworks": ("comment brings in a new framework", "comments bring in a new framework"),
    "rewrites": ("comment proposes a rewrite", "comments propose a rewrite"),
    "styles": ("style comment", "style comments"),
    "abstraction": ("remark on needless complexity", "remarks on needless complexity"),
    "comments": ("comment in all", "comments in all"),
}
SHARE_WORDS: dict[str, str] = {
    "framed_share": "{:.0%} of comments weigh a fix",
    "mean_p": "comments weigh a tradeoff with likelihood {:.0%} on average",
    "max_p": "the strongest tradeoff comment has likelihood {:.0%}",
    "summary_p": "the summary weighs a tradeoff with likelihood {:.0%}",
    "style_share": "{:.1f} style comments per problem reported",
}


def describe_signals(names: Sequence[str], values: Sequence[float]) -> str:
    """The non-zero signals a learned level was picked from, in words ("no signal" if none)."""
    shown = []
    for name, value in zip(names, values, strict=True):
        if not value:
            continue
        if name in COUNT_WORDS:
            one, many = COUNT_WORDS[name]
            shown.append(f"{value:g} {one if value == 1 else many}")
        else:
            shown.append(SHARE_WORDS.get(name, name + " {:g}").format(value))
    return "; ".join(shown) or "no signal"


def tradeoff_features(views: Sequence[CommentView], *, threshold: float = 0.5) -> list[float]:
    """Review-level tradeoff signals, in TRADEOFF_FEATURES order."""
    comments = [v for v in views if v.comment != SUMMARY and v.text.strip()]
    framed = [v for v in views if v.tradeoff >= threshold and v.text.strip()]
    passing = [v for v in views if threshold / 2 <= v.tradeoff < threshold]
    summary = [v.tradeoff for v in views if v.comment == SUMMARY]
    problems = [v for v in comments if v.kind in PROBLEM_KINDS]
    return [
        float(len(framed)),
        len(framed) / max(len(comments), 1),
        float(len(passing)),
        float(sum(1 for v in framed if v.cue("measure"))),
        float(sum(1 for v in framed if v.cue("sequence"))),
        sum(v.tradeoff for v in comments) / max(len(comments), 1),
        max((v.tradeoff for v in views), default=0.0),
        max(summary, default=0.0),
        float(len(problems)),
    ]


def taste_features(views: Sequence[CommentView], *, flag_threshold: float = 0.5) -> list[float]:
    """Review-level tool-taste signals, in TASTE_FEATURES order."""
    comments = [v for v in views if v.comment != SUMMARY]
    problems = [v for v in comments if v.kind in PROBLEM_KINDS]
    styles = [v for v in comments if v.kind == "style"]
    return [
        float(disproportionate(flagged(views, "framework", flag_threshold))),
        float(len(flagged(views, "rewrite", flag_threshold))),
        float(len(styles)),
        len(styles) / max(len(problems), 1),
        float(sum(1 for v in views if v.cue("taste"))),
        float(len(problems)),
        float(len(comments)),
    ]


class LevelModel:
    """Picks one of a dimension's anchor levels from review-level signals.

    A multinomial logistic regression over the anchors; the level returned is the median of
    the predicted distribution, which minimises the expected absolute error.

    Parameters
    ----------
    C
        Inverse regularisation strength.
    """

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def fit(self, x: np.ndarray, y: Sequence[float]) -> LevelModel:
        """Learn from rows of signals and the gold level of each review; returns self."""
        from sklearn.linear_model import LogisticRegression

        targets = np.array([int(np.argmin([abs(v - lv) for lv in LEVELS])) for v in y])
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        present = np.unique(targets)
        self.coef_ = np.zeros((len(LEVELS), x.shape[1]))
        self.intercept_ = np.full(len(LEVELS), -30.0)
        if len(present) == 1:
            self.intercept_[present[0]] = 0.0
            return self
        model = LogisticRegression(C=self.C, max_iter=2000)
        model.fit((x - self.mean_) / self.scale_, targets)
        coef = model.coef_ if len(present) > 2 else np.vstack([-model.coef_[0], model.coef_[0]])
        intercept = (
            model.intercept_
            if len(present) > 2
            else np.array([-model.intercept_[0], model.intercept_[0]])
        )
        self.coef_[present] = coef
        self.intercept_[present] = intercept
        return self

    def proba(self, x: Sequence[float]) -> list[float]:
        """Probability of each level in LEVELS."""
        # Plain Python: a handful of numbers, where NumPy's per-call overhead would dominate.
        if not hasattr(self, "folded_"):
            weights = self.coef_ / self.scale_
            self.folded_ = (weights.tolist(), (self.intercept_ - weights @ self.mean_).tolist())
        weights, bias = self.folded_
        # The same products added in the same order as a generator would, without its frames.
        z = [b + sum(map(operator.mul, row, x)) for row, b in zip(weights, bias, strict=True)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return [v / total for v in e]

    def predict(self, x: Sequence[float]) -> float:
        """The median level of the predicted distribution."""
        cumulative = 0.0
        for level, p in zip(LEVELS, self.proba(x), strict=True):
            cumulative += p
            if cumulative >= 0.5:
                return level
        return LEVELS[-1]
