"""Backfill the `embeddings` table for the new model, in nightly windows, resumable."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from client import EmbeddingClient

log = logging.getLogger(__name__)

MAX_CHARS = 24_000  # ~6k tokens; the model's hard limit is 8k


@dataclass
class Doc:
    id: int
    body: str


class Checkpoint:
    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> int:
        try:
            with open(self.path) as f:
                return int(json.load(f)["last_id"])
        except FileNotFoundError:
            return 0

    def save(self, last_id: int) -> None:
        # Written next to the target and renamed, so a kill mid-write leaves the old file.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path) or ".")
        with os.fdopen(fd, "w") as f:
            json.dump({"last_id": last_id, "saved_at": time.time()}, f)
        os.replace(tmp, self.path)


def fetch_page(conn: sqlite3.Connection, after_id: int, limit: int) -> list[Doc]:
    rows = conn.execute(
        """
        SELECT id, body FROM documents
        WHERE id > ?
        ORDER BY id
        LIMIT ?
        """,
        (after_id, limit),
    ).fetchall()
    return [Doc(id=r[0], body=r[1]) for r in rows]


def chunks(docs, n):
    for i in range(0, len(docs), n):
        yield docs[i : i + n]


class Backfill:
    def __init__(
        self,
        conn: sqlite3.Connection,
        client: EmbeddingClient,
        checkpoint: Checkpoint,
        batch_size: int = 64,
        workers: int = 4,
        deadline_s: float = 3 * 3600,
    ) -> None:
        self.conn = conn
        self.client = client
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.workers = workers
        self.deadline = time.monotonic() + deadline_s

    def embed_batch(self, docs: list[Doc]) -> list[tuple[int, list[float]]]:
        texts = [d.body[:MAX_CHARS] for d in docs]
        # Support tickets repeat a lot ("Thanks!", signatures); don't pay for a text twice.
        unique = list(dict.fromkeys(texts))
        vectors = self.client.embed(unique)
        return [(doc.id, vec) for doc, vec in zip(docs, vectors)]

    def store(self, pairs: list[tuple[int, list[float]]]) -> None:
        self.conn.executemany(
            """
            INSERT INTO embeddings (doc_id, model, vector) VALUES (?, ?, ?)
            ON CONFLICT (doc_id) DO UPDATE SET model = excluded.model, vector = excluded.vector
            """,
            [(doc_id, self.client.model, json.dumps(vec)) for doc_id, vec in pairs],
        )
        self.conn.commit()

    def run(self) -> int:
        last_id = self.checkpoint.load()
        done = 0
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while time.monotonic() < self.deadline:
                page = fetch_page(self.conn, last_id, self.batch_size * self.workers)
                if not page:
                    break
                futures = {pool.submit(self.embed_batch, b): b for b in chunks(page, self.batch_size)}
                for fut in as_completed(futures):
                    batch = futures[fut]
                    pairs = fut.result()
                    self.store(pairs)
                    done += len(pairs)
                    self.checkpoint.save(batch[-1].id)
                last_id = page[-1].id
        log.info("backfill finished: %d documents embedded", done)
        return done


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    db = sqlite3.connect(os.environ.get("DOCS_DB", "docs.sqlite3"), check_same_thread=False)
    job = Backfill(
        db,
        EmbeddingClient(os.environ["EMBED_URL"], os.environ["EMBED_KEY"]),
        Checkpoint(os.environ.get("CHECKPOINT", "backfill.ckpt.json")),
    )
    print(job.run())
