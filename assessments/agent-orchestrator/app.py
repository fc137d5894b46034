"""HTTP entry point of the analyst Q&A service."""
import os
import time
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from agents import AgentConfig, AgentRegistry, LLMClient
from orchestrator import MemoryStore, Orchestrator

AGENT_CONFIGS = [
    AgentConfig(kind="search", system_prompt=open("prompts/search.txt").read(),
                options={"search_url": os.environ["SEARCH_URL"]}),
    AgentConfig(kind="sql", system_prompt=open("prompts/sql.txt").read(), max_steps=3),
]


class TaskIn(BaseModel):
    session_id: str = Field(min_length=8, max_length=64)
    question: str = Field(min_length=3, max_length=4000)


@asynccontextmanager
async def lifespan(app: FastAPI):
    llm_http = httpx.AsyncClient(base_url=os.environ["LLM_GATEWAY_URL"],
                                 headers={"Authorization": f"Bearer {os.environ['LLM_API_KEY']}"})
    search_http = httpx.AsyncClient(timeout=5.0)
    pool = await asyncpg.create_pool(os.environ["ANALYTICS_DSN"], min_size=2, max_size=10)
    llm = LLMClient(llm_http, model=os.environ.get("LLM_MODEL", "gpt-4o-mini"))
    agents = {cfg.kind: AgentRegistry.build(llm, cfg, search_http=search_http, pool=pool) for cfg in AGENT_CONFIGS}
    app.state.orchestrator = Orchestrator(llm, agents, MemoryStore(llm))
    yield
    await pool.close()
    await search_http.aclose()
    await llm_http.aclose()


app = FastAPI(title="analyst-qa", lifespan=lifespan)


@app.post("/v1/tasks")
async def handle(body: TaskIn, request: Request):
    t0 = time.perf_counter()
    result = await request.app.state.orchestrator.run(body.session_id, body.question)
    return {**result, "elapsed_ms": round((time.perf_counter() - t0) * 1000)}
