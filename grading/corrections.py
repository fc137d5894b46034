"""What a comment says about code as a correction: the code tokens it names, and its cues.

Real reviewers state a defect in a few words on the exact line: "should be 16", "`>=` not
`>`", "typo: should say suspended". Such a comment shares almost no words with an answer key,
but it names the code that is wrong or the value it should hold. This module keeps what word
tokenising drops (numbers, operators, short identifiers) so the matcher can compare a comment
with the bug's own code lines and with the key's description as corrections.

A *code token* is a lower-cased identifier, a number or an operator. Code (a snippet's lines,
Markdown code spans) yields every token; prose yields only what is unmistakably code there:
numbers, multi-character operators, a lone `<` or `>` between spaces, and identifiers written
as code (`snake_case`, `camelCase`, `call(`, `obj.attr`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from grading.text import FENCE_RE, INLINE_CODE_RE, contains_any, find

_NUMBER = r"\d+(?:\.\d+)?"
_OPERATORS = (
    r"<<=|>>=|\*\*=|===|!==|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|\*\*|<<|>>|\+\+|--"
    r"|[<>+\-*/%!&|^~=]"
)
CODE_TOKEN_RE = re.compile(rf"[A-Za-z_][A-Za-z0-9_]*|{_NUMBER}|{_OPERATORS}")
# A number not glued to a word or a dot ("30s", "5%" keep 30 and 5). Each of these two
# patterns starts with a character, not a look-behind, so the regex engine skips ahead to the
# characters that can start a match instead of trying every position.
PROSE_NUMBER_RE = re.compile(r"\d(?<![\w.]\d)\d*(?:\.\d+)?(?!\d|\.\d)")
PROSE_OPERATOR_RE = re.compile(
    r"<<=|>>=|===|!==|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|[<>](?<=\s[<>])(?=\s)"
)
PROSE_IDENT_RE = re.compile(
    # First, without backtracking, what every alternative below needs at a word's start: a
    # lower-case run before a capital, an underscore after the first character, or a word
    # followed by `(` or `.`. Most words of prose have none, and fail here in one pass
    # instead of in four.
    r"\b(?=[a-z]++[A-Z]|[A-Za-z_][^\W_]*+_|[A-Za-z_]\w*+[(.])(?:"
    r"\b[A-Za-z_]\w*_\w*\b"  # snake_case, SCREAMING_CASE, _private
    r"|\b[a-z]+[A-Z]\w*\b"  # camelCase
    r"|\b[A-Za-z_]\w*(?=\()"  # call(
    r"|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b"  # obj.attr
    r")"
)
# Markers of a stated correction or defect, whatever the bug: "should be", "instead of",
# "X -> Y", a GitHub suggestion block, "typo", "off by one", "doesn't ...".
CORRECTION_RE = re.compile(
    r"\bshould(?:n't| not)?\s+(?:be|say|read|use|return|pass|check|call|compare|include|have"
    r"|start|stop|go|happen|skip|reset|clear|close|hold|keep|wait|retry|raise|throw)\b"
    r"|\b(?:needs?|has|have|must|ought)\s+to\s+be\b|\bmust\s+be\b"
    r"|\binstead\s+of\b|\brather\s+than\b|\binstead\b"
    r"|`\s*(?:not|instead of|vs\.?)\s*`|\bnot\s+`"
    r"|(?:->|→|=>)\s*`|`\s*(?:->|→|=>)"
    r"|```suggestion"
    r"|\btypo\b|\bwrong\b|\bincorrect(?:ly)?\b|\bmissing\b|\bforg[eo]t|\bomit"
    r"|\boff[- ]by[- ]one\b|\boff by\b|\bswap(?:ped|s)?\b|\breversed?\b|\binverted\b"
    r"|\bbackwards\b|\bflipped\b|\bnever\b|\bdoes(?:n't| not)\b|\bdon't\b|\bwon't\b"
    r"|\bisn't\b|\bcan't\b|\bbug\b|\bbroken\b|\bbreaks?\b|\bleaks?\b|\brace\b|\bfails?\b"
    r"|\bcrash|\bdrops?\b|\blost\b|\bloses\b|\bskips?\b|\bignores?\b|\bdouble[- ]?count"
    r"|\boverflow|\bdeadlock|\bstale\b|\bwhen\b.{0,40}\b(?:is|are)\s+(?:empty|none|null|nil|0)",
    re.I,
)
# What a tester sees, not why: an exception by name, a hang, what the code gives against what
# it should ("`bitcount(7)` never comes back", "-> RecursionError", "returns 'F1' but the
# docstring says '1F'"). RUBRIC.md counts a reproducible symptom at the code as a defect found;
# whether this one is the seeded bug is for a human to say. Written as its alternatives, each
# with what every match of it holds, lower-cased: one of each tuple of words (see
# `reports_symptom`).
_SYMPTOM_ALTERNATIVES: tuple[tuple[tuple[tuple[str, ...], ...], str], ...] = (
    ((("error", "exception"),), r"\w(?:error|exception)\b"),
    (
        (("hang", "hung", "forever", "infinite"),),
        r"\bhangs?\b|\bhung\b|\bforever\b|\binfinite(?:ly)?\b",
    ),
    (
        (("never", "stack"),),
        r"\bnever\s+(?:returns|ends|terminates|finishes|comes\s+back)\b|\bstack\s*overflow",
    ),
    (
        (
            ("return", "give", "output", "print", "yield", "come"),
            ("but", "expected", "docstring", "instead"),
        ),
        r"\b(?:returns?|gives?|outputs?|prints?|yields?|comes?\s+out(?:\s+as)?)\b[^.?!\n]{0,60}"
        r"\b(?:but|expected|docstring|instead)\b",
    ),
    # A tester's notation, a call or an input and what came out: "`levenshtein("abc", "abc")`
    # = 3", "`wrap(body, 153)` returns []", "`"(()"` -> true", "= 7, expected 0".
    (
        (("(",), (")",)),
        r"\w\([^()\n]{0,80}\)`?\s*(?:(?:->|→|=>|==?|returns?|gives?)\s*`?[\w\[{\"'-]"
        r"|(?:is|was)\s+`?(?:-?\d+(?:\.\d+)?`?(?=\s*(?:[.,;:)!]|$|\s(?:but|instead|expected|not)\b))"
        r"|true\b|false\b|null\b|none\b|nil\b|undefined\b|\[|\{|[\"']))",
    ),
    (
        (('"', "'", "`"), ("->", "→", "=>")),
        r"[\"'`][^\"'`\n]{1,40}[\"'`]`?\s*(?:->|→|=>)\s*`?(?:true|false|null|none|nil|undefined|-?\d"
        r"|\[\]|\{\})",
    ),
    ((("=", "->", "→"), ("expected",)), r"(?:=|->|→)\s*[^.?!\n]{0,40}\bexpected\b"),
    # What happened against what the tester expected of it: "breaker went open anyway.
    # expected it to open only on consecutive errors".
    ((("expected",),), r"\bexpected\s+(?:it|them|this|that|the\s+\w+)\s+to\b"),
    (
        (("return", "give"),),
        r"\b(?:returns?|gives?)\s+(?:an?\s+)?(?:empty|true|false|null|none|nil|undefined|\[\]|\{\})",
    ),
)
SYMPTOM_RE = re.compile("|".join(source for _, source in _SYMPTOM_ALTERNATIVES), re.I)
# The alternatives for lower-cased ASCII text: they spell no upper-case letter, so there they
# match where SYMPTOM_RE does, without folding case.
_LOWER_SYMPTOM_ALTERNATIVES = tuple(
    (needs, re.compile(source)) for needs, source in _SYMPTOM_ALTERNATIVES
)
# A defect or its correction put as a question, as terse reviewers often write one: the
# correction asked ("should this be `zone`?", "shouldn't `t` be now?") or a claim held up for
# agreement ("the second clear() wipes the first one's results, no?"). An open question ("what
# happens to `pending` after the budget?", "is 408 retryable?", "retry here or no?") states
# neither.
ASKED_CORRECTION_RE = re.compile(
    r"\bshould(?:n't| not)?\s+(?:this|that|it|these|those|`[^`\n]+`"
    r"|(?:the|this|that)\s+\w+(?:\s+\w+)?)\s+(?:not\s+)?(?:be|say|read|use|include|return|pass"
    r"|check|compare|call|take|hold|close|cancel)\b[^?]*\?"
    r"|\b(?!or\b)\w+[`)\]'\"]?,?\s+(?:no|right|correct|isn't\s+it|doesn't\s+it)\s*\?",
    re.I,
)
# Unease without a diagnosis: "this lock looks sus", "timeouts here are confusing", "could be
# more robust", "double-check the time zone handling". The reviewer senses something on the
# line but says nothing an engineer could act on (RUBRIC.md: a find says what is wrong).
_VAGUE_ADJECTIVES = (
    r"sus|suspicious|weird|odd|strange|off(?![- ]by\b)|fishy|sketchy|messy|confusing|tricky"
    r"|fragile|risky|scary|hacky|complicated|convoluted|dodgy|iffy"
)
VAGUE_RE = re.compile(
    r"\b(?:looks?|seems?|feels?|is|are|gets?)\s+(?:(?:a\s+)?(?:bit|little|kinda|kind\s+of"
    r"|really|very|quite|pretty|always|a\s+bit)\s+)*(?:" + _VAGUE_ADJECTIVES + r")\b"
    r"|\b(?:could|can|should|might)\s+be\s+(?:(?:a\s+)?(?:bit|lot|much)\s+)?(?:better|improved"
    r"|cleaner|simpler|safer|more\s+(?:robust|careful|defensive)|revisited|reconsidered)\b"
    r"|\bbe\s+careful\b|\bdouble[- ]check(?:s|ed|ing)?\b"
    r"|\bnot\s+(?:(?:100\s?%|entirely|totally|completely|quite)\s+)?sure\s+(?:about|if)\b"
    r"|\bsomething\s+(?:goes|could\s+go|might\s+go|may\s+go|can\s+go)\s+wrong\b"
    r"|\bneeds?\s+(?:some\s+)?(?:work|love|attention|cleanup|another\s+look)\b"
    r"|\bi\s+don'?t\s+like\b",
    re.I,
)
VAGUE_WORDS_MAX = 20  # beyond this a comment with "looks odd" in it usually says why
# A word one of which every match of VAGUE_RE holds: an adjective of unease or a word of one
# of the set phrases after it. Lower-case, for lower-cased text.
VAGUE_HINTS = (
    *(adjective.split("(")[0] for adjective in _VAGUE_ADJECTIVES.split("|")),
    *("better", "improved", "cleaner", "simpler", "safer", "more", "revisited", "reconsidered"),
    *("careful", "double", "sure", "wrong", "need", "like"),
)


def only_vague(text: str) -> bool:
    """Whether a comment voices unease without saying what is wrong.

    It uses a vague phrase, is short, and says nothing concrete besides: once the vague
    phrases are taken out, no stated defect or correction and no number or operator is left.
    Naming the place ("error handling in `stream()` is weird") is not a diagnosis.
    """
    if len(text.split()) > VAGUE_WORDS_MAX or not _may_be_vague(text):
        return False
    if find(VAGUE_RE, text) is None:
        return False
    rest = VAGUE_RE.sub(" ", text)
    if states_correction(rest):
        return False
    return all(_is_name(t) for t in code_tokens(rest))


def _may_be_vague(text: str) -> bool:
    """False only when VAGUE_RE cannot match: ASCII text without any of VAGUE_HINTS. Most
    comments have none, and a substring test per hint costs less than the scan, whose every
    alternative starts with `\\b` and is tried at every position."""
    return not text.isascii() or contains_any(text.lower(), VAGUE_HINTS)


def _code_tokens(code: str) -> set[str]:
    return {t.lower() for t in CODE_TOKEN_RE.findall(code)}


@lru_cache(maxsize=65536)
def code_tokens(text: str) -> frozenset[str]:
    """The code tokens a review comment or answer key names (see the module docstring)."""
    out: set[str] = set()
    if "`" in text:
        for m in FENCE_RE.finditer(text):
            out |= _code_tokens(m.group(1))
        rest = FENCE_RE.sub(" ", text)
        for span in INLINE_CODE_RE.findall(rest):
            out |= _code_tokens(span)
        text = INLINE_CODE_RE.sub(" ", rest)
    out.update(PROSE_NUMBER_RE.findall(text))
    if _may_name_operator(text):
        out.update(PROSE_OPERATOR_RE.findall(text))
    if _may_name_identifier(text):
        for ident in _prose_identifiers(text):
            out |= _code_tokens(ident)
    return frozenset(out)


def _prose_identifiers(text: str) -> list[str]:
    """`PROSE_IDENT_RE.findall(text)`, scanning only the words of the text that can hold a
    match: most words of prose cannot, and a substring test tells for less than the scan.

    A match is made of word characters and dots and looks ahead only at `(` or `.`, so it lies
    within one run of characters between white space, which the pattern reads as it reads the
    ends of the text; and it holds an underscore, a `(`, a dot or a small letter followed by
    a capital. Each run that can hold one, scanned alone, gives the matches the scan of the
    whole text gives there, in the same order.
    """
    found: list[str] = []
    for word in text.split():
        if (
            "_" in word
            or "(" in word
            or "." in word
            or (not word.islower() and _CAMEL_HUMP_RE.search(word) is not None)
        ):
            found += PROSE_IDENT_RE.findall(word)
    return found


# Most prose names no operator and no identifier written as code. A substring test for what
# every match must hold costs far less than the scan that would find nothing.
_DOTTED_RE = re.compile(r"\.[A-Za-z_]")  # the `.attr` of obj.attr
_CAMEL_HUMP_RE = re.compile(r"[a-z][A-Z]")


def _may_name_operator(text: str) -> bool:
    """False only when PROSE_OPERATOR_RE cannot match: every operator it finds has one of
    `=`, `&`, `|`, `<`, `>`."""
    return "=" in text or "&" in text or "|" in text or "<" in text or ">" in text


def _may_name_identifier(text: str) -> bool:
    """False only when PROSE_IDENT_RE cannot match: snake_case has `_`, call( has `(`,
    obj.attr has a dot before a name and camelCase a capital after a small letter."""
    return (
        "_" in text
        or "(" in text
        or _DOTTED_RE.search(text) is not None
        or _CAMEL_HUMP_RE.search(text) is not None
    )


def line_tokens(code: str) -> frozenset[str]:
    """Every code token of some code (a bug's lines): identifiers, numbers and operators."""
    return frozenset(_code_tokens(code))


def _top_level(source: str) -> list[str]:
    """The alternatives of a regular expression's source, split at its top-level `|`."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


def _leading_literal(body: str) -> str:
    """The run of plain characters a pattern's every match starts with, lower-cased."""
    n = 0
    while n < len(body) and body[n] not in "\\()[]{}|.^$*+?":
        n += 1
    if n < len(body) and body[n] in "?*{":
        n -= 1  # the last character is optional
    return body[: max(n, 0)].lower()


def _group_literals(body: str) -> list[str]:
    """For a pattern starting with a group of plain alternatives, `(?:needs?|has|must)...`,
    each one's leading literal; empty when some alternative has none."""
    if not body.startswith("(?:"):
        return []
    depth, end = 0, 0
    while end < len(body):
        depth += (body[end] == "(") - (body[end] == ")")
        if depth == 0:
            break
        end += 1
    literals = [_leading_literal(p) for p in _top_level(body[3:end])]
    return literals if all(literals) else []


def _alternatives(pattern: re.Pattern[str]) -> list[tuple[str, re.Pattern[str]]]:
    """Each top-level alternative of `pattern` with a literal every match of it starts with.

    The literal is the alternative's leading run of plain characters (after a `\\b`),
    lower-cased; an alternative starting with a group of plain alternatives is listed once
    per alternative of the group; the literal is empty when none can be told. The patterns
    are compiled to run on lower-cased text (see `states_correction`).
    """
    out = []
    flags = pattern.flags & ~re.I
    for part in _top_level(pattern.pattern):
        if re.sub(r"\\.", "", part) != re.sub(r"\\.", "", part).lower():
            raise ValueError(f"an upper-case letter in {part!r} would not match lower-cased text")
        body = part.removeprefix("\\b")
        compiled = re.compile(_literal_first(part), flags)
        for literal in _group_literals(body) or [_leading_literal(body)]:
            out.append((literal, compiled))
    return out


def _literal_first(part: str) -> str:
    """An alternative respelled to start with its leading literal, when it starts with `\\b`
    and a word character: `\\bL...` as `L(?<!\\wL)...`, which matches where it does.

    A pattern starting with a literal lets the regex engine skip ahead to each occurrence of
    the literal; one starting with `\\b` is tried at every position of the text.
    """
    body = part.removeprefix("\\b")
    literal = _leading_literal(body)
    if body == part or not literal or not body.startswith(literal) or not literal[0].isalnum():
        return part
    return f"{literal}(?<!\\w{literal}){body[len(literal) :]}"


_CORRECTION_ALTERNATIVES = _alternatives(CORRECTION_RE)


def states_correction(text: str) -> bool:
    """Whether a text states a defect or its correction in the words reviewers use for it.

    The same answer as `CORRECTION_RE.search(text)`, found faster: one case-insensitive scan
    for some fifty alternatives costs more than tokenising the text, while a substring test
    of each alternative's leading word leaves only the few that can match to scan for, and
    those scan the lower-cased text without folding case.
    """
    if not text.isascii():
        # Lower-casing and the regex engine's case folding may disagree outside ASCII.
        return CORRECTION_RE.search(text) is not None
    lower = text.lower()
    for hint, alternative in _CORRECTION_ALTERNATIVES:
        if hint in lower and alternative.search(lower) is not None:
            return True
    return False


def reports_symptom(text: str) -> bool:
    """Whether a text reports what the code does wrong when run (`SYMPTOM_RE`), outside its
    code blocks: a pasted suggestion is code, not a report.

    Each alternative of the pattern starts with `\\b` or `\\w`, so one scan tries all of them
    at every position of the text; most texts lack the words an alternative needs, which a
    substring test tells for far less, and only the alternatives left are scanned for.
    """
    if "```" in text:
        text = FENCE_RE.sub(" ", text)
    if not text.isascii():
        # Lower-casing and the regex engine's case folding may disagree outside ASCII.
        return SYMPTOM_RE.search(text) is not None
    lower = text.lower()
    for needs, alternative in _LOWER_SYMPTOM_ALTERNATIVES:
        if _contains_each(lower, needs) and alternative.search(lower):
            return True
    return False


def _contains_each(text: str, needs: tuple[tuple[str, ...], ...]) -> bool:
    """Whether `text` contains one word of each tuple of `needs` (plain loops: a generator
    costs more than the substring tests)."""
    for words in needs:  # noqa: SIM110 (a loop, not a generator: see above)
        if not contains_any(text, words):
            return False
    return True


def asks_correction(text: str) -> bool:
    """Whether a question states a defect or its correction for the reader to confirm
    (`ASKED_CORRECTION_RE`), rather than only asking."""
    # Both alternatives end with the question mark; most comments have none, and the scan
    # would try every word of them.
    return "?" in text and ASKED_CORRECTION_RE.search(text) is not None


# Prose around code beyond which a comment says more than its code: "`>= 500`", "+1 `cursor`",
# a suggestion block under "this:" are code with a word or two.
BARE_CODE_WORDS = 3


def is_bare_code(text: str) -> bool:
    """Whether a text is code with at most a few words of prose: a correction written out."""
    if "`" not in text:
        return False
    prose = INLINE_CODE_RE.sub(" ", FENCE_RE.sub(" ", text))
    return len(prose.split()) <= BARE_CODE_WORDS


def writes_fix(
    tokens: frozenset[str], lines: frozenset[str], key_code: frozenset[str], *, bare: bool
) -> bool:
    """Whether code a comment writes is the key's correction of a bug's lines and no other.

    Everything the comment names that the lines lack is code the key writes (`key_code`, in
    backticks): "`>= 500`" on `status > 500` against a key saying "`> 500` instead of
    `>= 500`". A different correction ("`depth >= 0`" where the key writes `depth == 0`)
    names code the key does not. A key also names code only to say where ("`MemoryStore`
    holds one lock"), so a name alone is a correction only when the comment is `bare` code
    (a suggestion block, "`monotonic()`"); an operator or a value is one in any comment.
    """
    new = tokens - lines
    if not new or not new <= key_code:
        return False
    return bare or not all(_is_name(t) for t in new)


def drops_fix(
    suggested: frozenset[str], replaced: frozenset[str], key_code: frozenset[str]
) -> bool:
    """Whether a suggestion block rewriting lines only drops code the key says to drop.

    `suggested` holds the block's code tokens and `replaced` those of the lines it stands
    for. "`return levenshtein(a, b)`" for `return 1 + levenshtein(a, b)`, against a key
    saying "`1 + levenshtein(...)` should be `levenshtein(...)`", adds nothing and drops only
    `+`, which the key writes: the fix. Dropping a name alone says nothing a key can confirm.
    """
    gone = replaced - suggested
    if not gone or not suggested or suggested - replaced or not gone <= key_code:
        return False
    return not all(_is_name(t) for t in gone)


def _is_name(token: str) -> bool:
    """Whether a code token is an identifier, not a number or an operator."""
    return token[0].isalpha() or token[0] == "_"
