"""Apply every (or one) service's pending migrations: ``chacra migrate``, ``serve`` and ``import``."""

from __future__ import annotations

from deploy.topology import SERVICES
from shared.migrations import upgrade_to_head
from shared.settings import Settings


async def migrate_services(settings: Settings, targets: list[str]) -> None:
    for route in SERVICES:
        if route.name in targets:
            await upgrade_to_head(route.name, settings.database_url_for(route.name))
