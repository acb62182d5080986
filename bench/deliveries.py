"""Deliveries per second through the API, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.deliveries [--backend sqlite|postgresql|both] [--n 1000] [--quick]

The all-in-one platform (``deploy.allinone.create_allinone``) runs on two fresh, migrated
databases of the engine under test (the registry's and the ledger's), with a cooperative, its
manager, farmers and their plots created through the API. Then ``POST /api/v1/lots`` is sent N
times through ``httpx.AsyncClient`` + ``ASGITransport``, with an ``Idempotency-Key`` per request
as a field device sends it: one request after the other, and with 8 requests in flight.

The reference, measured in the same run and interleaved with it, is a bare FastAPI app (below)
with one POST endpoint that validates a body of the same fields and does a single raw INSERT of a
similar row (a table the bench creates in the same database, through the same ``Database`` class,
so the same engine and session settings) and commits — what any endpoint that stores a row must
pay: the HTTP client, the ASGI call, body parsing, one transaction. The ratio deliveries/reference
is what the ledger's work costs on top (goal ≥ 0.5×).

A delivery also makes one in-process call to the cooperatives service (GET /plots/{id}/origin: the
plot with its farmer and cooperative), a full ASGI request with its own token check and read
transaction; the reference makes none.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import text

from deploy.allinone import create_allinone
from shared.auth import Principal, Role, TokenIssuer
from shared.db import Database
from shared.migrations import upgrade_to_head
from shared.settings import AuthSettings, Settings
from tests.factories import TARAPOTO_POLYGON

LOTS = "/api/v1/lots"
FARMERS = 20
CONCURRENCY = 8
GOAL = 0.5
RUC = "20100070970"  # a valid RUC (check digit)

# the reference: one endpoint, one INSERT

REFERENCE_TABLE = """
CREATE TABLE bench_deliveries (
    id VARCHAR(40) PRIMARY KEY,
    cooperative_id VARCHAR(40) NOT NULL,
    farmer_id VARCHAR(40) NOT NULL,
    plot_id VARCHAR(40) NOT NULL,
    product VARCHAR(16) NOT NULL,
    form VARCHAR(16) NOT NULL,
    quantity_g BIGINT NOT NULL,
    harvested_on DATE NOT NULL,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by VARCHAR(64) NOT NULL
)
"""
REFERENCE_INSERT = text(
    "INSERT INTO bench_deliveries (id, cooperative_id, farmer_id, plot_id, product, form, quantity_g, "
    "harvested_on, received_at, created_by) VALUES (:id, :cooperative_id, :farmer_id, :plot_id, :product, "
    ":form, :quantity_g, :harvested_on, :received_at, :created_by)"
)


class ReferenceBody(BaseModel):
    cooperative_id: str
    farmer_id: str
    plot_id: str
    product: Literal["cacao", "coffee"]
    form: Literal["baba", "fermented", "dry", "cherry", "parchment", "green"]
    quantity_kg: Decimal = Field(gt=0, decimal_places=3)
    harvested_on: date
    received_at: datetime | None = None


def reference_app(db: Database) -> FastAPI:
    app = FastAPI()

    @app.post(LOTS, status_code=201)
    async def insert_one(body: ReferenceBody) -> dict[str, Any]:
        row = {
            "id": f"lot_{uuid.uuid4().hex}",
            "cooperative_id": body.cooperative_id,
            "farmer_id": body.farmer_id,
            "plot_id": body.plot_id,
            "product": body.product,
            "form": body.form,
            "quantity_g": int(body.quantity_kg * 1000),
            "harvested_on": body.harvested_on,
            "received_at": body.received_at or datetime.now(UTC),
            "created_by": "bench",
        }
        async with db.transaction() as session:
            await session.execute(REFERENCE_INSERT, row)
        return {**row, "quantity_kg": str(body.quantity_kg)}

    return app


# the floor: the least a delivery shaped as issue 3 asks can cost — a bare endpoint that asks a bare
# peer app through httpx.ASGITransport (HTTP semantics in-process, as the all-in-one client must) for
# one row by primary key, then does the reference's INSERT. No auth, no idempotency, no ledger rows.

FLOOR_PLOTS = "CREATE TABLE bench_plots (id VARCHAR(40) PRIMARY KEY, farmer_id VARCHAR(40) NOT NULL)"
FLOOR_SELECT = text("SELECT id, farmer_id FROM bench_plots WHERE id = :id")


def floor_peer_app(db: Database) -> FastAPI:
    app = FastAPI()

    @app.get("/plots/{plot_id}")
    async def read_plot(plot_id: str) -> dict[str, Any]:
        async with db.read_sessions() as session:
            row = (await session.execute(FLOOR_SELECT, {"id": plot_id})).one()
        return {"id": row.id, "farmer_id": row.farmer_id}

    return app


def floor_app(db: Database, peer: httpx.AsyncClient) -> FastAPI:
    app = FastAPI()
    insert = reference_app(db).routes[-1].endpoint  # type: ignore[attr-defined]

    @app.post(LOTS, status_code=201)
    async def insert_after_peer(body: ReferenceBody) -> dict[str, Any]:
        answer = await peer.get(f"/plots/{body.plot_id}")
        assert answer.status_code == 200 and answer.json()["farmer_id"] == body.farmer_id
        result: dict[str, Any] = await insert(body)
        return result

    return app


# the platform


def _pg_admin(pg: tuple[str, int, str]) -> psycopg.Connection[Any]:
    host, port, user = pg
    return psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True)


@asynccontextmanager
async def fresh_url(backend: str, workdir: Path, pg: tuple[str, int, str]) -> AsyncIterator[str]:
    name = f"chacra_bench_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"
        return
    host, port, user = pg
    with _pg_admin(pg) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    finally:
        with _pg_admin(pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Setup:
    api: httpx.AsyncClient
    reference: httpx.AsyncClient
    floor: httpx.AsyncClient
    bodies: Callable[[], dict[str, Any]]
    headers: dict[str, str]
    lots_db: Database


def _signing_key() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@asynccontextmanager
async def platform(backend: str, workdir: Path, pg: tuple[str, int, str]) -> AsyncIterator[Setup]:
    async with AsyncExitStack() as stack:
        coop_url = await stack.enter_async_context(fresh_url(backend, workdir, pg))
        lots_url = await stack.enter_async_context(fresh_url(backend, workdir, pg))
        await upgrade_to_head("cooperatives", coop_url)
        await upgrade_to_head("lots", lots_url)
        settings = Settings(
            database_url=coop_url,
            auth=AuthSettings(private_key=SecretStr(_signing_key())),
            log_json=False,
            log_level="WARNING",
        )
        databases = {"cooperatives": Database(coop_url), "lots": Database(lots_url)}
        for db in databases.values():
            stack.push_async_callback(db.dispose)
        app = create_allinone(settings, databases=databases)
        await stack.enter_async_context(app.root.router.lifespan_context(app.root))
        api = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        )
        issuer = TokenIssuer(settings.auth)
        admin = Principal(user_id="usr_bench_admin", username="admin", role=Role.ADMIN)
        admin_headers = {"Authorization": f"Bearer {issuer.issue(admin)}"}
        coop = await _created(
            await api.post(
                "/api/v1/cooperatives",
                json={
                    "name": "Cooperativa Agraria Bench",
                    "ruc": RUC,
                    "kind": "cooperative",
                    "ubigeo": "220901",
                    "products": ["cacao", "coffee"],
                },
                headers=admin_headers,
            )
        )
        manager = Principal(
            user_id="usr_bench_manager", username="gerente", role=Role.MANAGER, cooperative_id=coop["id"]
        )
        headers = {"Authorization": f"Bearer {issuer.issue(manager)}"}
        origins = []
        for n in range(FARMERS):
            farmer = await _created(
                await api.post(
                    f"/api/v1/cooperatives/{coop['id']}/farmers",
                    json={
                        "name": f"Socio {n} Quispe",
                        "dni": f"{40_000_000 + n:08d}",
                        "gender": "female" if n % 2 else "male",
                        "public_name_consent": True,
                    },
                    headers=headers,
                )
            )
            plot = await _created(
                await api.post(
                    f"/api/v1/farmers/{farmer['id']}/plots",
                    json={"name": f"Parcela {n}", "crop": "cacao", "geometry": TARAPOTO_POLYGON},
                    headers=headers,
                )
            )
            origins.append((farmer["id"], plot["id"]))
        rng = random.Random(7)
        today = date.today()

        def body() -> dict[str, Any]:
            farmer_id, plot_id = rng.choice(origins)
            return {
                "cooperative_id": coop["id"],
                "farmer_id": farmer_id,
                "plot_id": plot_id,
                "product": "cacao",
                "form": "baba",
                "quantity_kg": f"{rng.randint(40_000, 160_000) / 1000:.3f}",
                "harvested_on": (today - timedelta(days=rng.randint(0, 3))).isoformat(),
            }

        # the reference's table lives in the ledger's database: same engine, same file or server
        reference_db = Database(lots_url)
        stack.push_async_callback(reference_db.dispose)
        async with reference_db.transaction() as session:
            await session.execute(text(REFERENCE_TABLE))
        reference = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=reference_app(reference_db)), base_url="http://bench"
            )
        )
        async with reference_db.transaction() as session:
            await session.execute(text(FLOOR_PLOTS))
            await session.execute(
                text("INSERT INTO bench_plots (id, farmer_id) VALUES (:plot_id, :farmer_id)"),
                [{"plot_id": p, "farmer_id": f} for f, p in origins],
            )
        peer = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=floor_peer_app(reference_db)), base_url="http://peer"
            )
        )
        floor = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=floor_app(reference_db, peer)), base_url="http://bench"
            )
        )
        yield Setup(api, reference, floor, body, headers, databases["lots"])


# the measures


@dataclass
class Tally:
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    requests: int = 0
    statuses: Counter[int] | None = None

    def add(self, seconds: float, cpu_seconds: float, statuses: Counter[int]) -> None:
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds
        self.requests += sum(statuses.values())
        self.statuses = (self.statuses or Counter()) + statuses

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / self.requests * 1000

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def failures(self) -> str:
        bad = {s: c for s, c in (self.statuses or Counter()).items() if s != 201}
        return ", ".join(f"{c}× {s}" for s, c in sorted(bad.items())) or "none"


async def post_many(
    client: httpx.AsyncClient, setup: Setup, n: int, concurrency: int, *, key: bool = True
) -> tuple[float, float, Counter[int]]:
    """Wall seconds, this process's CPU seconds (all threads; not the PostgreSQL server's), statuses."""
    bodies = [setup.bodies() for _ in range(n)]
    statuses: Counter[int] = Counter()
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            headers = {**setup.headers, "Idempotency-Key": str(uuid.uuid4())} if key else setup.headers
            response = await client.post(LOTS, json=body, headers=headers)
            statuses[response.status_code] += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu, statuses


async def get_one(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    """Milliseconds for one GET."""
    started = time.perf_counter()
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return (time.perf_counter() - started) * 1000


async def post_one(client: httpx.AsyncClient, setup: Setup, *, key: bool) -> float:
    """Milliseconds for one POST /lots."""
    seconds, _, statuses = await post_many(client, setup, 1, 1, key=key)
    assert set(statuses) == {201}, statuses
    return seconds * 1000


@dataclass
class Result:
    backend: str
    in_flight: int
    api: Tally
    reference: Tally
    floor: Tally
    breakdown: str = ""


async def bench_backend(
    backend: str, n: int, rounds: int, workdir: Path, pg: tuple[str, int, str]
) -> list[Result]:
    results = []
    async with platform(backend, workdir, pg) as setup:
        for client in (
            setup.api,
            setup.reference,
            setup.floor,
        ):  # warm-up: connections, caches, first-call costs
            await post_many(client, setup, 30, 1)
        for in_flight in (1, CONCURRENCY):
            api, reference, floor = Tally(), Tally(), Tally()
            per_round = max(1, n // rounds)
            for _ in range(rounds):  # interleaved, so a busy moment of the machine hits all three
                reference.add(*await post_many(setup.reference, setup, per_round, in_flight))
                floor.add(*await post_many(setup.floor, setup, per_round, in_flight))
                api.add(*await post_many(setup.api, setup, per_round, in_flight))
            results.append(Result(backend, in_flight, api, reference, floor))
            print(
                f"  {backend:<10} {in_flight} in flight: {api.rate:,.0f} deliveries/s "
                f"(non-201: {api.failures()}), reference {reference.rate:,.0f}/s "
                f"(non-201: {reference.failures()}), floor {floor.rate:,.0f}/s "
                f"(non-201: {floor.failures()})",
                flush=True,
            )
        # where a delivery's time goes: one request at a time, in turns
        body = setup.bodies()
        probes: dict[str, Callable[[], Awaitable[float]]] = {
            "GET /plots/{id}": lambda: get_one(setup.api, f"/api/v1/plots/{body['plot_id']}", setup.headers),
            "GET /farmers/{id}": lambda: get_one(
                setup.api, f"/api/v1/farmers/{body['farmer_id']}", setup.headers
            ),
            "GET /cooperatives/{id}": lambda: get_one(
                setup.api, f"/api/v1/cooperatives/{body['cooperative_id']}", setup.headers
            ),
            "POST /lots without Idempotency-Key": lambda: post_one(setup.api, setup, key=False),
            "POST /lots with Idempotency-Key": lambda: post_one(setup.api, setup, key=True),
            "reference POST": lambda: post_one(setup.reference, setup, key=True),
        }
        spent = {name: 0.0 for name in probes}
        probe_n = max(20, n // 4)
        for _ in range(probe_n):
            for name, probe in probes.items():
                spent[name] += await probe()
        breakdown = f"{backend:<10} " + ", ".join(
            f"{name} {ms / probe_n:.1f} ms" for name, ms in spent.items()
        )
        print(f"  {breakdown}", flush=True)
        results[-1].breakdown = breakdown
        async with setup.lots_db.read_sessions() as session:
            stored = await session.scalar(text("SELECT count(*) FROM deliveries"))
        print(f"  {backend:<10} {stored:,} deliveries stored", flush=True)
    return results


def print_table(headings: list[str], lines: list[list[str]]) -> None:
    table = [headings, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(headings))]
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def report(results: list[Result]) -> None:
    lines = []
    for r in results:
        ratio = r.api.rate / r.reference.rate
        lines.append(
            [
                r.backend,
                str(r.in_flight),
                f"{r.api.requests:,}",
                f"{r.api.rate:,.0f}",
                f"{1000 / r.api.rate * r.in_flight:.1f}",
                f"{r.api.cpu_ms:.1f}",
                f"{r.reference.rate:,.0f}",
                f"{1000 / r.reference.rate * r.in_flight:.1f}",
                f"{r.reference.cpu_ms:.1f}",
                f"{ratio:.2f}×",
                f"≥ {GOAL}×",
                "PASS" if ratio >= GOAL else "MISS",
                f"{r.floor.rate:,.0f}",
                f"{r.floor.rate / r.reference.rate:.2f}×",
                f"{r.api.rate / r.floor.rate:.2f}×",
            ]
        )
    print("\nPOST /api/v1/lots through the all-in-one app (httpx + ASGITransport, Idempotency-Key on each)\n")
    print_table(
        [
            "db",
            "in flight",
            "requests",
            "deliveries/s",
            "ms each",
            "CPU ms",
            "reference/s",
            "ref ms each",
            "ref CPU ms",
            "ratio",
            "goal",
            "verdict",
            "floor/s",
            "floor÷ref",
            "api÷floor",
        ],
        lines,
    )
    print(
        "\nreference: a bare FastAPI app in this file, one POST endpoint validating the same fields and\n"
        "     doing one raw INSERT + commit into a table of the same database, same client, same run\n"
        "     (interleaved with the deliveries in rounds).\n"
        "A delivery also makes one in-process call to the cooperatives service (GET\n"
        "     /plots/{id}/origin: a full ASGI request with token check and a read transaction), claims\n"
        "     and completes its Idempotency-Key, draws a lot code and writes lot, state, event,\n"
        "     event link and delivery rows; the reference does none of that.\n"
        "ms each: wall time per request as one client sees it (× requests in flight).\n"
        "CPU ms: this process's CPU time per request, all threads (not the PostgreSQL server's).\n"
        "floor: the least a delivery of the shape issue 3 asks for can cost — a bare endpoint that\n"
        "     asks a bare peer app through httpx.ASGITransport for one row by key (the registry\n"
        "     check, with HTTP semantics in-process), then does the reference's INSERT; no auth, no\n"
        "     Idempotency-Key, no ledger rows. floor÷ref bounds what any such delivery can reach\n"
        "     against the reference; api÷floor is what the ledger's own work costs on top of it."
    )
    print(
        "\nOne request at a time through the same client, in turns (mean); the 3 GETs are what a delivery\n"
        "     made in-process before it asked for /plots/{id}/origin:"
    )
    for r in results:
        if r.breakdown:
            print(f"  {r.breakdown}")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deliveries", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=1000, help="requests per mode and per app")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="100 requests in 2 rounds: a smoke run")
    parser.add_argument("--pg-host", default=os.environ.get("CHACRA_TEST_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("CHACRA_TEST_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("CHACRA_TEST_PG_USER", "postgres"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 100, 2
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pg = (args.pg_host, args.pg_port, args.pg_user)
    print(
        f"{args.n:,} deliveries per mode ({args.rounds} rounds), 1 and {CONCURRENCY} in flight; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="chacra-bench-") as tmp:
        results = [r for b in backends for r in await bench_backend(b, args.n, args.rounds, Path(tmp), pg)]
    report(results)
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    asyncio.run(main())
