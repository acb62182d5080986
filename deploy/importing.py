"""``chacra import``: the same all-or-nothing CSV import as the API, straight into the database,
with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from deploy.migrate import migrate_services
from services.cooperatives import imports
from services.cooperatives.schemas import ImportResult
from shared.auth import Principal, Role
from shared.db import Database
from shared.errors import DomainError
from shared.settings import Settings

# The command line acts with the operator's full rights, as an admin would through the API.
OPERATOR = Principal(user_id="cli", username="cli", role=Role.ADMIN)


async def run_import(
    settings: Settings, kind: str, path: Path, *, cooperative_id: str | None, dry_run: bool
) -> int:
    console = Console(stderr=True)
    if kind == "farmers" and not cooperative_id:
        console.print("[red]--cooperative ID is required to import farmers[/red]")
        return 2
    await migrate_services(settings, ["cooperatives"])
    db = Database(settings.database_url_for("cooperatives"))
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress, path.open("rb") as fh:
            # The command line has nothing else on its loop; a blocking stat is harmless.
            task = progress.add_task("import", total=path.stat().st_size)  # noqa: ASYNC240

            def advance(n: int) -> None:
                progress.advance(task, n)

            try:
                async with db.transaction() as session:
                    result: ImportResult
                    if kind == "cooperatives":
                        result = await imports.import_cooperatives(
                            session,
                            fh,
                            dry_run=dry_run,
                            batch_rows=settings.import_batch_rows,
                            max_errors=settings.import_max_errors,
                            progress=advance,
                        )
                    else:
                        assert cooperative_id is not None
                        result = await imports.import_farmers(
                            session,
                            OPERATOR,
                            fh,
                            cooperative_id=cooperative_id,
                            dry_run=dry_run,
                            batch_rows=settings.import_batch_rows,
                            max_errors=settings.import_max_errors,
                            progress=advance,
                        )
            except DomainError as exc:
                progress.stop()
                # Details echo the file's cells: escape them, or '[...]' is read as Rich markup.
                console.print(f"[red]{escape(exc.detail)}[/red]")
                for error in exc.extra.get("errors", []):
                    console.print(
                        escape(f"  line {error['line']}, column {error['column']}: {error['detail']}")
                    )
                return 1
    finally:
        await db.dispose()
    print(json.dumps(result.model_dump(mode="json", exclude_none=True)))
    return 0
