"""Text handling shared by the classifier and the matcher: words, stems, identifiers.

Everything here is language-agnostic on the code side: identifiers are whatever looks like one
in any C-family, Python, Go or Java snippet, minus a list of keywords common to those languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

# Comments past this length are cut before matching; the candidate's point is made long before.
MAX_TEXT_CHARS = 8000

WORD_RE = re.compile(r"[a-z][a-z0-9]*")
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
FENCE_RE = re.compile(r"```[^\n]*\n?(.*?)(?:```|$)", re.S)
INLINE_CODE_RE = re.compile(r"`([^`\n]{1,200})`")
LINE_REF_RE = re.compile(
    r"\b(?:lines?|l\.?|ln)\s*(\d{1,5})(?:\s*(?:-|–|to|through)\s*(\d{1,5}))?", re.I
)


def wordlist(text: str) -> frozenset[str]:
    """The words of a list written one after another, as a set."""
    return frozenset(text.split())


STOPWORDS = wordlist(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having here how i if in into is it its itself just me more most my no
    nor not now of off on once only or other our out over own same should so some such than that
    the their them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours it's i'm don't
    doesn't isn't can't won't here's there's let's via per e.g i.e etc get gets got use
    used uses using make makes made way thing things think like really maybe might may must need
    needs want seems seem look looks code line lines"""
)

# Keywords and builtins of the snippet languages we expect; they identify nothing.
CODE_KEYWORDS = wordlist(
    """abstract and as assert async await break case catch chan class const continue def default
    defer del elif else enum except extends false final finally for from func go goto if implements
    import in instanceof interface is lambda let map new nil none nonlocal not null or package pass
    private protected public raise range return select self static struct super switch this throw
    throws true try type var void while with yield int str float bool bytes dict list set tuple
    string boolean long double char byte object len print isinstance getattr setattr hasattr
    error err ok fmt args kwargs cls println printf sprintf errorf make append copy close
    value values key keys item items get put add remove size length data result results name
    optional any callable iterator iterable sequence mapping annotations future typing
    dataclass field logging log logger info debug warning exception json time os sys re"""
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to meet 'caching' with 'cached', 'retries' with 'retry'."""
    w = word
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 4:
        w = w[:-1]
    for suffix, repl in (
        ("ational", "ate"),
        ("ization", "ize"),
        ("ation", "ate"),
        ("ness", ""),
        ("ment", ""),
        ("ingly", ""),
        ("edly", ""),
        ("ity", ""),
        ("ously", "ous"),
        ("ied", "y"),
        ("ing", ""),
        ("er", ""),
        ("ed", ""),
        ("ly", ""),
        ("e", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + repl
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def clip(text: str) -> str:
    """The part of a text the grader reads (the first MAX_TEXT_CHARS characters)."""
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS]


def _split_token(token: str) -> list[str]:
    if "_" in token or (token[1:] != token[1:].lower() and token.upper() != token):
        return [p.lower() for p in CAMEL_RE.findall(token)]
    return [token.lower()]


def words(text: str) -> list[str]:
    """Lower-case word tokens; identifiers are split at underscores and camel case."""
    out: list[str] = []
    for token in IDENT_RE.findall(text):
        out.extend(_split_token(token))
    return out


def content_stems(text: str) -> list[str]:
    """Stems of the non-stopword words of a text, in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def identifiers(text: str, *, min_length: int = 3) -> set[str]:
    """Lower-cased identifiers that name something: keywords and short names left out."""
    out = set()
    for token in IDENT_RE.findall(text):
        lowered = token.lower()
        if len(token) >= min_length and lowered not in CODE_KEYWORDS:
            out.add(lowered)
    return out


@lru_cache(maxsize=131072)
def _token_info(
    token: str,
) -> tuple[str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(identifier or None, its words, its content words, their stems), memoised per token."""
    lowered = token.lower()
    ident = lowered if len(token) >= 3 and lowered not in CODE_KEYWORDS else None
    parts = tuple(_split_token(token))
    content = [w for w in parts if w not in STOPWORDS and len(w) > 1]
    return ident, parts, tuple(content), tuple(stem(w) for w in content)


class TextFacts:
    """One tokenising pass over a text, shared by the classifier, matcher and scorer.

    `words` and `stems` are aligned: `stems[i]` is the stem of content word `words[i]`.
    """

    __slots__ = ("identifiers", "lower", "stems", "text", "word_set", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        # One loop over the tokens fills all four, each in the tokens' order: a comprehension
        # apiece went over them four times.
        words: list[str] = []
        stems: list[str] = []
        identifiers: set[str] = set()
        word_set: set[str] = set()
        for ident, parts, content, content_stems in map(_token_info, IDENT_RE.findall(text)):
            if content:
                words += content
                stems += content_stems
            if ident is not None:
                identifiers.add(ident)
            word_set.update(parts)
        self.words, self.stems = words, stems
        self.identifiers, self.word_set = identifiers, word_set


def code_spans(text: str) -> list[str]:
    """The Markdown code in a text: fenced blocks and inline `code`."""
    spans = [m.group(1) for m in FENCE_RE.finditer(text)]
    spans.extend(INLINE_CODE_RE.findall(FENCE_RE.sub(" ", text)))
    return spans


def without_fences(text: str) -> str:
    """The prose of a text: fenced code blocks replaced by a marker word."""
    return FENCE_RE.sub(" codeblock ", text)


# LINE_REF_RE for lower-cased text. It starts with the letter every reference starts with, so
# the regex engine skips ahead to each `l` instead of trying every position, and it matches
# without folding case: on ASCII text it finds what LINE_REF_RE finds, several times faster.
_LOWER_LINE_REF_RE = re.compile(
    r"l(?<!\wl)(?:ines?|\.?|n)\s*(\d{1,5})(?:\s*(?:-|–|to|through)\s*(\d{1,5}))?"
)


def line_refs(text: str) -> list[tuple[int, int]]:
    """Line numbers a text names in prose ('line 44', 'lines 41-47', 'L12')."""
    if text.isascii():
        found = _LOWER_LINE_REF_RE.finditer(text.lower())
    else:
        # Lower-casing and the regex engine's case folding may disagree outside ASCII.
        found = LINE_REF_RE.finditer(text)
    out = []
    for m in found:
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else start
        if end < start:
            start, end = end, start
        out.append((start, min(end, start + 200)))
    return out


SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+|\n+\s*(?:[-*•]|\d+[.)]|\(\d+\))?\s*")


def sentences(text: str) -> list[str]:
    """Split prose into sentences and list items, dropping empty pieces."""
    return [s.strip() for s in SENTENCE_RE.split(text) if s and s.strip()]


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace to one space."""
    return " ".join(text.split())


def quote(text: str, start: int, end: int, *, width: int = 60) -> str:
    """A short excerpt around text[start:end], for evidence a person reads."""
    left = max(0, start - width // 2)
    right = min(len(text), end + width // 2)
    excerpt = normalise_space(text[left:right])
    return ("…" if left > 0 else "") + excerpt + ("…" if right < len(text) else "")


def join_words(items: Iterable[str], *, limit: int = 6) -> str:
    """'a', 'b' and 'c' style list for explanations."""
    quoted = [f"'{w}'" for w in list(items)[:limit]]
    if not quoted:
        return ""
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(value: str) -> Literal["nul", "surrogate"] | None:
    """Why a text cannot be stored, if it cannot: a NUL character, which PostgreSQL refuses,
    or an unpaired UTF-16 surrogate, which is not valid Unicode and UTF-8 cannot encode."""
    if "\x00" in value:
        return "nul"
    if _LONE_SURROGATE.search(value):
        return "surrogate"
    return None


def case_sensitive_twin(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """`pattern` without re.I, to run on lower-cased text; None when that could differ.

    Case-insensitive matching folds every character it compares, which makes it several
    times slower than matching lower-cased text exactly. On ASCII text the two agree when the
    pattern spells no upper-case letter of its own. Remembered per pattern object: hashing a
    compiled pattern, as a cache keyed by the pattern would, hashes all its code each time.
    """
    known = _folded.get(id(pattern))
    if known is not None and known[0] is pattern:
        return known[1]
    literal = re.sub(r"\\.", "", pattern.pattern)
    folded = (
        None
        if not pattern.flags & re.I or literal != literal.lower()
        else re.compile(pattern.pattern, pattern.flags & ~re.I)
    )
    _folded[id(pattern)] = (pattern, folded)
    return folded


# Each pattern `case_sensitive_twin` was asked about, by id, with the pattern itself: kept
# alive, its id cannot be taken by another.
_folded: dict[int, tuple[re.Pattern[str], re.Pattern[str] | None]] = {}


def contains_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether `text` contains one of `words`: `any(w in text for w in words)` without a
    generator, which costs more than the substring tests themselves."""
    for word in words:  # noqa: SIM110 (a loop, not a generator: see above)
        if word in text:
            return True
    return False


def find(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """`pattern.search(text)`, by lower-casing ASCII text when that gives the same span.

    The match's span is that of the same search on `text`; its groups are lower-cased.
    """
    folded = case_sensitive_twin(pattern)
    if folded is None or not text.isascii():
        return pattern.search(text)
    return folded.search(text.lower())


def matched_words(pattern: re.Pattern[str], text: str) -> set[str]:
    """The lower-cased text of every match of `pattern` in `text`, by lower-casing ASCII text
    when that finds the same matches (see `find`)."""
    folded = case_sensitive_twin(pattern)
    if folded is None or not text.isascii():
        return {m.group(0).lower() for m in pattern.finditer(text)}
    return {m.group(0) for m in folded.finditer(text.lower())}
