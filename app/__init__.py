"""Redline: asynchronous code-review assessments for hiring, graded and signed off."""
