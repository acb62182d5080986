"""Apply a service's own Alembic tree (version table ``<service>_alembic_version``) at start."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import create_engine


def version_table(service: str) -> str:
    return f"{service}_alembic_version"


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"services.{service}:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together must not race each other through the same migration.
        key = zlib.crc32(config.attributes["service"].encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_to_head(service: str, url: str, revision: str = "head") -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            config = alembic_config(service, url)
            await connection.run_sync(_upgrade, config, revision)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations(target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``: online migrations only.

    Started from ``upgrade_to_head`` it reuses the caller's connection; started from the ``alembic``
    command line (``alembic -c deploy/alembic.ini -n cooperatives upgrade head``) it opens its own.
    """
    config = context.config
    service: str = config.attributes.get("service") or config.get_main_option("service") or ""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection, target_metadata, service)
        return

    async def run_from_cli() -> None:
        from shared.settings import get_settings

        # The environment wins over the ini file, as everywhere else in Chacra.
        url = get_settings().database_url_for(service) if service else ""  # type: ignore[arg-type]
        engine = create_engine(url or config.get_main_option("sqlalchemy.url") or "")
        try:
            async with engine.connect() as conn:
                await conn.run_sync(_configure_and_run, target_metadata, service)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_from_cli())


def _configure_and_run(connection: Connection, target_metadata: MetaData, service: str) -> None:
    opts: dict[str, Any] = {
        "connection": connection,
        "target_metadata": target_metadata,
        "version_table": version_table(service),
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
    }
    context.configure(**opts)
    with context.begin_transaction():
        context.run_migrations()
