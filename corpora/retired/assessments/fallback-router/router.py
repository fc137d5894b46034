"""Routes chat completions to the primary provider, falling back to the secondary."""

from __future__ import annotations

import asyncio
import logging
import json
from dataclasses import dataclass
from typing import Protocol

from breaker import CircuitBreaker

log = logging.getLogger("fallback_router")


class ProviderError(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class BudgetExceeded(Exception):
    pass


class Provider(Protocol):
    name: str

    async def complete(self, messages: list[dict], max_tokens: int) -> dict: ...


@dataclass
class Completion:
    text: str
    provider: str
    tokens_used: int


class TenantBudget:
    """Daily token allowance per tenant, reserved before a call and settled after."""

    def __init__(self, daily_limit: int) -> None:
        self.daily_limit = daily_limit
        self._spent: dict[str, int] = {}

    def reserve(self, tenant: str, tokens: int) -> None:
        spent = self._spent.get(tenant, 0)
        if spent + tokens > self.daily_limit:
            raise BudgetExceeded(f"{tenant} has {self.daily_limit - spent} tokens left today")
        self._spent[tenant] = spent + tokens

    def settle(self, tenant: str, reserved: int, used: int) -> None:
        self._spent[tenant] = self._spent.get(tenant, 0) + used

    def release(self, tenant: str, reserved: int) -> None:
        self._spent[tenant] = max(0, self._spent.get(tenant, 0) - reserved)

    def reset(self) -> None:
        self._spent.clear()


def estimate_tokens(messages: list[dict], max_tokens: int) -> int:
    # Four characters a token is what the tokenizer averages on our traffic;
    # the estimate only has to be an upper bound for the reservation.
    prompt_chars = sum(len(m["content"]) for m in messages)
    return prompt_chars // 4 + max_tokens


class CompletionRouter:
    def __init__(
        self,
        primary: Provider,
        secondary: Provider,
        budget: TenantBudget,
        deadline_s: float = 12.0,
        attempt_timeout_s: float = 8.0,
        max_concurrency: int = 64,
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.budget = budget
        self.deadline_s = deadline_s
        self.attempt_timeout_s = attempt_timeout_s
        self.breakers = {
            primary.name: CircuitBreaker(primary.name),
            secondary.name: CircuitBreaker(secondary.name),
        }
        self._slots = asyncio.Semaphore(max_concurrency)

    async def complete(self, tenant: str, messages: list[dict], max_tokens: int = 512) -> Completion:
        reserved = estimate_tokens(messages, max_tokens)
        self.budget.reserve(tenant, reserved)
        try:
            async with self._slots:
                completion = await self._route(messages, max_tokens)
        except BaseException:
            self.budget.release(tenant, reserved)
            raise
        self.budget.settle(tenant, reserved, completion.tokens_used)
        return completion

    async def _route(self, messages: list[dict], max_tokens: int) -> Completion:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s
        last_error: Exception | None = None

        primary_breaker = self.breakers[self.primary.name]
        if primary_breaker.allow():
            remaining = deadline - loop.time()
            try:
                return await self._attempt(self.primary, messages, max_tokens, min(self.attempt_timeout_s, remaining))
            except ProviderError as err:
                # A request the primary rejects as malformed (too long, bad
                # schema) fails on the secondary too; only outages fall back.
                if err.status < 500 and err.status != 429:
                    raise
                last_error = err
            except TimeoutError as err:
                last_error = err
        else:
            log.info("primary %s open, going straight to fallback", self.primary.name)

        try:
            return await self._attempt(self.secondary, messages, max_tokens, self.attempt_timeout_s)
        except (ProviderError, TimeoutError) as err:
            raise ProviderError(503, f"all providers failed: {last_error!r}, {err!r}") from err

    async def _attempt(self, provider: Provider, messages: list[dict], max_tokens: int, timeout: float) -> Completion:
        breaker = self.breakers[provider.name]
        try:
            raw = await asyncio.wait_for(provider.complete(messages, max_tokens), timeout)
        except (ProviderError, TimeoutError) as err:
            if not isinstance(err, ProviderError) or err.status >= 500 or err.status == 429:
                breaker.record_failure()
            raise
        breaker.record_success()
        l = raw["usage"]
        return Completion(text=raw["choices"][0]["message"]["content"], provider=provider.name, tokens_used=l["prompt_tokens"] + l["completion_tokens"])

    def health(self) -> list[dict]:
        return [b.snapshot() for b in self.breakers.values()]
