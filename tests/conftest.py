"""Fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

The schema is built once per backend by the real migrations; each test then runs inside one
connection's transaction that is rolled back at the end (commits only release savepoints).
Tests that need real concurrent connections use ``fresh_database_url`` instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.allinone import AllInOne, create_allinone
from deploy.topology import SERVICES
from services.cooperatives.app import create_app
from shared.auth import Principal, Role, TokenIssuer
from shared.db import Database, create_engine
from shared.migrations import upgrade_to_head
from shared.settings import AuthSettings, ServiceName, Settings

PG_HOST = os.environ.get("CHACRA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CHACRA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CHACRA_TEST_PG_USER", "postgres")
BACKENDS = ("sqlite", "postgresql")


def _pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
    except psycopg.OperationalError as exc:  # the suite must run on PostgreSQL too: fail, never skip
        pytest.fail(f"PostgreSQL is required at {PG_HOST}:{PG_PORT} (user {PG_USER}): {exc}", pytrace=False)


def create_pg_database() -> str:
    name = f"chacra_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate_all(url: str) -> None:
    for route in SERVICES:
        await upgrade_to_head(route.name, url)


@pytest.fixture(scope="session")
def standards_dir() -> Path:
    path = Path(
        os.environ.get("CHACRA_STANDARDS_DIR", Path(__file__).resolve().parents[2] / "shared" / "standards")
    )
    if not path.is_dir():
        pytest.skip(f"official standards folder not found at {path} (set CHACRA_STANDARDS_DIR)")
    return path


@pytest.fixture(scope="session")
def signing_key_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_settings(url: str, signing_key_pem: str, **overrides: object) -> Settings:
    return Settings(
        database_url=url,
        auth=AuthSettings(private_key=SecretStr(signing_key_pem)),
        log_json=False,
        # Tests share one connection per test: no background flush may run beside a request. And
        # they see a change at once (the public pages' change watch has its own tests).
        **{
            "scan_flush_seconds": 3600.0,
            "public_revalidate_seconds": 0.0,
            # Background builds would share the test's connection with its requests.
            "public_build_ahead": False,
            **overrides,
        },  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, services: tuple[ServiceName, ...]
) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'chacra-test.db'}"
        for service in services:
            await upgrade_to_head(service, url)
        yield url
        return
    url = create_pg_database()
    try:
        for service in services:
            await upgrade_to_head(service, url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async for url in _migrated_database(backend, tmp_path_factory, tuple(r.name for r in SERVICES)):
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@asynccontextmanager
async def rolled_back(engine: AsyncEngine, url: str) -> AsyncIterator[Database]:
    """A Database on one connection whose outer transaction is rolled back at the end."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield Database(url, bind=connection)
        finally:
            await transaction.rollback()


@pytest.fixture
async def db(engine: AsyncEngine, database_url: str) -> AsyncIterator[Database]:
    async with rolled_back(engine, database_url) as database:
        yield database


@pytest.fixture
def settings(database_url: str, signing_key_pem: str) -> Settings:
    return make_settings(database_url, signing_key_pem)


@pytest.fixture
def issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer(settings.auth)


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest.fixture
def headers_for(issuer: TokenIssuer) -> Callable[..., dict[str, str]]:
    """Bearer headers for a principal, signed like the real login would sign them."""

    def make(role: Role | str = Role.ADMIN, **fields: str | None) -> dict[str, str]:
        principal = Principal(
            user_id=str(fields.pop("user_id", None) or f"usr_{uuid.uuid4().hex[:8]}"),
            username=str(fields.pop("username", None) or "tester"),
            role=Role(role),
            **fields,  # type: ignore[arg-type]
        )
        return {"Authorization": f"Bearer {issuer.issue(principal)}"}

    return make


@pytest.fixture
def admin_headers(headers_for: Callable[..., dict[str, str]]) -> dict[str, str]:
    return headers_for(Role.ADMIN, user_id="usr_admin", username="admin")


@pytest.fixture(scope="session")
async def lots_database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The lots service's own database, apart from the registry's, as in distributed mode."""
    async for url in _migrated_database(backend, tmp_path_factory, ("lots",)):
        yield url


@pytest.fixture(scope="session")
async def lots_engine(lots_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(lots_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def lots_db(lots_engine: AsyncEngine, lots_database_url: str) -> AsyncIterator[Database]:
    async with rolled_back(lots_engine, lots_database_url) as database:
        yield database


@pytest.fixture(scope="session")
async def certification_database_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The certification service's own database, as in distributed mode."""
    async for url in _migrated_database(backend, tmp_path_factory, ("certification",)):
        yield url


@pytest.fixture(scope="session")
async def certification_engine(certification_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(certification_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def certification_db(
    certification_engine: AsyncEngine, certification_database_url: str
) -> AsyncIterator[Database]:
    async with rolled_back(certification_engine, certification_database_url) as database:
        yield database


@pytest.fixture
async def platform(
    settings: Settings, db: Database, lots_db: Database, certification_db: Database
) -> AsyncIterator[AllInOne]:
    """Every service behind the all-in-one dispatcher, each on its own database."""
    platform = create_allinone(
        settings, databases={"cooperatives": db, "lots": lots_db, "certification": certification_db}
    )
    async with platform.root.router.lifespan_context(platform.root):
        yield platform


@pytest.fixture
async def api(platform: AllInOne) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture
async def fresh_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, migrated database of its own, for tests that need real concurrent connections."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        await migrate_all(url)
        yield url
        return
    url = create_pg_database()
    try:
        await migrate_all(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def only_postgres(backend: str) -> Iterator[None]:
    if backend != "postgresql":
        pytest.skip("this property is checked on PostgreSQL (concurrent writers)")
    yield
