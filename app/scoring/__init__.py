"""Scoring domain."""
