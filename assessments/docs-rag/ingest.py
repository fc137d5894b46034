"""Ingestion: split help-centre articles into chunks, embed them, upsert them into Qdrant."""

import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import httpx
import tiktoken
from qdrant_client import QdrantClient
from qdrant_client.models import Distance, FieldCondition, Filter, MatchValue, PayloadSchemaType, PointStruct, Range, VectorParams

COLLECTION = "helpdocs"
EMBED_DIM = 1024
_POINT_NS = uuid.UUID("6f1c2a7e-3b4d-4e8a-9c2f-5d7e8a9b0c1d")
_enc = tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(_enc.encode(text))


@dataclass
class Article:
    tenant_id: str
    article_id: str
    title: str
    url: str
    body_markdown: str
    visibility: str  # "public" (help centre) or "internal" (agent-only runbooks)


class EmbeddingProvider(ABC):
    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]: ...


_PROVIDERS: dict[str, Callable[..., EmbeddingProvider]] = {}


def register_provider(name: str):
    def deco(cls):
        _PROVIDERS[name] = cls
        return cls

    return deco


def get_provider(name: str, **kwargs) -> EmbeddingProvider:
    if name not in _PROVIDERS:
        raise ValueError(f"unknown embedding provider {name!r}; known: {sorted(_PROVIDERS)}")
    return _PROVIDERS[name](**kwargs)


@register_provider("gateway")
class GatewayEmbeddings(EmbeddingProvider):
    def __init__(self, base_url: str, model: str = "bge-m3", timeout: float = 10.0):
        self._http = httpx.Client(base_url=base_url, timeout=timeout)
        self._model = model

    def embed(self, texts: list[str]) -> list[list[float]]:
        resp = self._http.post("/v1/embeddings", json={"model": self._model, "input": texts})
        resp.raise_for_status()
        data = sorted(resp.json()["data"], key=lambda d: d["index"])
        return [d["embedding"] for d in data]


class MarkdownChunker:
    """Packs whole paragraphs into chunks of <= max_tokens; each chunk repeats the previous one's last paragraph."""

    def __init__(self, max_tokens: int = 400):
        self.max_tokens = max_tokens

    def split(self, text: str) -> list[str]:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        chunks: list[str] = []
        current: list[str] = []
        current_tokens = 0
        for para in paragraphs:
            n = count_tokens(para)
            if current and current_tokens + n > self.max_tokens:
                chunks.append("\n\n".join(current))
                current = current[-1:]
                current_tokens = count_tokens(current[0])
            else:
                current.append(para)
                current_tokens += n
        if current:
            chunks.append("\n\n".join(current))
        return chunks


class Ingestor:
    def __init__(self, qdrant: QdrantClient, embedder: EmbeddingProvider, chunker: MarkdownChunker | None = None):
        self._qdrant = qdrant
        self._embedder = embedder
        self._chunker = chunker or MarkdownChunker()

    def ensure_collection(self) -> None:
        if self._qdrant.collection_exists(COLLECTION):
            return
        self._qdrant.create_collection(COLLECTION, vectors_config=VectorParams(size=EMBED_DIM, distance=Distance.COSINE))
        self._qdrant.create_payload_index(COLLECTION, "tenant_id", PayloadSchemaType.KEYWORD)
        self._qdrant.create_payload_index(COLLECTION, "text", PayloadSchemaType.TEXT)

    def ingest(self, article: Article) -> int:
        """Called from the publish webhook and from the nightly re-sync."""
        pieces = self._chunker.split(article.body_markdown)
        if not pieces:
            return 0
        vectors: list[list[float]] = []
        for b in range(0, len(pieces), 64):
            vectors.extend(self._embedder.embed([f"{article.title}\n\n{p}" for p in pieces[b : b + 64]]))
        points = [
            PointStruct(
                id=str(uuid.uuid5(_POINT_NS, f"{article.tenant_id}:{article.article_id}:{i}")),
                vector=vec,
                payload={"tenant_id": article.tenant_id, "article_id": article.article_id, "chunk_index": i,
                         "title": article.title, "url": article.url, "visibility": article.visibility, "text": text},
            )
            for i, (text, vec) in enumerate(zip(pieces, vectors))
        ]
        self._qdrant.upsert(COLLECTION, points=points, wait=True)
        stale = Filter(must=[
            FieldCondition(key="tenant_id", match=MatchValue(value=article.tenant_id)),
            FieldCondition(key="article_id", match=MatchValue(value=article.article_id)),
            FieldCondition(key="chunk_index", range=Range(gte=len(points))),
        ])
        self._qdrant.delete(COLLECTION, points_selector=stale)
        return len(points)
