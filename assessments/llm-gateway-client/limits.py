"""Rate limiting, retry backoff and usage accounting for the gateway client."""

import abc
import asyncio
import random
import time
from typing import Protocol

# USD per million tokens: (input, output)
PRICES: dict[str, tuple[float, float]] = {
    "gw-small": (0.15, 0.60),
    "gw-large": (2.50, 10.00),
}


class BudgetExceeded(Exception):
    pass


class TokenBucket:
    """Tokens-per-minute limiter for this pod's share of the provider quota."""

    def __init__(self, tokens_per_minute: int) -> None:
        self.capacity = float(tokens_per_minute)
        self.rate = tokens_per_minute / 60.0
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, n: int) -> None:
        n = min(n, self.capacity)
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


class BackoffPolicy(abc.ABC):
    """Strategy interface for the delay between retries."""

    @abc.abstractmethod
    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""


class ExponentialJitterBackoff(BackoffPolicy):
    def __init__(self, base: float = 0.5, cap: float = 20.0) -> None:
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


_BACKOFF_REGISTRY: dict[str, type[BackoffPolicy]] = {
    "exponential-jitter": ExponentialJitterBackoff,
}


def make_backoff(name: str, **kwargs: float) -> BackoffPolicy:
    if name not in _BACKOFF_REGISTRY:
        raise ValueError(f"unknown backoff policy {name!r}")
    return _BACKOFF_REGISTRY[name](**kwargs)


class UsageStore(Protocol):
    async def add(self, team: str, model: str, prompt: int, output: int, usd: float) -> None: ...
    async def month_to_date_usd(self, team: str) -> float: ...


class UsageLedger:
    """Per-team usage for the monthly chargeback, and the budget check built on it."""

    def __init__(self, store: UsageStore, budgets_usd: dict[str, float]) -> None:
        self._store = store
        self._budgets = budgets_usd

    async def record(self, team, model, prompt_tokens, completion_tokens):
        price_in, price_out = PRICES[model]
        cost = (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
        await self._store.add(team, model, prompt_tokens, completion_tokens, cost)

    async def check_budget(self, team: str) -> None:
        budget = self._budgets.get(team)
        if budget is not None and await self._store.month_to_date_usd(team) >= budget:
            raise BudgetExceeded(f"team {team!r} has used its monthly budget of ${budget:,.0f}")
