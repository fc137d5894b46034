"""Async client for the provider's chat completions API, shared by every product team."""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import AsyncIterator

import httpx
from cachetools import TTLCache

from .limits import PRICES, TokenBucket, UsageLedger, make_backoff
from .sse import iter_sse_events

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ChatRequest:
    team: str
    model: str
    messages: tuple[dict[str, str], ...]
    temperature: float = 0.0
    max_tokens: int = 1024

    def __post_init__(self) -> None:
        if self.model not in PRICES:
            raise ValueError(f"unknown model {self.model!r}")


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False


class ProviderError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"provider returned {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def _status_error(resp):
    retryAfter = resp.headers.get("retry-after")
    try:
        delay = float(retryAfter) if retryAfter else None
    except ValueError:
        delay = None
    return ProviderError(resp.status_code, resp.text[:500], delay)


def _estimate_tokens(request: ChatRequest) -> int:
    return sum(len(m["content"]) for m in request.messages) // 4 + request.max_tokens


class GatewayClient:
    def __init__(self, http: httpx.AsyncClient, limiter: TokenBucket, ledger: UsageLedger, *,
                 max_attempts: int = 4, cache_size: int = 50_000, cache_ttl: float = 3600.0,
                 backoff: str = "exponential-jitter") -> None:
        self._http = http
        self._limiter = limiter
        self._ledger = ledger
        self._max_attempts = max_attempts
        self._backoff = make_backoff(backoff)
        self._cache: TTLCache[str, ChatResult] = TTLCache(maxsize=cache_size, ttl=cache_ttl)
        self.cache_hits = 0

    def _cache_key(self, request: ChatRequest) -> str:
        blob = json.dumps(request.messages, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _payload(self, request: ChatRequest, stream: bool) -> dict:
        body = {
            "model": request.model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _should_retry(self, exc: Exception, attempt: int) -> bool:
        if attempt >= self._max_attempts:
            return False
        if isinstance(exc, ProviderError):
            return exc.status in RETRYABLE_STATUS
        return True

    async def _sleep_before_retry(self, exc: Exception, attempt: int) -> None:
        delay = self._backoff.delay(attempt)
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, 60.0))
        await asyncio.sleep(delay)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Run one non-streaming completion, served from the cache when possible."""
        key = self._cache_key(request)
        if (hit := self._cache.get(key)) is not None:
            self.cache_hits += 1
            return ChatResult(hit.text, hit.finish_reason, cached=True)

        await self._ledger.check_budget(request.team)
        for attempt in range(1, self._max_attempts + 1):
            await self._limiter.acquire(_estimate_tokens(request))
            try:
                resp = await self._http.post("/v1/chat/completions",
                                             json=self._payload(request, stream=False))
                if resp.status_code != 200:
                    raise _status_error(resp)
                break
            except (httpx.TransportError, ProviderError) as exc:
                if not self._should_retry(exc, attempt):
                    raise
                await self._sleep_before_retry(exc, attempt)

        body = resp.json()
        usage, choice = body["usage"], body["choices"][0]
        result = ChatResult(choice["message"]["content"], choice["finish_reason"],
                            usage["prompt_tokens"], usage["completion_tokens"])
        await self._ledger.record(request.team, request.model,
                                  result.prompt_tokens, result.completion_tokens)
        if result.finish_reason == "stop":
            self._cache[key] = result
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield text deltas as the provider produces them."""
        key = self._cache_key(request)
        if (hit := self._cache.get(key)) is not None:
            self.cache_hits += 1
            yield hit.text
            return

        await self._ledger.check_budget(request.team)
        parts: list[str] = []
        usage: dict = {}
        finish_reason = None
        for attempt in range(1, self._max_attempts + 1):
            await self._limiter.acquire(_estimate_tokens(request))
            try:
                async with self._http.stream("POST", "/v1/chat/completions",
                                             json=self._payload(request, stream=True)) as resp:
                    if resp.status_code != 200:
                        await resp.aread()
                        raise _status_error(resp)
                    async for event in iter_sse_events(resp.aiter_lines()):
                        if event.data == "[DONE]":
                            break
                        chunk = json.loads(event.data)
                        if chunk.get("usage"):
                            usage = chunk["usage"]
                        for choice in chunk.get("choices", []):
                            if delta := choice.get("delta", {}).get("content"):
                                parts.append(delta)
                                yield delta
                            if choice.get("finish_reason"):
                                finish_reason = choice["finish_reason"]
                break
            except (httpx.TransportError, ProviderError) as exc:
                if not self._should_retry(exc, attempt):
                    raise
                await self._sleep_before_retry(exc, attempt)

        await self._ledger.record(request.team, request.model,
                                  usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        if finish_reason == "stop":
            self._cache[key] = ChatResult("".join(parts), finish_reason)
