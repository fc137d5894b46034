"""Properties that hold for any review: bounds, monotone detection, order, determinism."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grading import AnswerKey, Assessment, Grader, Review, classification, scoring
from grading import text as text_module
from grading.types import Comment

WORDS = [
    "cache",
    "key",
    "race",
    "map",
    "mutex",
    "limit",
    "off",
    "by",
    "one",
    "nit",
    "rename",
    "rewrite",
    "LangChain",
    "why",
    "?",
    "windows",
    "goroutine",
    "evict",
    "memory",
    "leak",
    "but",
    "measure",
    "first",
    "then",
    "tenant",
    "Ünïcödé",
    "🚀",
    "```",
    "`w.count`",
]
FINDS = [
    Comment(
        body="Data race: s.windows map written from concurrent goroutines without a "
        "sync.Mutex; Go crashes with concurrent map writes.",
        file="quota.go",
        line=40,
    ),
    Comment(
        body="Expired windows are never evicted, so the map grows forever: memory leak.",
        file="quota.go",
        line=39,
        end_line=42,
    ),
]

comments = st.builds(
    Comment,
    body=st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join) | st.text(max_size=200),
    file=st.sampled_from([None, "quota.go", "other.go", ""]),
    line=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
    end_line=st.one_of(st.none(), st.integers(min_value=1, max_value=500)),
    severity=st.sampled_from([None, "critical", "major", "minor", "nit"]),
)
reviews = st.builds(
    Review,
    id=st.just("p"),
    assessment=st.just("go-quota"),
    comments=st.lists(comments, max_size=6).map(tuple),
    summary=st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join),
)
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(review=reviews)
def test_every_score_stays_in_bounds(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, review: Review
) -> None:
    g = grader.grade(review, go_assessment, go_key)
    assert 0.0 <= g.total <= 100.0
    assert all(0.0 <= score <= 100.0 for _, score in g.dimensions)
    assert all(0.0 <= m.confidence <= 1.0 for m in g.matches)
    assert len(g.comments) == len(review.comments)


@PROPERTY
@given(review=reviews, which=st.integers(min_value=0, max_value=1))
def test_adding_a_finding_comment_never_lowers_detection(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, review: Review, which: int
) -> None:
    before = grader.grade(review, go_assessment, go_key)
    longer = Review(review.id, review.assessment, (*review.comments, FINDS[which]), review.summary)
    after = grader.grade(longer, go_assessment, go_key)
    assert after.dimension("detection") >= before.dimension("detection")


@PROPERTY
@given(review=reviews, data=st.data())
def test_reordering_comments_never_changes_detection(
    grader: Grader,
    go_assessment: Assessment,
    go_key: AnswerKey,
    review: Review,
    data: st.DataObject,
) -> None:
    shuffled = data.draw(st.permutations(review.comments))
    other = Review(review.id, review.assessment, tuple(shuffled), review.summary)
    before = grader.grade(review, go_assessment, go_key)
    after = grader.grade(other, go_assessment, go_key)
    assert after.dimension("detection") == before.dimension("detection")
    assert {m.bug for m in after.matches} == {m.bug for m in before.matches}


@PROPERTY
@given(review=reviews)
def test_grading_is_deterministic(
    grader: Grader, go_assessment: Assessment, go_key: AnswerKey, review: Review
) -> None:
    first = grader.grade(review, go_assessment, go_key).to_dict(explain=True)
    again = grader.grade(review, go_assessment, go_key).to_dict(explain=True)
    in_batch = grader.grade_many([review, review], go_assessment, go_key)[1]
    assert first == again == in_batch.to_dict(explain=True)


CUE_WORDS = [
    "But",
    "HOWEVER",
    "measure",
    "Benchmark",
    "first",
    "Then",
    "rewrite",
    "from scratch",
    "LangChain",
    "Kafka",
    "overkill",
    "YAGNI",
    "a plain function",
    "Fix X before",
    "1.",
    "\n",
    "K",  # the Kelvin sign folds to "k" case-insensitively
    "İf",
    "ſpark",
    "x",
    ".",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CUE_WORDS), max_size=12))
def test_fast_cue_search_finds_what_the_pattern_finds(words: list[str]) -> None:
    """The lower-cased, case-sensitive search finds the same span as the pattern itself."""
    text = " ".join(words)
    patterns = [classification.HEAVY_RE, classification.REWRITE_RE, scoring.PRIORITY_RE]
    patterns += [pattern for pattern, _ in scoring.CUES.values()]
    for pattern in patterns:
        expected = pattern.search(text)
        for got in (text_module.find(pattern, text), classification.search(pattern, text)):
            assert (got and got.span()) == (expected and expected.span())
        every = {m.group(0).lower() for m in pattern.finditer(text)}
        assert text_module.matched_words(pattern, text) == every
    for pattern, hints in scoring.CUES.values():
        got = classification.search(pattern, text, hints)
        expected = pattern.search(text)
        assert (got and got.span()) == (expected and expected.span())


def _tfidf_by_dictionaries(
    vectorizer: classification.NgramTfidf, docs: list[list[str]]
) -> list[dict[int, float]]:
    """Each document's weight per column, one dictionary per document: what
    `NgramTfidf.transform` computes in arrays over the batch."""
    rows = []
    for doc in docs:
        counts: dict[int, int] = {}
        for g in classification.grams(doc):
            column = vectorizer.vocabulary_.get(g)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        weights = {
            column: (1.0 + np.log(float(n))) * vectorizer.idf_[column]
            for column, n in counts.items()
        }
        norm = np.sqrt(sum(w * w for w in weights.values()))
        rows.append({column: w / (norm if norm > 0 else 1.0) for column, w in weights.items()})
    return rows


TFIDF_WORDS = ["cache", "key", "race", "?", "off", "by", "one", "the", "lock", "unseen"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(TFIDF_WORDS[:-1]), max_size=8), min_size=1, max_size=6),
    st.lists(st.lists(st.sampled_from(TFIDF_WORDS), max_size=10), max_size=8),
)
def test_tfidf_rows_are_those_of_one_dictionary_per_document(
    training: list[list[str]], docs: list[list[str]]
) -> None:
    """Looking bigrams up by word numbers finds each document's terms and counts."""
    vectorizer = classification.NgramTfidf(min_df=2).fit(training)
    x = vectorizer.transform(docs)
    expected = _tfidf_by_dictionaries(vectorizer, docs)
    assert x.shape == (len(docs), len(vectorizer.vocabulary_))
    for i, row in enumerate(expected):
        a, b = x.indptr[i], x.indptr[i + 1]
        got = dict(zip(x.indices[a:b].tolist(), x.data[a:b].tolist(), strict=True))
        assert sorted(got) == sorted(row)
        assert np.allclose([got[c] for c in row], list(row.values()), rtol=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_tokens_of_ascii_prose_are_those_the_pattern_finds(text: str) -> None:
    """Tokenising ASCII prose by a byte table gives what one scan of TOKEN_RE gives."""
    assert classification.tokens(text) == classification.TOKEN_RE.findall(
        classification.prose(text)
    )
