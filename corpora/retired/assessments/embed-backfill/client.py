"""Thin client for the internal embeddings gateway (OpenAI-compatible /v1/embeddings)."""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request

log = logging.getLogger(__name__)

# 429 and the gateway's own overload answers; everything else in 4xx is a bad request.
RETRYABLE_STATUS = (429, 500, 502, 503, 504)


class EmbeddingClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str = "text-embed-3-small",
        timeout_s: float = 30.0,
        max_attempts: int = 5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts

    def _post(self, payload: dict) -> dict:
        req = urllib.request.Request(
            self.base_url + "/v1/embeddings",
            data=json.dumps(payload).encode(),
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            return json.loads(resp.read())

    def embed(self, texts: list[str]) -> list[list[float]]:
        payload = {"model": self.model, "input": texts}
        delay = 1.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                body = self._post(payload)
            except urllib.error.HTTPError as e:
                if e.code not in RETRYABLE_STATUS:
                    raise
                retry_after = e.headers.get("Retry-After") if e.headers else None
                wait = float(retry_after) if retry_after else delay * random.uniform(0.5, 1.5)
                log.warning("embed attempt %d got %d, sleeping %.1fs", attempt, e.code, wait)
                time.sleep(wait)
                delay = min(delay * 2, 30.0)
                continue
            # The gateway may answer out of order under load; `index` is authoritative.
            data = sorted(body["data"], key=lambda d: d["index"])
            return [d["embedding"] for d in data]
        log.error("giving up on batch of %d after %d attempts", len(texts), self.max_attempts)
        return []
