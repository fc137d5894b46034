"""LLM gateway client and the tool-using worker agents."""
from __future__ import annotations

import abc
import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class LLMClient:
    """Chat-completions client for the internal LLM gateway, with retries and a concurrency cap."""

    def __init__(self, http: httpx.AsyncClient, model: str, *, max_retries: int = 3,
                 backoff_cap: float = 8.0, max_concurrency: int = 64):
        self._http, self._model = http, model
        self._max_retries, self._backoff_cap = max_retries, backoff_cap
        self._slots = asyncio.Semaphore(max_concurrency)

    async def complete(self, messages: list[dict[str, Any]], *, tools: list[dict] | None = None,
                       timeout: float = 30.0) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self._model, "messages": messages, "temperature": 0}
        if tools:
            payload["tools"] = tools
        for attempt in range(self._max_retries + 1):
            try:
                async with self._slots:
                    resp = await self._http.post("/v1/chat/completions", json=payload, timeout=timeout)
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    raise
                log.warning("llm transport error (attempt %d): %s", attempt + 1, exc)
            else:
                if resp.status_code not in RETRYABLE_STATUS or attempt == self._max_retries:
                    resp.raise_for_status()
                    return resp.json()["choices"][0]["message"]
            delay = min(self._backoff_cap, 0.5 * 2 ** attempt)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")


@dataclass
class AgentConfig:
    kind: str
    system_prompt: str
    max_steps: int = 4
    timeout_s: float = 20.0
    options: dict[str, Any] = field(default_factory=dict)


class ToolAgent:
    """A bounded tool-calling loop: ask the model, run the tool it picks, repeat."""

    def __init__(self, llm: LLMClient, config: AgentConfig, backend: Any):
        self.llm, self.config, self.backend = llm, config, backend

    async def call_tool(self, arguments: dict[str, Any]) -> str:
        raise NotImplementedError

    async def run(self, instruction: str, context: list[str]) -> str:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.config.system_prompt},
                                          {"role": "user", "content": "\n\n".join([*context, instruction])}]
        for _ in range(self.config.max_steps):
            msg = await self.llm.complete(messages, tools=[self.tool_spec], timeout=self.config.timeout_s)
            calls = msg.get("tool_calls") or []
            if not calls:
                return msg.get("content") or ""
            messages.append(msg)
            args = [json.loads(c["function"]["arguments"]) for c in calls]
            outputs = await asyncio.gather(*(self.call_tool(a) for a in args))
            for call, output in zip(calls, outputs):
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": output[:4000]})
        return "No final answer within the step limit."


class SearchAgent(ToolAgent):
    tool_spec = {"type": "function", "function": {
        "name": "search_docs", "description": "Search help-center articles and resolved tickets.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}

    async def call_tool(self, arguments: dict[str, Any]) -> str:
        resp = await self.backend.get(self.config.options["search_url"], params={"q": arguments["query"], "k": 5})
        resp.raise_for_status()
        return "\n\n".join(f"{h['title']}: {h['snippet']}" for h in resp.json()["hits"])


class SqlAgent(ToolAgent):
    tool_spec = {"type": "function", "function": {
        "name": "run_sql", "description": "Run one read-only SELECT on the analytics replica.",
        "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}}}

    async def call_tool(self, arguments: dict[str, Any]) -> str:
        async with self.backend.acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(arguments["sql"], timeout=10)
        return json.dumps([dict(r) for r in rows[:50]], default=str)


class AgentFactory(abc.ABC):
    @abc.abstractmethod
    def create(self, llm: LLMClient, config: AgentConfig, **deps: Any) -> ToolAgent: ...


class AgentRegistry:
    _factories: dict[str, type[AgentFactory]] = {}

    @classmethod
    def register(cls, kind: str) -> Callable[[type[AgentFactory]], type[AgentFactory]]:
        def decorator(factory_cls: type[AgentFactory]) -> type[AgentFactory]:
            cls._factories[kind] = factory_cls
            return factory_cls
        return decorator

    @classmethod
    def build(cls, llm: LLMClient, config: AgentConfig, **deps: Any) -> ToolAgent:
        return cls._factories[config.kind]().create(llm, config, **deps)


@AgentRegistry.register("search")
class SearchAgentFactory(AgentFactory):
    def create(self, llm, config, **deps):
        return SearchAgent(llm, config, deps["search_http"])


@AgentRegistry.register("sql")
class SqlAgentFactory(AgentFactory):
    def create(self, llm, config, **deps):
        return SqlAgent(llm, config, deps["pool"])
