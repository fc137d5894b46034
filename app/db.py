"""Database engine, sessions and the declarative base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Path
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool

from app.settings import get_settings

# Integer columns are 32-bit on PostgreSQL: a larger number in a request is refused before it
# reaches a query, on every database alike.
MAX_INT = 2**31 - 1
# Connections beyond one per admitted request: the health check and command-line tools.
SPARE_CONNECTIONS = 4

# Set for requests that change state: on SQLite their transactions take the write lock when
# they begin (BEGIN IMMEDIATE), waiting their turn, instead of failing with "database is
# locked" when a read transaction tries to become a write after another writer committed.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every ORM class; constraint names are deterministic for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware.

    SQLite has no time zones; without this, values read back naive and comparisons with
    aware datetimes fail.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use app.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pool_size(threads: int) -> int:
    """Connections per worker process: one per admitted request (see `app.guard`)."""
    return threads


def make_engine(url: str, *, threads: int = 16) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    A worker admits `threads` requests at once, each holding at most one connection, so its
    pool never makes an admitted request wait; a PostgreSQL server must allow
    workers x (threads + SPARE_CONNECTIONS) connections.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size(threads),
            max_overflow=SPARE_CONNECTIONS,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the sqlite3 module, which otherwise begins them
            # late and breaks SAVEPOINTs; SQLAlchemy then emits BEGIN itself (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size(threads),
        max_overflow=SPARE_CONNECTIONS,
        pool_timeout=30,
    )


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, threads=settings.threads)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """The process-wide session factory."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


async def get_session() -> AsyncIterator[Session]:
    """One session per request; closing it discards anything uncommitted.

    Made in the event loop, which is free (no connection is taken until the first query, on
    the route's thread), and closed on a pool thread, since closing returns the connection
    with a rollback. A sync dependency would cost two trips to a pool thread and back per
    request, each waiting for the interpreter lock while the worker is busy.
    """
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]

RowId = Annotated[int, Path(ge=1, le=MAX_INT, description="A row id.")]
"""A row id in a URL; out of range, the request is refused (422) before any query runs."""
