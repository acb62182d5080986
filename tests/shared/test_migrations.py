"""The migrations build exactly the schema the models describe, and can be undone and redone."""

from __future__ import annotations

import importlib
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from deploy.topology import SERVICES
from services.cooperatives.models import SERVICE, Base
from shared.db import create_engine
from shared.migrations import alembic_config, upgrade_to_head, version_table


def other_services_tables() -> set[str]:
    # Every service migrates into the same test database (as in the all-in-one process); tables that
    # another service's own models declare are that service's business, not a drift of this one.
    names: set[str] = set()
    for route in SERVICES:
        if route.name != SERVICE:
            names |= set(importlib.import_module(f"services.{route.name}.models").Base.metadata.tables)
            names.add(version_table(route.name))
    return names


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    others = other_services_tables()

    def include_name(name: str | None, type_: str, _parents: dict[str, str | None]) -> bool:
        return not (type_ == "table" and name in others)

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "version_table": version_table(SERVICE),
            "include_name": include_name,
        },
    )
    return list(compare_metadata(context, metadata))


async def schema_diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff, Base.metadata)
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def _downgrade(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(SERVICE, url)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_downgrade, url, revision)
            await connection.commit()
    finally:
        await engine.dispose()


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    assert await schema_diff(database_url) == []


async def test_every_model_table_is_created_by_the_migrations(database_url: str) -> None:
    assert set(Base.metadata.tables) <= await table_names(database_url)


async def test_downgrading_to_base_removes_every_table(fresh_database_url: str) -> None:
    await downgrade(fresh_database_url)
    left = await table_names(fresh_database_url) & set(Base.metadata.tables)
    assert left == set()


async def test_upgrading_again_after_a_downgrade_rebuilds_the_same_schema(fresh_database_url: str) -> None:
    await downgrade(fresh_database_url)
    await upgrade_to_head(SERVICE, fresh_database_url)
    assert await schema_diff(fresh_database_url) == []
    assert set(Base.metadata.tables) <= await table_names(fresh_database_url)


async def test_upgrading_an_up_to_date_database_changes_nothing(fresh_database_url: str) -> None:
    await upgrade_to_head(SERVICE, fresh_database_url)
    assert await schema_diff(fresh_database_url) == []
