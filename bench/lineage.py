"""Lineage of a lot with ~2,000 ancestors in a ~50,000-lot graph, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.lineage [--backend sqlite|postgresql|both] [--lots 50000] [--scale 10]
                                      [--runs 15] [--quick] [--explain]

The ledger is written straight into a freshly migrated lots database (bulk INSERTs on SQLite, COPY
on PostgreSQL, one transaction), shaped like a season at a cooperative: farmers' deliveries merged
at collection centres, centres merged into fermentation batches, each batch fermented and dried,
split into 69 kg bags, bags of many batches merged into an export container. There are diamonds:
a container takes five bags of each batch (the dry lot reaches it by five paths), and the first
delivery of each centre is shared with the previous centre (two paths). The target is one such
container with ~2,000 ancestors; every other lot belongs to unrelated containers of the same shape.

Two things are timed, median of ``--runs`` after warm-up, each in a fresh read session:

* query — ``services.lots.repository.lineage_rows``: the one recursive query, every edge above the
  lot with its parent lot's columns joined, as plain rows;
* endpoint — ``repository.get_lot`` + ``lineage_graph`` + ``lineage_read``: what
  ``GET /lots/{id}/lineage`` computes before serialising the answer.

The reference, measured in the same run, is a breadth-first walk over an in-memory dict
child → [(parent, grams)] of the same edges, collecting the same edge set (the bench checks that
the query returns exactly that set). It excludes all I/O, so the ratio is the price of the
database, the driver and the ORM on top of the bare walk (goal ≤ 5×).

The graph then grows to ``--scale`` times the lots (more unrelated containers, same target) and
everything is measured again: a walk that follows the index on ``lot_edges.child_lot_id`` only
touches the target's ancestors, so its time should hardly grow (goal ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from services.lots import repository
from services.lots.service.lineage import lineage_graph, lineage_read
from shared.db import Database
from shared.migrations import upgrade_to_head

# the ledger's tables, in an order that satisfies every foreign key
COLUMNS: dict[str, tuple[str, ...]] = {
    "lots": (
        "id",
        "code",
        "origin",
        "product",
        "form",
        "quantity_g",
        "cooperative_id",
        "gtin",
        "harvested_on",
        "created_event_id",
        "created_by",
        "created_at",
    ),
    "lot_states": (
        "lot_id",
        "quantity_g",
        "remaining_g",
        "status",
        "holder_organization",
        "version",
        "updated_at",
    ),
    "lot_events": (
        "id",
        "type",
        "lot_id",
        "event_time",
        "recorded_at",
        "recorded_by",
        "data",
        "corrects_event_id",
    ),
    "lot_event_lots": ("event_id", "lot_id", "role"),
    "lot_edges": ("parent_lot_id", "child_lot_id", "event_id", "quantity_g"),
    "deliveries": (
        "lot_id",
        "cooperative_id",
        "farmer_id",
        "plot_id",
        "farmer_name",
        "farmer_public_name_consent",
        "plot_name",
        "plot_area_ha",
        "ubigeo",
        "region",
        "province",
        "district",
        "harvested_on",
        "received_at",
    ),
}
CODE_ALPHABET = "3467ACEFGHJKMNPRTWXY"
CODE_SPACE = len(CODE_ALPHABET) ** 9
CODE_PAIRS = [a + b for a in CODE_ALPHABET for b in CODE_ALPHABET]
USER = "usr_bench_manager"
DISTRICTS = (
    ("220901", "San Martín", "San Martín", "Tarapoto"),
    ("220501", "San Martín", "Lamas", "Lamas"),
    ("060801", "Cajamarca", "Jaén", "Jaén"),
    ("120601", "Junín", "Satipo", "Satipo"),
)
Row = tuple[Any, ...]
Parents = dict[str, list[tuple[str, int]]]


@dataclass(frozen=True)
class Shape:
    """One container's history; the target is the first container built."""

    deliveries_per_centre: int = 6
    centres_per_batch: int = 4
    batches_per_container: int = 56
    bags_per_batch: int = 10
    bags_shipped_per_batch: int = 5
    bag_g: int = 69_000

    def lots_per_batch(self) -> int:
        centre = self.deliveries_per_centre + 1
        return self.centres_per_batch * centre + 1 + 2 + self.bags_per_batch

    def ancestors(self, batches: int) -> int:
        per_batch = self.centres_per_batch * (self.deliveries_per_centre + 1) + 1 + 2
        return batches * (per_batch + self.bags_shipped_per_batch)


@dataclass(frozen=True)
class Crop:
    product: str
    raw: str
    middle: str
    final: str
    first: str  # process raw → middle
    second: str  # process middle → final
    first_yield: float
    second_yield: float
    delivery_kg: tuple[int, int]


CACAO = Crop("cacao", "baba", "fermented", "dry", "fermentation", "drying", 0.85, 0.47, (80, 160))
COFFEE = Crop("coffee", "cherry", "parchment", "green", "fermentation", "hulling", 0.21, 0.8, (200, 500))


@dataclass(slots=True)
class State:
    quantity_g: int
    remaining_g: int
    updated_at: Any
    version: int = 1


@dataclass
class Ledger:
    """Generates the ledger's rows, as the service would have written them, one container at a time."""

    sqlite: bool
    seed: int = 7
    shape: Shape = field(default_factory=Shape)
    lots: int = 0
    edges: int = 0
    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in COLUMNS})
    parents: Parents = field(default_factory=lambda: defaultdict(list))
    containers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.clock = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
        self._states: dict[str, State] = {}
        self._codes: dict[str, str] = {}
        self._harvest: dict[str, date | None] = {}

    # values as each engine stores them (SQLite: SQLAlchemy's text formats)

    def _time(self, value: datetime) -> Any:
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") if self.sqlite else value

    def _date(self, value: date | None) -> Any:
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    def _bool(self, value: bool) -> Any:
        return int(value) if self.sqlite else value

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(128):032x}"

    def _code(self) -> str:
        # A bijection of the serial onto the code space: unique, and scattered like random codes.
        n = (self.lots * 2_654_435_761 + 97_531) % CODE_SPACE
        n, last = divmod(n, len(CODE_ALPHABET))
        chars = [CODE_ALPHABET[last]]
        for _ in range(4):
            n, pair = divmod(n, len(CODE_PAIRS))
            chars.append(CODE_PAIRS[pair])
        return "".join(chars)

    def _tick(self, minutes: float) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def _ref(self, lot_id: str, grams: int) -> dict[str, Any]:
        kg = f"{grams / 1000:.3f}"
        return {"lot_id": lot_id, "code": self._codes[lot_id], "gtin": None, "quantity_kg": kg}

    # one event with the lots it creates and the grams it moves (service.common.record_event)

    def _event(
        self,
        type_: str,
        *,
        at: datetime,
        new: Sequence[tuple[str, str, str, int, str, date | None]],
        flows: Sequence[tuple[str, int]] = (),
        subject: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> list[str]:
        """``new``: (origin, product, form, grams, cooperative, harvested_on) of each new lot;
        ``flows``: (parent, grams) drawn from existing lots (into the single new lot, or split
        over the new lots in order when ``type_`` is a split)."""
        event_id = self._id("evt")
        stamp = self._time(at)
        created = []
        for origin, product, form, grams, cooperative, harvested in new:
            lot_id = self._id("lot")
            self._codes[lot_id] = self._code()
            self._harvest[lot_id] = harvested
            self._states[lot_id] = State(grams, grams, stamp)
            self.rows["lots"].append(
                (
                    lot_id,
                    self._codes[lot_id],
                    origin,
                    product,
                    form,
                    grams,
                    cooperative,
                    None,
                    self._date(harvested),
                    event_id,
                    USER,
                    stamp,
                )
            )
            self.lots += 1
            created.append(lot_id)
        if type_ == "split":
            ((parent, _),) = flows
            moves = [(parent, child, g) for child, (_, _, _, g, _, _) in zip(created, new, strict=True)]
        else:
            moves = [(parent, created[0], g) for parent, g in flows]
        subject = subject or created[0]
        links = (
            {(subject, "subject")}
            | {(p, "input") for p, _, _ in moves}
            | {(c, "output") for _, c, _ in moves}
        )
        body = dict(data or {})
        if moves:
            body["inputs"] = [self._ref(p, g) for p, g in flows]
        body["outputs"] = [self._ref(c, self._states[c].quantity_g) for c in created]
        self.rows["lot_events"].append((event_id, type_, subject, stamp, stamp, USER, json.dumps(body), None))
        self.rows["lot_event_lots"].extend((event_id, lot, role) for lot, role in links)
        for parent, child, grams in moves:
            self.rows["lot_edges"].append((parent, child, event_id, grams))
            self.parents[child].append((parent, grams))
            self.edges += 1
        for parent, grams in flows:  # service.common.draw: one new version per event
            state = self._states[parent]
            state.remaining_g -= grams
            state.version += 1
            state.updated_at = stamp
            assert state.remaining_g >= 0
        return created

    def container(self, batches: int, crop: Crop) -> str:
        """A cooperative's season behind one export container; returns the container's lot id."""
        shape, rng = self.shape, self.rng
        # cooperatives work in parallel: each container's season starts a few hours after the last one's
        self.clock = datetime(2025, 3, 3, 7, 0, tzinfo=UTC) + timedelta(hours=3 * len(self.containers))
        cooperative = self._id("coop")
        farmers = []
        for n in range(120):
            ubigeo, region, province, district = DISTRICTS[n % len(DISTRICTS)]
            plots = [(self._id("plt"), f"Parcela {n}-{p}", f"{rng.uniform(0.5, 4):.2f}") for p in range(2)]
            farmers.append(
                (self._id("frm"), f"Socio {n} Quispe", n % 3 != 0, plots, ubigeo, region, province, district)
            )

        def deliveries() -> list[tuple[str, int]]:
            made = []
            for _ in range(shape.deliveries_per_centre):
                grams = rng.randint(*crop.delivery_kg) * 1000 + rng.randint(0, 999)
                harvested = (self.clock - timedelta(days=rng.randint(0, 3))).date()
                at = self._tick(rng.uniform(2, 20))
                (lot,) = self._event(
                    "delivery",
                    at=at,
                    new=[("delivery", crop.product, crop.raw, grams, cooperative, harvested)],
                    data={"cooperative_id": cooperative, "product": crop.product, "form": crop.raw},
                )
                farmer_id, name, consent, plots, ubigeo, region, province, district = rng.choice(farmers)
                plot_id, plot_name, area = rng.choice(plots)
                self.rows["deliveries"].append(
                    (
                        lot,
                        cooperative,
                        farmer_id,
                        plot_id,
                        name,
                        self._bool(consent),
                        plot_name,
                        area,
                        ubigeo,
                        region,
                        province,
                        district,
                        self._date(harvested),
                        self._time(at),
                    )
                )
                made.append((lot, grams))
            return made

        def merge(inputs: list[tuple[str, int]], form: str) -> str:
            grams = sum(g for _, g in inputs)
            (lot,) = self._event(
                "merge",
                at=self._tick(rng.uniform(10, 60)),
                new=[("merge", crop.product, form, grams, cooperative, None)],
                flows=inputs,
            )
            return lot

        def transform(source: str, process: str, form: str, kept: float) -> str:
            grams_in = self._states[source].remaining_g
            grams = int(grams_in * kept)
            (lot,) = self._event(
                "transformation",
                at=self._tick(rng.uniform(30, 240)),
                new=[("transformation", crop.product, form, grams, cooperative, self._harvest[source])],
                flows=[(source, grams_in)],
                data={"process": process},
            )
            return lot

        shipped: list[tuple[str, int]] = []
        centres = batches * shape.centres_per_batch
        upcoming = deliveries()
        merged_centres: list[str] = []
        for index in range(centres):
            own = upcoming
            upcoming = deliveries() if index + 1 < centres else []
            inputs = list(own)
            if index > 0:  # the first delivery went half to the previous centre
                lot, grams = inputs[0]
                inputs[0] = (lot, grams - grams // 2)
            if upcoming:
                lot, grams = upcoming[0]
                inputs.append((lot, grams // 2))
            merged_centres.append(merge(inputs, crop.raw))
            if len(merged_centres) == shape.centres_per_batch:
                batch = merge([(c, self._states[c].remaining_g) for c in merged_centres], crop.raw)
                merged_centres = []
                middle = transform(batch, crop.first, crop.middle, crop.first_yield)
                final = transform(middle, crop.second, crop.final, crop.second_yield)
                assert self._states[final].remaining_g >= shape.bags_per_batch * shape.bag_g
                bags = self._event(
                    "split",
                    at=self._tick(rng.uniform(30, 120)),
                    new=[("split", crop.product, crop.final, shape.bag_g, cooperative, self._harvest[final])]
                    * shape.bags_per_batch,
                    flows=[(final, shape.bags_per_batch * shape.bag_g)],
                    subject=final,
                )
                shipped += [(bag, shape.bag_g) for bag in bags[: shape.bags_shipped_per_batch]]
        (container,) = self._event(
            "merge",
            at=self._tick(600),
            new=[("merge", crop.product, crop.final, len(shipped) * shape.bag_g, cooperative, None)],
            flows=shipped,
        )
        self.containers.append(container)
        for lot_id, state in self._states.items():
            status = "active" if state.remaining_g else "depleted"
            self.rows["lot_states"].append(
                (lot_id, state.quantity_g, state.remaining_g, status, None, state.version, state.updated_at)
            )
        self._states.clear()
        self._codes.clear()
        self._harvest.clear()
        return container

    def take_rows(self) -> dict[str, list[Row]]:
        rows, self.rows = self.rows, {t: [] for t in COLUMNS}
        return rows


# writing the rows


class Sink(Protocol):
    def write(self, rows: dict[str, list[Row]]) -> None: ...
    def finish(self) -> None: ...


class SqliteSink:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        # this connection only: a page cache that holds the indexes while they are filled
        self.conn.execute("PRAGMA cache_size=-1048576")
        self.conn.execute("BEGIN IMMEDIATE")

    def write(self, rows: dict[str, list[Row]]) -> None:
        for table, columns in COLUMNS.items():
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - constants
            self.conn.executemany(sql, rows[table])

    def finish(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class PostgresSink:
    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo)
        try:
            # this session only (superuser): the generated rows are consistent by construction, so the
            # foreign-key triggers are skipped while loading, which halves the time
            self.conn.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            self.conn.rollback()

    def write(self, rows: dict[str, list[Row]]) -> None:
        with self.conn.cursor() as cur:
            for table, columns in COLUMNS.items():
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)

    def finish(self) -> None:
        self.conn.commit()
        # autovacuum would analyse the new rows soon after; the planner needs the statistics
        self.conn.autocommit = True
        self.conn.execute("ANALYZE")
        self.conn.close()


def crop_of(container: int) -> Crop:
    return COFFEE if container % 3 == 2 else CACAO


def grow(ledger: Ledger, open_sink: Callable[[], Sink], lots: int) -> float:
    """Add containers until the ledger holds ``lots`` lots; one transaction; returns the seconds."""
    started = time.perf_counter()
    sink = open_sink()
    per_batch = ledger.shape.lots_per_batch()
    while ledger.lots < lots:
        batches = min(ledger.shape.batches_per_container, max(1, (lots - ledger.lots - 1) // per_batch))
        ledger.container(batches, crop_of(len(ledger.containers)))
        if len(ledger.rows["lots"]) >= 40_000:
            sink.write(ledger.take_rows())
    sink.write(ledger.take_rows())
    sink.finish()
    return time.perf_counter() - started


# the databases


def _pg_admin(pg: tuple[str, int, str]) -> psycopg.Connection[Any]:
    host, port, user = pg
    return psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True)


@dataclass(frozen=True)
class Target:
    backend: str
    url: str
    sink: Callable[[], Sink]


@asynccontextmanager
async def fresh_lots_database(backend: str, workdir: Path, pg: tuple[str, int, str]) -> AsyncIterator[Target]:
    name = f"chacra_bench_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        target = Target(backend, url, lambda: SqliteSink(str(path)))
    else:
        host, port, user = pg
        with _pg_admin(pg) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://{user}@{host}:{port}/{name}"
        conninfo = f"host={host} port={port} user={user} dbname={name}"
        target = Target(backend, url, lambda: PostgresSink(conninfo))
    try:
        await upgrade_to_head("lots", url)
        yield target
    finally:
        if backend == "postgresql":
            with _pg_admin(pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# the measures


def bfs(parents: Parents, lot_id: str) -> set[tuple[str, str, int]]:
    """The reference: every edge above ``lot_id``, walked breadth-first in memory."""
    edges: set[tuple[str, str, int]] = set()
    seen = {lot_id}
    queue = deque([lot_id])
    while queue:
        child = queue.popleft()
        for parent, grams in parents.get(child, ()):
            edges.add((parent, child, grams))
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return edges


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(
    calls: dict[str, Callable[[], Awaitable[Any]]], runs: int, warmup: int
) -> dict[str, list[float]]:
    """Each call ``runs`` times, in turns (a busy moment of the machine hits every call alike)."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            samples[name].append(time.perf_counter() - started)
    return samples


@dataclass
class Measure:
    backend: str
    lots: int
    ancestors: int
    edges: int
    build_s: float
    bfs_ms: float
    query_ms: float
    endpoint_ms: float
    cte_ms: float
    driver_ms: float
    step: str = ""


async def measure(
    backend: str, db: Database, parents: Parents, lot_id: str, lots: int, build_s: float, runs: int
) -> Measure:
    expected = bfs(parents, lot_id)
    async with db.read_sessions() as session:
        rows = await repository.ancestor_edges(session, lot_id)
    got = {(row[0], row[1], row[2]) for row in rows}
    assert got == expected, f"the query found {len(got)} edges, the walk {len(expected)}"
    ancestors = len({parent for parent, _, _ in expected})

    async def query() -> None:
        async with db.read_sessions() as session:
            await repository.lineage_rows(session, lot_id)

    async def endpoint() -> None:
        async with db.read_sessions() as session:
            view = await repository.get_lot(session, lot_id)
            assert view is not None
            read = lineage_read(await lineage_graph(session, view))
            assert len(read.nodes) == ancestors + 1

    walk = repository.ancestor_edges_cte(lot_id, lateral=not db.is_sqlite)
    cte_only = select(walk.c.parent, walk.c.child, walk.c.quantity_g, walk.c.event_id)

    async def cte() -> None:
        async with db.read_sessions() as session:
            (await session.execute(cte_only)).all()

    async def reference() -> None:
        bfs(parents, lot_id)

    # The floor of any "one recursive query" design: the same SQL through the bare synchronous driver.
    async with db.read_sessions() as session:
        sql = str(cte_only.compile(session.bind, compile_kwargs={"literal_binds": True}))
    raw = _driver_connection(db.url)

    async def driver() -> None:
        rows = raw.execute(sql).fetchall()
        assert len(rows) == len(expected)

    try:
        samples = await timed(
            {"bfs": reference, "query": query, "endpoint": endpoint, "cte": cte, "driver": driver}, runs, 2
        )
    finally:
        raw.close()
    return Measure(
        backend=backend,
        lots=lots,
        ancestors=ancestors,
        edges=len(expected),
        build_s=build_s,
        bfs_ms=median_ms(samples["bfs"]),
        query_ms=median_ms(samples["query"]),
        endpoint_ms=median_ms(samples["endpoint"]),
        cte_ms=median_ms(samples["cte"]),
        driver_ms=median_ms(samples["driver"]),
    )


def _driver_connection(url: str) -> Any:
    """A bare DB-API connection (sqlite3 or psycopg, no SQLAlchemy, no thread hop) to the same database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sqlite3.connect(str(parsed.database))
    # jit=off as the service's engine sets it (shared/db.py): JIT would add ~150 ms to this query.
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        dbname=parsed.database,
        autocommit=True,
        options="-c jit=off",
    )


def _ancestor_edges_stmt(lot_id: str, *, lateral: bool) -> Any:
    """The statement ``repository.ancestor_edges`` runs, for EXPLAIN."""
    walk = repository.ancestor_edges_cte(lot_id, lateral=lateral)
    return select(walk.c.parent, walk.c.child, walk.c.quantity_g, walk.c.event_id)


async def _explain(db: Database, lot_id: str, options: str) -> list[Any]:
    async with db.read_sessions() as session:
        compiled = _ancestor_edges_stmt(lot_id, lateral=not db.is_sqlite).compile(
            session.bind, compile_kwargs={"literal_binds": True}
        )
        return list((await session.execute(text(f"EXPLAIN {options} {compiled}"))).all())


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


async def recursive_step(db: Database, lot_id: str) -> str:
    """How the planner runs the CTE's recursive step: through the index, or by scanning lot_edges."""
    if db.is_sqlite:
        details = [str(row[3]) for row in await _explain(db, lot_id, "QUERY PLAN")]
        step = next((d for d in details if d.startswith(("SEARCH lot_edges_1", "SCAN lot_edges_1"))), "?")
        return "index" if "ix_lot_edges_child" in step else step
    ((document,),) = await _explain(db, lot_id, "(FORMAT JSON)")
    union = next(n for n in _nodes(document[0]["Plan"]) if n["Node Type"] == "Recursive Union")
    first, recursive = union["Plans"]
    scans = {n["Node Type"] for n in _nodes(recursive) if n.get("Relation Name") == "lot_edges"}
    how = "seq scan" if "Seq Scan" in scans else "index"
    return f"{recursive['Node Type']}, {how} (1st step est. {first['Plan Rows']} rows)"


async def explain(db: Database, lot_id: str) -> None:
    options = "QUERY PLAN" if db.is_sqlite else "(ANALYZE, BUFFERS, COSTS OFF)"
    for line in await _explain(db, lot_id, options):
        print("    " + " | ".join(str(cell) for cell in line))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(headings: list[str], lines: list[list[str]]) -> None:
    table = [headings, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(headings))]
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


GOAL_RATIO = 5.0
GOAL_GROWTH = 1.5


def report(results: list[tuple[Measure, Measure]], scale: int) -> None:
    lines = []
    for pair in results:
        for m in pair:
            lines.append(
                [
                    m.backend,
                    f"{m.lots:,}",
                    f"{m.ancestors:,}",
                    f"{m.edges:,}",
                    f"{m.build_s:.1f}",
                    f"{m.bfs_ms:.2f}",
                    f"{m.query_ms:.1f}",
                    f"{m.query_ms / m.bfs_ms:.1f}×",
                    verdict(m.query_ms / m.bfs_ms <= GOAL_RATIO),
                    f"{m.endpoint_ms:.1f}",
                    f"{m.endpoint_ms / m.bfs_ms:.1f}×",
                    verdict(m.endpoint_ms / m.bfs_ms <= GOAL_RATIO),
                    f"{m.cte_ms:.1f}",
                    f"{m.driver_ms:.1f}",
                    f"{m.driver_ms / m.bfs_ms:.1f}×",
                    m.step,
                ]
            )
    print("\nLineage of one container (medians; goal: query and endpoint ≤ 5× the in-memory walk)\n")
    print_table(
        [
            "db",
            "lots",
            "ancestors",
            "edges",
            "build s",
            "BFS ms",
            "query ms",
            "query/BFS",
            "≤5×",
            "endpoint ms",
            "endpoint/BFS",
            "≤5×",
            "CTE only ms",
            "driver CTE ms",
            "driver/BFS",
            "recursive step (plan)",
        ],
        lines,
    )
    growth = []
    for small, big in results:
        for name, a, b in (
            ("BFS (reference)", small.bfs_ms, big.bfs_ms),
            ("lineage_rows", small.query_ms, big.query_ms),
            ("endpoint", small.endpoint_ms, big.endpoint_ms),
            ("CTE only", small.cte_ms, big.cte_ms),
            ("driver CTE", small.driver_ms, big.driver_ms),
        ):
            goal = name in ("lineage_rows", "endpoint")
            growth.append(
                [
                    small.backend,
                    name,
                    f"{a:.2f}",
                    f"{b:.2f}",
                    f"{b / a:.2f}×",
                    "≤ 1.5×" if goal else "-",
                    verdict(b / a <= GOAL_GROWTH) if goal else "-",
                ]
            )
    print(f"\nGrowth with the graph ({scale}× the lots, same target; goal ≤ {GOAL_GROWTH}×)\n")
    lots = [f"{results[0][0].lots:,} lots ms", f"{results[0][1].lots:,} lots ms"] if results else ["", ""]
    print_table(["db", "measure", *lots, "growth", "goal", "verdict"], growth)
    print(
        "\nBFS: breadth-first walk over an in-memory dict child → [(parent, grams)] of the same edges,\n"
        "     collecting the same edge set; the reference excludes all I/O (no database, driver or ORM).\n"
        "query: services.lots.repository.lineage_rows (the one recursive CTE: every edge above the\n"
        "     lot, its parent lot's columns joined, plain rows), in a fresh read session.\n"
        "endpoint: repository.get_lot + lineage_graph + lineage_read, what GET /lots/{id}/lineage\n"
        "     computes before the JSON is serialised.\n"
        "CTE only: the same recursive CTE selecting the four edge columns, no joins, no ORM objects\n"
        "     (diagnostic, no goal).\n"
        "driver CTE: that same SQL through the bare synchronous driver (sqlite3 / psycopg), fetchall;\n"
        "     no SQLAlchemy, no event-loop hop. It is the floor of any design that answers lineage with\n"
        "     one recursive query: driver/BFS above 5× means no such design can meet the 5× goal.\n"
        "recursive step: how the plan joins the walk to lot_edges at each level (EXPLAIN after the\n"
        "     measures; PostgreSQL's choice follows ANALYZE's sample, so it can change between runs).\n"
        "build s: generating and writing the lots (COPY on PostgreSQL, executemany on SQLite, one\n"
        "     transaction; PostgreSQL is ANALYZEd after each build as autovacuum would; SQLite is not:\n"
        "     the service never runs ANALYZE there)."
    )


async def bench_backend(
    backend: str, lots: int, scale: int, runs: int, workdir: Path, pg: tuple[str, int, str], show_plan: bool
) -> tuple[Measure, Measure]:
    ledger = Ledger(sqlite=backend == "sqlite")
    measures = []
    async with fresh_lots_database(backend, workdir, pg) as target:
        for size in (lots, lots * scale):
            build_s = await asyncio.to_thread(grow, ledger, target.sink, size)
            # The bench's own copy of the graph (a million objects at 500k lots) must not make every
            # garbage collection during the measures slower: out of the collector's sight it goes.
            gc.collect()
            gc.freeze()
            lot_id = ledger.containers[0]
            print(
                f"  {backend:<10} built {ledger.lots:,} lots, {ledger.edges:,} edges, "
                f"{len(ledger.containers)} containers in {build_s:.1f} s",
                flush=True,
            )
            db = Database(target.url)
            try:
                m = await measure(backend, db, ledger.parents, lot_id, ledger.lots, build_s, runs)
                m.step = await recursive_step(db, lot_id)
                if show_plan:
                    print(f"  plan of ancestor_edges at {ledger.lots:,} lots:")
                    await explain(db, lot_id)
            finally:
                await db.dispose()
            print(
                f"  {backend:<10} {m.lots:,} lots: BFS {m.bfs_ms:.2f} ms, lineage_rows {m.query_ms:.1f} "
                f"ms, endpoint {m.endpoint_ms:.1f} ms, CTE only {m.cte_ms:.1f} ms, driver CTE "
                f"{m.driver_ms:.1f} ms; recursive step: {m.step} "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            measures.append(m)
    return measures[0], measures[1]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lineage", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--lots", type=int, default=50_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5,000 lots, scale 2, 5 runs: a smoke run")
    parser.add_argument("--explain", action="store_true", help="print the query plan at each size")
    parser.add_argument("--pg-host", default=os.environ.get("CHACRA_TEST_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("CHACRA_TEST_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("CHACRA_TEST_PG_USER", "postgres"))
    args = parser.parse_args(argv)
    if args.quick:
        args.lots, args.scale, args.runs = 5_000, 2, 5
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pg = (args.pg_host, args.pg_port, args.pg_user)
    shape = Shape()
    print(
        f"Target: a container of {shape.batches_per_container} batches × "
        f"({shape.centres_per_batch} centres × {shape.deliveries_per_centre} deliveries, fermented, dried, "
        f"{shape.bags_shipped_per_batch} of {shape.bags_per_batch} bags) = "
        f"{shape.ancestors(shape.batches_per_container):,} ancestors; {args.lots:,} then "
        f"{args.lots * args.scale:,} lots; {args.runs} runs after 2 warm-ups; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="chacra-bench-") as tmp:
        results = [
            await bench_backend(b, args.lots, args.scale, args.runs, Path(tmp), pg, args.explain)
            for b in backends
        ]
    report(results, args.scale)


if __name__ == "__main__":
    asyncio.run(main())
