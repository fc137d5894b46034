"""Answering: fit retrieved chunks into the prompt budget, call the LLM, resolve citations."""

import re
from dataclasses import dataclass

import httpx

from ingest import count_tokens
from retrieve import Hit, Retriever

PROMPT_BUDGET = 6_000  # tokens for system prompt + sources + question
ANSWER_MAX_TOKENS = 700

SYSTEM_PROMPT = (
    "You answer support questions for {company}. Answer only from the numbered sources below. "
    "Cite every statement with the number of its source in square brackets, e.g. [2]. "
    "If the sources do not answer the question, say that you don't know and suggest contacting support."
)

_CITATION = re.compile(r"\[(\d+)\]")


@dataclass
class Answer:
    text: str
    citations: list[dict]  # [{"n": 2, "title": ..., "url": ...}]
    chunk_ids: list[str]


class AnswerService:
    def __init__(self, retriever: Retriever, llm_url: str, model: str = "gpt-4o-mini", timeout: float = 20.0):
        self._retriever = retriever
        self._llm = httpx.Client(base_url=llm_url, timeout=timeout)
        self._model = model

    def answer(self, tenant_id: str, company: str, question: str, audience: str = "customer") -> Answer:
        hits = self._retriever.search(tenant_id, question, audience)
        if not hits:
            return Answer(text="I couldn't find this in the help centre.", citations=[], chunk_ids=[])
        system = SYSTEM_PROMPT.format(company=company)
        budget = PROMPT_BUDGET - count_tokens(system) - count_tokens(question)
        context = self._fit(hits, budget)
        messages = [
            {"role": "system", "content": system + "\n\nSources:\n\n" + self._render(context)},
            {"role": "user", "content": question},
        ]
        payload = {"model": self._model, "messages": messages, "temperature": 0.1, "max_tokens": ANSWER_MAX_TOKENS}
        resp = self._llm.post("/v1/chat/completions", json=payload)
        resp.raise_for_status()
        text = resp.json()["choices"][0]["message"]["content"].strip()
        return Answer(text, self._resolve_citations(text, hits), [h.chunk_id for h in context])

    @staticmethod
    def _fit(hits: list[Hit], budget: int) -> list[Hit]:
        chosen: list[Hit] = []
        used = 0
        for h in hits:
            cost = count_tokens(f"[00] {h.title} ({h.url})\n{h.text}\n\n")
            if used + cost > budget:
                continue
            chosen.append(h)
            used += cost
        # read chunks of one article together and in their original order
        return sorted(chosen, key=lambda h: (h.article_id, h.chunk_index))

    @staticmethod
    def _render(context: list[Hit]) -> str:
        return "\n\n".join(f"[{i}] {h.title} ({h.url})\n{h.text}" for i, h in enumerate(context, start=1))

    @staticmethod
    def _resolve_citations(text: str, sources: list[Hit]) -> list[dict]:
        seen: set[int] = set()
        out: list[dict] = []
        for m in _CITATION.finditer(text):
            n = int(m.group(1))
            if n in seen or not 1 <= n <= len(sources):
                continue
            seen.add(n)
            out.append({"n": n, "title": sources[n - 1].title, "url": sources[n - 1].url})
        return out
