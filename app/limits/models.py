"""A counter per limited thing (a sign-in pair, an address, an invite, a candidate)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class RateCounter(Base):
    """Hits on one key in its current fixed window; the key names no person in clear."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    hits: Mapped[int] = mapped_column(default=0)
