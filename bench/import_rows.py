"""CSV import throughput and memory, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.import_rows [--rows 100000] [--db sqlite postgresql]

Generates a farmers-with-plots file and a cooperatives file of N rows each, then, on a fresh
database per engine, times ``services.cooperatives.imports`` as the API and the CLI call it (one
transaction). Two references are measured in the same run, so the ratios mean something on any
machine:

* import / validate — the import against a dry run of the same file (parse and validate every row,
  write nothing): what the writing costs on top of the checks that any import must make;
* peak / file — tracemalloc's peak Python memory while importing, against the file's size: well
  under 1 means the file is streamed, not loaded whole.

A last check imports a quarter of each file as well: the slope between the two peaks is the memory
kept per row (duplicate checks and the like), which a streamed import would keep near zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from stdnum.pe import ruc

from services.cooperatives import imports
from services.cooperatives.models import Cooperative
from services.cooperatives.reference import district_places
from services.cooperatives.schemas import ImportResult
from shared.auth import Principal, Role
from shared.db import Database
from shared.migrations import upgrade_to_head
from shared.settings import Settings

# Coffee and cacao districts well inside Peru, so a plot a few km away is still in the country.
PLACES = ("220901", "220101", "220501", "060801", "120601", "080901", "100101")
FARMER_HEADER = (
    "farmer_name,dni,gender,joined_on,public_name_consent,plot_name,crop,geometry,area_ha,altitude_m,"
    "organic_since"
)
COOPERATIVE_HEADER = "name,ruc,kind,ubigeo,products,gs1_company_prefix,gln"
OPERATOR = Principal(user_id="bench", username="bench", role=Role.ADMIN)
Importer = Callable[[Any, IO[bytes], bool], Awaitable[ImportResult]]


# the files


def _polygon(rng: random.Random, lon: float, lat: float) -> list[tuple[float, float]]:
    """A convex quadrilateral of 0.5 to 3 ha, counter-clockwise and closed."""
    half = rng.uniform(0.00035, 0.0008)
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    ring = [(lon + dx * half + rng.uniform(-0.2, 0.2) * half, lat + dy * half) for dx, dy in corners]
    return [*ring, ring[0]]


def _geometry_cell(rng: random.Random, lon: float, lat: float, index: int) -> tuple[str, str]:
    """(geometry cell, area_ha): one plot in ten is a point with its declared area."""
    if index % 10 == 0:
        return f"POINT ({lon:.6f} {lat:.6f})", f"{rng.uniform(0.5, 4):.2f}"
    ring = _polygon(rng, lon, lat)
    if index % 2:
        return '"POLYGON ((' + ", ".join(f"{x:.6f} {y:.6f}" for x, y in ring) + '))"', ""
    coordinates = "[[" + ",".join(f"[{x:.6f},{y:.6f}]" for x, y in ring) + "]]"
    return '"{""type"":""Polygon"",""coordinates"":' + coordinates + '}"', ""


def write_farmers_csv(path: Path, rows: int, seed: int = 7) -> None:
    """One row per plot; farmers have one to three plots; about one farmer in twenty has no DNI."""
    rng = random.Random(seed)
    places = [district_places()[u] for u in PLACES]
    farmer, left = 0, 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(FARMER_HEADER + "\r\n")
        for index in range(rows):
            if left == 0:
                farmer, left = farmer + 1, rng.randint(1, 3)
                base_lon, base_lat = places[farmer % len(places)]
                home = (base_lon + rng.uniform(-0.05, 0.05), base_lat + rng.uniform(-0.05, 0.05))
                dni = "" if farmer % 20 == 0 else f"{40_000_000 + farmer:08d}"
                gender = ("female", "male", "F", "masculino", "")[farmer % 5]
            left -= 1
            lon, lat = home[0] + rng.uniform(-0.02, 0.02), home[1] + rng.uniform(-0.02, 0.02)
            geometry, area = _geometry_cell(rng, lon, lat, index)
            crop = "cacao" if index % 3 else "coffee"
            consent = "si" if farmer % 2 else "no"
            fh.write(
                f"Socio {farmer} Quispe,{dni},{gender},2018-05-{1 + farmer % 28:02d},{consent},"
                f"Parcela {index},{crop},{geometry},{area},{rng.randint(300, 1900)},\r\n"
            )


def write_cooperatives_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(COOPERATIVE_HEADER + "\r\n")
        for index in range(rows):
            body = f"20{30_000_000 + index:08d}"
            number = body + ruc.calc_check_digit(body)
            kind = "association" if index % 4 == 0 else "cooperative"
            ubigeo = PLACES[index % len(PLACES)]
            fh.write(f"Cooperativa Agraria {index},{number},{kind},{ubigeo},cacao;coffee,,\r\n")


# the databases


def _pg_admin(host: str, port: int, user: str) -> psycopg.Connection[Any]:
    return psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True)


@asynccontextmanager
async def fresh_database(engine: str, workdir: Path, pg: tuple[str, int, str]) -> AsyncIterator[Database]:
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        host, port, user = pg
        name = f"chacra_bench_{uuid.uuid4().hex[:12]}"
        with _pg_admin(*pg) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    db: Database | None = None
    try:
        await upgrade_to_head("cooperatives", url)
        db = Database(url)
        yield db
    finally:
        if db is not None:
            await db.dispose()
        if engine == "postgresql":
            with _pg_admin(*pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _RolledBack(Exception):
    pass


@dataclass
class Measure:
    seconds: float
    peak_bytes: int
    result: ImportResult


async def measure(
    db: Database, path: Path, run: Importer, *, dry_run: bool, trace: bool, keep: bool
) -> Measure:
    """Run one import in one transaction; committed when ``keep``, else rolled back."""
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result: ImportResult | None = None
    try:
        async with db.transaction() as session:
            with path.open("rb") as fh:
                result = await run(session, fh, dry_run)
            if not keep:
                raise _RolledBack
    except _RolledBack:
        pass
    seconds = time.perf_counter() - start
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert result is not None
    return Measure(seconds, peak, result)


# the runs


@dataclass
class Row:
    engine: str
    kind: str
    rows: int
    file_bytes: int
    validate: Measure
    imported: Measure
    traced: Measure

    def cells(self) -> list[str]:
        rate = self.rows / self.imported.seconds
        return [
            self.engine,
            self.kind,
            f"{self.rows:,}",
            f"{self.file_bytes / 2**20:.1f}",
            f"{self.validate.seconds:.1f}",
            f"{self.imported.seconds:.1f}",
            f"{rate:,.0f}",
            f"{self.imported.seconds / self.validate.seconds:.2f}",
            f"{self.traced.peak_bytes / 2**20:.1f}",
            f"{self.traced.peak_bytes / self.file_bytes:.3f}",
        ]


HEADINGS = [
    "db",
    "import",
    "rows",
    "file MiB",
    "validate s",
    "import s",
    "rows/s",
    "import/validate",
    "peak MiB",
    "peak/file",
]


def print_table(rows: list[Row]) -> None:
    table = [HEADINGS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADINGS))]
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


async def bench_one(
    engine: str, kind: str, path: Path, rows: int, settings: Settings, workdir: Path, pg: tuple[str, int, str]
) -> Row:
    size = os.path.getsize(path)  # noqa: ASYNC240 - nothing else runs on this loop
    async with fresh_database(engine, workdir, pg) as db:
        run = await _importer(db, kind, settings)
        tiny = workdir / f"tiny-{kind}.csv"
        (write_farmers_csv if kind == "farmers" else write_cooperatives_csv)(tiny, 20)
        await measure(db, tiny, run, dry_run=False, trace=False, keep=False)  # loads reference data once
        validate = await measure(db, path, run, dry_run=True, trace=False, keep=False)
        traced = await measure(db, path, run, dry_run=False, trace=True, keep=False)
        imported = await measure(db, path, run, dry_run=False, trace=False, keep=True)
    for m in (validate, traced, imported):
        assert m.result.rows == rows, m.result
    assert imported.result.created > 0 and not imported.result.dry_run
    print(
        f"  {engine:<10} {kind:<12} {json.dumps(imported.result.model_dump(exclude={'errors'}))}", flush=True
    )
    return Row(engine, kind, rows, size, validate, imported, traced)


async def _importer(db: Database, kind: str, settings: Settings) -> Importer:
    batch, most = settings.import_batch_rows, settings.import_max_errors
    if kind == "cooperatives":

        async def cooperatives(session: Any, fh: IO[bytes], dry_run: bool) -> ImportResult:
            return await imports.import_cooperatives(
                session, fh, dry_run=dry_run, batch_rows=batch, max_errors=most
            )

        return cooperatives
    async with db.transaction() as session:
        coop = Cooperative(
            id="coop_bench",
            name="Cooperativa Bench",
            ruc="20100070970",
            kind="cooperative",
            ubigeo="220901",
            region="San Martín",
            province="San Martín",
            district="Tarapoto",
            products=["cacao", "coffee"],
            search_text="cooperativa bench 20100070970",
        )
        session.add(coop)
    cooperative_id = coop.id

    async def farmers(session: Any, fh: IO[bytes], dry_run: bool) -> ImportResult:
        return await imports.import_farmers(
            session,
            OPERATOR,
            fh,
            cooperative_id=cooperative_id,
            dry_run=dry_run,
            batch_rows=batch,
            max_errors=most,
        )

    return farmers


async def growth_check(references: list[Row], settings: Settings, pg: tuple[str, int, str]) -> None:
    """Import a quarter of each file too: memory that grows with the rows is state kept per row."""
    first = references[0]
    print(f"\nMemory growth ({first.engine}; tracemalloc peaks at {first.rows:,} rows and at a quarter):")
    with tempfile.TemporaryDirectory(prefix="chacra-bench-") as tmp:
        workdir = Path(tmp)
        for reference in references:
            rows = reference.rows // 4
            path = workdir / f"quarter-{reference.kind}.csv"
            (write_farmers_csv if reference.kind == "farmers" else write_cooperatives_csv)(path, rows)
            async with fresh_database(reference.engine, workdir, pg) as db:
                run = await _importer(db, reference.kind, settings)
                quarter = await measure(db, path, run, dry_run=False, trace=True, keep=False)
            per_row = (reference.traced.peak_bytes - quarter.peak_bytes) / (reference.rows - rows)
            fixed = reference.traced.peak_bytes - per_row * reference.rows
            file_per_row = reference.file_bytes / reference.rows
            print(
                f"  {reference.kind:<12} {per_row:6.0f} B kept per row, for {file_per_row:.0f} B of file per "
                f"row (peak/file tends to {per_row / file_per_row:.2f}); {fixed / 2**20:.1f} MiB fixed"
            )
    print("  A streamed import that keeps nothing per row grows by about 0 B per row.")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_rows", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument(
        "--kind", nargs="+", choices=["farmers", "cooperatives"], default=["farmers", "cooperatives"]
    )
    parser.add_argument("--batch-rows", type=int, default=Settings.model_fields["import_batch_rows"].default)
    parser.add_argument("--pg-host", default=os.environ.get("CHACRA_TEST_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("CHACRA_TEST_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("CHACRA_TEST_PG_USER", "postgres"))
    parser.add_argument("--skip-growth-check", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings(database_url="sqlite+aiosqlite://", import_batch_rows=args.batch_rows)
    pg = (args.pg_host, args.pg_port, args.pg_user)
    with tempfile.TemporaryDirectory(prefix="chacra-bench-") as tmp:
        workdir = Path(tmp)
        files = {"farmers": workdir / "farmers.csv", "cooperatives": workdir / "cooperatives.csv"}
        started = time.perf_counter()
        write_farmers_csv(files["farmers"], args.rows)
        write_cooperatives_csv(files["cooperatives"], args.rows)
        print(
            f"Generated {args.rows:,} rows per file in {time.perf_counter() - started:.1f} s; "
            f"batches of {args.batch_rows} rows.",
            flush=True,
        )
        results = [
            await bench_one(engine, kind, files[kind], args.rows, settings, workdir, pg)
            for engine in args.db
            for kind in args.kind
        ]
    print()
    print_table(results)
    print(
        "\nrows/s: rows imported per second (parse, validate, write, commit; no tracemalloc).\n"
        "import/validate: import time over a dry run of the same file (same parse and checks, no writes).\n"
        "peak/file: tracemalloc peak while importing over the file size; well under 1 = streamed."
    )
    if not args.skip_growth_check:
        await growth_check([r for r in results if r.engine == args.db[0]], settings, pg)


if __name__ == "__main__":
    asyncio.run(main())
