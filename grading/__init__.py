"""Redline's grading engine: content loading, matching, classification and scoring.

Importable without the web app, a database or environment variables.
"""

from grading.content import Catalog, CatalogEntry, load_answer_key, load_assessment, load_catalog
from grading.errors import ContentError, GradingError, ModelError, Problem, ReviewFormatError
from grading.types import (
    AnswerKey,
    Assessment,
    Comment,
    Decoy,
    LineRange,
    Review,
    Rubric,
    SeededBug,
    SnippetFile,
)

__all__ = [
    "AnswerKey",
    "Assessment",
    "Catalog",
    "CatalogEntry",
    "Comment",
    "ContentError",
    "Decoy",
    "GradingError",
    "LineRange",
    "ModelError",
    "Problem",
    "Review",
    "ReviewFormatError",
    "Rubric",
    "SeededBug",
    "SnippetFile",
    "load_answer_key",
    "load_assessment",
    "load_catalog",
]
