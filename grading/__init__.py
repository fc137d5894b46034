"""Redline's grading engine: match review comments to seeded bugs and score them by the rubric.

A library with no web, database or environment dependency. The usual use::

    from grading import Grader, load_assessment, load_answer_key, parse_review

    assessment = load_assessment(Path("assessments/docs-rag"))
    key = load_answer_key(Path("seeded_bugs/docs-rag.yaml"), assessment)
    grade = default_grader().grade(parse_review(obj), assessment, key)
    grade.to_dict(explain=True)
"""

from grading.cache import default_grader
from grading.classification import CommentClassifier
from grading.content import Catalog, CatalogEntry, load_answer_key, load_assessment, load_catalog
from grading.errors import (
    ContentError,
    DecisionError,
    GradeFormatError,
    GradingError,
    ModelError,
    Problem,
    ReviewFormatError,
)
from grading.grader import Grader, GraderSettings
from grading.index import AssessmentIndex, build_index
from grading.matching import MatchModel
from grading.models import Models, assemble
from grading.registry import ModelInfo, Registry, RetrainRunning
from grading.registry import new_version as new_model_version
from grading.rescore import Rescore, rescore
from grading.retrain import Comparison, Decided, Refit, Tolerance, refit
from grading.retrain import format_table as format_comparison
from grading.reviews import iter_review_lines, parse_review
from grading.text import unstorable
from grading.training import Gold, LabelledReview
from grading.types import (
    COMMENT_KINDS,
    DIMENSIONS,
    SEVERITIES,
    SUMMARY,
    AnswerKey,
    Assessment,
    Comment,
    CommentLabel,
    Decoy,
    DimensionEvidence,
    Evidence,
    FalseAlarm,
    Grade,
    LineRange,
    Match,
    MatchEvidence,
    NearMiss,
    Point,
    RedFlag,
    Review,
    Rubric,
    SeededBug,
    SnippetFile,
)

__all__ = [
    "COMMENT_KINDS",
    "DIMENSIONS",
    "SEVERITIES",
    "SUMMARY",
    "AnswerKey",
    "Assessment",
    "AssessmentIndex",
    "Catalog",
    "CatalogEntry",
    "Comment",
    "CommentClassifier",
    "CommentLabel",
    "Comparison",
    "ContentError",
    "Decided",
    "DecisionError",
    "Decoy",
    "DimensionEvidence",
    "Evidence",
    "FalseAlarm",
    "Gold",
    "Grade",
    "GradeFormatError",
    "Grader",
    "GraderSettings",
    "GradingError",
    "LabelledReview",
    "LineRange",
    "Match",
    "MatchEvidence",
    "MatchModel",
    "ModelError",
    "ModelInfo",
    "Models",
    "NearMiss",
    "Point",
    "Problem",
    "RedFlag",
    "Refit",
    "Registry",
    "Rescore",
    "RetrainRunning",
    "Review",
    "ReviewFormatError",
    "Rubric",
    "SeededBug",
    "SnippetFile",
    "Tolerance",
    "assemble",
    "build_index",
    "default_grader",
    "format_comparison",
    "iter_review_lines",
    "load_answer_key",
    "load_assessment",
    "load_catalog",
    "new_model_version",
    "parse_review",
    "refit",
    "rescore",
    "unstorable",
]
