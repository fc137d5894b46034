"""Per-provider circuit breaker for the completion router."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class CircuitBreaker:
    """Stops sending traffic to a provider that keeps failing, then probes it again."""

    name: str
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    clock: callable = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        now = self.clock()
        if now - self._opened_at < self.cooldown_s:
            return False
        # Half-open: restarting the cooldown lets exactly one request probe the
        # provider; everyone else keeps using the fallback until it reports.
        self._opened_at = now
        return True

    def record_success(self) -> None:
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self.clock()

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def snapshot(self) -> dict:
        return {"name": self.name, "failures": self._failures, "open": self.is_open}
