"""Async engines and session factories for SQLite (aiosqlite) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Prepared statements each connection keeps (Python's default: 128). Queries with IN lists are a new
# statement per list length; at 128 per connection, over the pools of the all-in-one process, they
# held ~2 KB of C memory per public page built (measured while building 3,000). The statements a
# request repeats stay prepared at 32.
SQLITE_CACHED_STATEMENTS = 32


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both engines (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT and defers locks; we emit BEGIN
        # ourselves (SQLAlchemy's documented recipe for the sqlite3 driver).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The kernel caches the file once for every connection; each of the all-in-one process's
        # connections (a pool per service) would keep up to 2 MB of it again (SQLite's default).
        cursor.execute("PRAGMA cache_size=-512")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then writes
        # fails with SQLITE_BUSY instead of waiting, which would lose a request under concurrency.
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
        )
        _install_sqlite_hooks(engine)
        return engine
    # JIT pays off for long analytic queries; for these short ones its compile time (up to ~0.6 s
    # when a recursive lineage query's cost estimate crosses the threshold) is pure latency.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"options": "-c jit=off"},
    )


class Database:
    """One service's database: an engine plus a factory for reading and one for writing sessions."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        bind: AsyncEngine | AsyncConnection | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self._owns_engine = bind is None
        if bind is None:
            self.engine: AsyncEngine | None = create_engine(url, echo=echo)
            read_bind: AsyncEngine | AsyncConnection = self.engine
            write_bind: AsyncEngine | AsyncConnection = self.engine.execution_options(sqlite_write=True)
            mode: Literal["conditional_savepoint", "create_savepoint"] = "conditional_savepoint"
        else:
            # Tests bind every session to one connection inside an outer transaction that is rolled
            # back at the end; commits then only release savepoints.
            self.engine = None
            read_bind = write_bind = bind
            mode = "create_savepoint"
        self.read_sessions = async_sessionmaker(read_bind, expire_on_commit=False, join_transaction_mode=mode)
        self.write_sessions = async_sessionmaker(
            write_bind, expire_on_commit=False, join_transaction_mode=mode
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write session whose transaction commits on success and rolls back on error."""
        async with self.write_sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.read_sessions() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._owns_engine and self.engine is not None:
            await self.engine.dispose()
