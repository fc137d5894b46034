"""Submissions domain."""
