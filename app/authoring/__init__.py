"""Authoring: assessments, their versions, previews, the grader on trial, item analysis."""
