"""Retrieval: dense search in Qdrant, keyword backfill for thin results, cross-encoder rerank."""

import logging
import re
from dataclasses import dataclass

import httpx
from qdrant_client.models import FieldCondition, Filter, MatchAny, MatchText, MatchValue

from ingest import COLLECTION, EmbeddingProvider

log = logging.getLogger(__name__)

_STOPWORDS = frozenset("a an and are can do does how in is it my of on or the to what when why with you".split())


@dataclass
class Hit:
    chunk_id: str
    article_id: str
    chunk_index: int
    title: str
    url: str
    text: str
    score: float


def hitFromPoint(p, score=None) -> Hit:
    pl = p.payload
    return Hit(str(p.id), pl["article_id"], pl["chunk_index"], pl["title"], pl["url"], pl["text"],
               p.score if score is None else score)


def _visibility(audience: str) -> list[str]:
    # agents see internal runbooks as well; end users in the widget only see the public help centre
    return ["public", "internal"] if audience == "agent" else ["public"]


class Retriever:
    def __init__(self, qdrant, embedder: EmbeddingProvider, reranker_url: str, top_k: int = 6,
                 oversample: int = 4, min_score: float = 0.35, min_dense_hits: int = 3):
        self._qdrant = qdrant
        self._embedder = embedder
        self._rerank_http = httpx.Client(base_url=reranker_url, timeout=2.0)
        self.top_k = top_k
        self.oversample = oversample
        self.min_score = min_score
        self.min_dense_hits = min_dense_hits

    def search(self, tenant_id: str, query: str, audience: str = "customer") -> list[Hit]:
        query_filter = Filter(must=[
            FieldCondition(key="tenant_id", match=MatchValue(value=tenant_id)),
            FieldCondition(key="visibility", match=MatchAny(any=_visibility(audience))),
        ])
        vector = self._embedder.embed([query])[0]
        points = self._qdrant.search(COLLECTION, query_vector=vector, query_filter=query_filter,
                                     limit=self.top_k * self.oversample, with_payload=True)
        hits = [hitFromPoint(p) for p in points if p.score >= self.min_score]
        if len(hits) < self.min_dense_hits:
            seen = {h.chunk_id for h in hits}
            hits += [h for h in self._keyword_backfill(query, audience) if h.chunk_id not in seen]
        return self._rerank(query, hits)[: self.top_k]

    def _keyword_backfill(self, query: str, audience: str) -> list[Hit]:
        words = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if w not in _STOPWORDS and len(w) > 2]
        if not words:
            return []
        keyword_filter = Filter(
            must=[FieldCondition(key="visibility", match=MatchAny(any=_visibility(audience)))],
            should=[FieldCondition(key="text", match=MatchText(text=w)) for w in words],
        )
        points, _ = self._qdrant.scroll(COLLECTION, scroll_filter=keyword_filter, limit=self.top_k * self.oversample)
        return [hitFromPoint(p, score=0.0) for p in points]

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """POST /rerank -> {"scores": [...]}, one cross-encoder score per document, in input order."""
        if len(hits) <= 1:
            return hits
        try:
            resp = self._rerank_http.post("/rerank", json={"query": query, "documents": [h.text for h in hits]})
            resp.raise_for_status()
            scores = resp.json()["scores"]
        except httpx.HTTPError:
            log.warning("reranker unavailable, keeping retrieval order", exc_info=True)
            return hits
        for h, s in zip(hits, scores):
            h.score = s
        return sorted(hits, key=lambda h: h.score, reverse=True)
