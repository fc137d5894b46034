"""Invites domain."""
