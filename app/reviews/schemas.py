"""Request bodies of the grading API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DecisionIn(BaseModel):
    """One grading decision, naming the GradeDecision version the client started from."""

    version: int = Field(ge=0, le=2**31 - 1)
    action: Literal["match", "flag", "override", "finalize"]
    bug: str | None = Field(default=None, max_length=100)
    kind: str | None = Field(default=None, max_length=20)
    comment: int | None = Field(default=None, ge=-1, le=2**31 - 1)
    verdict: str | None = Field(default=None, max_length=20)
    dimension: str | None = Field(default=None, max_length=20)
    value: float | None = Field(default=None, ge=0, le=100)
    reason: str = Field(default="", max_length=2000)
