"""Plans a question into subtasks, runs them on worker agents and merges the results."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from agents import LLMClient, ToolAgent

log = logging.getLogger(__name__)

PLANNER_PROMPT = Path("prompts/planner.txt").read_text()
AGGREGATOR_PROMPT = Path("prompts/aggregator.txt").read_text()


@dataclass
class Subtask:
    id: str
    agent: str
    instruction: str


@dataclass
class WorkerResult:
    agent: str
    ok: bool
    output: str = ""
    error: str | None = None


class MemoryStore:
    """Working notes per chat session, condensed by the model when they grow too long."""

    def __init__(self, llm: LLMClient, max_chars: int = 12_000):
        self._llm, self._max_chars = llm, max_chars
        self._notes: dict[str, list[str]] = {}
        self._lock = asyncio.Lock()

    def get(self, session_id: str) -> list[str]:
        return list(self._notes.get(session_id, ()))

    async def append(self, session_id: str, note: str) -> None:
        async with self._lock:
            notes = self._notes.setdefault(session_id, [])
            notes.append(note)
            if sum(len(n) for n in notes) > self._max_chars:
                msg = await self._llm.complete([
                    {"role": "system", "content": "Condense these notes. Keep every number, name and id."},
                    {"role": "user", "content": "\n\n".join(notes)},
                ], timeout=30.0)
                self._notes[session_id] = [msg["content"]]


class Orchestrator:
    def __init__(self, llm: LLMClient, agents: dict[str, ToolAgent], memory: MemoryStore,
                 task_budget_s: float = 25.0, aggregate_reserve_s: float = 6.0, max_subtasks: int = 6):
        self.llm, self.agents, self.memory = llm, agents, memory
        self.task_budget_s, self.aggregate_reserve_s = task_budget_s, aggregate_reserve_s
        self.max_subtasks = max_subtasks
        self.blackboard: dict[str, WorkerResult] = {}

    async def run(self, session_id: str, question: str) -> dict:
        started = time.monotonic()
        self.blackboard.clear()
        subtasks = await self._plan(question)
        budget = self.task_budget_s - self.aggregate_reserve_s - (time.monotonic() - started)
        await self._fan_out(session_id, subtasks, budget)
        answer = await self._aggregate(question, subtasks)
        return {"answer": answer, "unavailable": [st.id for st in subtasks if not self.blackboard[st.id].ok]}

    async def _plan(self, question: str) -> list[Subtask]:
        msg = await self.llm.complete([{"role": "system", "content": PLANNER_PROMPT},
                                       {"role": "user", "content": question}], timeout=10.0)
        try:
            items = json.loads(msg["content"])["subtasks"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("unparseable plan, falling back to a single search")
            items = [{"agent": "search", "instruction": question}]
        return [Subtask(id=f"t{i + 1}", agent=it["agent"], instruction=it["instruction"])
                for i, it in enumerate(items[: self.max_subtasks]) if it.get("agent") in self.agents]

    async def _fan_out(self, session_id: str, subtasks: list[Subtask], budget_s: float) -> None:
        tasks = {asyncio.create_task(self._run_worker(session_id, st), name=f"worker-{st.id}"): st
                 for st in subtasks}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=max(budget_s, 0.1))
        for task in pending:
            st = tasks[task]
            log.warning("subtask %s (%s) ran out of budget", st.id, st.agent)
            self.blackboard[st.id] = WorkerResult(st.agent, ok=False, error="timeout")

    async def _run_worker(self, session_id: str, st: Subtask) -> None:
        agent = self.agents[st.agent]
        try:
            output = await agent.run(st.instruction, context=self.memory.get(session_id))
        except Exception as exc:
            log.exception("agent %s failed on subtask %s", st.agent, st.id)
            self.blackboard[st.id] = WorkerResult(st.agent, ok=False, error=type(exc).__name__)
            return
        await self.memory.append(session_id, f"[{st.id} {st.agent}] {st.instruction}\n{output}")
        self.blackboard[st.id] = WorkerResult(st.agent, ok=True, output=output)

    async def _aggregate(self, question, subtasks):
        parts = []
        for st in subtasks:
            r = self.blackboard.get(st.id)
            text = r.output if r and r.ok else "unavailable"
            parts.append(f"## {st.id} ({st.agent})\n{text}")
        msg = await self.llm.complete([{"role": "system", "content": AGGREGATOR_PROMPT},
                                       {"role": "user", "content": question + "\n\n" + "\n\n".join(parts)}],
                                      timeout=self.aggregate_reserve_s)
        return msg["content"]
