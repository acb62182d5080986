"""Scan burst: the public page of random lots out of ~50,000, 32 clients at once, with wrk.

    .venv/bin/python -m bench.scan_burst [--lots 50000] [--seconds 15] [--catalogue 2000]
                                         [--catalogue-only] [--quick]

A fresh all-in-one SQLite database gets real cooperatives (through the API) and a ledger of
``--lots`` lots (bench/lineage.py's generator: deliveries, centres, fermentation, drying, bags,
containers). Then ``chacra serve`` runs it as a user would, and Debian's ``wrk`` (installed by
this bench when missing) sends ``GET /l/{code}`` for random lots with 32 connections:

* cold — random lots out of all of them, right after start: nearly every request builds a page;
* every lot — random lots out of all of them, after the exporter printed every lot's label
  (``labels.pdf``, sheets of 500), which builds their pages ahead (claims asked a batch at a time);
  pages come from the page store, vouched for by the change watch, which polls the ledger and the
  claims every ``CHACRA_PUBLIC_REVALIDATE_SECONDS`` (5) whatever the cache holds;
* fair — random lots out of a catalogue of ``--catalogue`` of them (those shown at a fair).

``--catalogue-only`` prints the catalogue's labels only and skips the every-lot run (minutes
instead of half an hour at 50,000 lots).

The reference, in the same run and under the same server (uvicorn, one process, no access log), is
a bare ASGI app that answers every path with the bytes of one real page. Goals (issue 5), on the
every-lot run: throughput ≥ 0.5× the reference, p99 < 50 ms, peak RSS of the all-in-one process
≤ 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from bench.lineage import Ledger, SqliteSink, grow
from deploy.allinone import create_allinone
from shared.auth import Principal, Role, TokenIssuer
from shared.migrations import upgrade_to_head
from shared.settings import AuthSettings, Settings
from tests.factories import cooperative_body

CONNECTIONS = 32
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0
GOAL_RSS_MB = 250.0
COOPERATIVES = 8
LUA = """
local paths = {}
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def reference_app(body: bytes) -> Any:
    """A bare ASGI app: every request gets the same bytes, as a static file server would send them."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(message)

    return app


def floor_app(body: bytes) -> Any:
    """The least any FastAPI service can do: one route, no middleware of ours, the same bytes."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/l/{code}")
    async def page(code: str) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    return app


def serve_reference(page: Path, port: int, kind: str) -> None:
    import uvicorn

    body = page.read_bytes()
    app = floor_app(body) if kind == "fastapi" else reference_app(body)
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def _signing_key() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def build(workdir: Path, lots: int, key_pem: str) -> tuple[str, list[str]]:
    """The database: cooperatives through the API, then the ledger's rows; returns its URL and codes."""
    path = workdir / "chacra.db"
    url = f"sqlite+aiosqlite:///{path}"
    for service in ("cooperatives", "lots"):
        await upgrade_to_head(service, url)
    settings = Settings(
        database_url=url, auth=AuthSettings(private_key=SecretStr(key_pem)), log_level="WARNING"
    )
    platform = create_allinone(settings)
    token = TokenIssuer(settings.auth).issue(
        Principal(user_id="usr_bench", username="admin", role=Role.ADMIN)
    )
    cooperative_ids = []
    async with (
        platform.root.router.lifespan_context(platform.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://bench") as api,
    ):
        for n in range(COOPERATIVES):
            body = cooperative_body(name=f"Cooperativa Agraria Bench {n + 1}", ubigeo="220901")
            response = await api.post(
                "/api/v1/cooperatives", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 201, response.text
            cooperative_ids.append(response.json()["id"])
    ledger = Ledger(sqlite=True)
    make_id = ledger._id
    chosen = iter(cooperative_ids * (lots // 100 + 10))
    # Each container's season belongs to one of the registered cooperatives.
    ledger._id = lambda prefix: next(chosen) if prefix == "coop" else make_id(prefix)  # type: ignore[method-assign]
    seconds = await asyncio.to_thread(grow, ledger, lambda: SqliteSink(str(path)), lots)
    with sqlite3.connect(path) as conn:
        codes = [row[0] for row in conn.execute("SELECT code FROM lots")]
    print(f"  built {ledger.lots:,} lots of {COOPERATIVES} cooperatives in {seconds:.1f} s", flush=True)
    return url, codes


def _built_ahead(client: httpx.Client) -> float:
    found = re.search(r"^chacra_public_pages_built_ahead_total ([\d.e+]+)", client.get("/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def print_labels(base: str, codes: list[str], key_pem: str, per_sheet: int = 500) -> float:
    """GET labels.pdf for the codes, a sheet of ``per_sheet`` at a time, as an exporter would, then
    wait until the server has built their pages ahead; returns the seconds that took."""
    print(f"  printing {len(codes):,} labels, sheets of {per_sheet}…", flush=True)
    settings = AuthSettings(private_key=SecretStr(key_pem))
    token = TokenIssuer(settings).issue(Principal(user_id="usr_bench", username="admin", role=Role.ADMIN))
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        before = _built_ahead(client)
        for start in range(0, len(codes), per_sheet):
            ids = ",".join(codes[start : start + per_sheet])
            sheet = client.get("/api/v1/lots/labels.pdf", params={"ids": ids})
            assert sheet.status_code == 200, sheet.text
        while _built_ahead(client) - before < len(set(codes)):
            if time.monotonic() - started > 3600:
                sys.exit("the server did not build the printed lots' pages within an hour")
            time.sleep(1)
    return time.monotonic() - started


def store_mb(pid: int) -> float:
    """The size of the server's page store, found among its open files: its memfd, or an unlinked
    file of the temporary directory (O_TMPFILE: nameless) — the largest if several."""
    found = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            on_disk = target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)")
            if on_disk or target.startswith("/memfd:chacra-pages"):
                found = max(found, fd.stat().st_size)
    return found / 1024 / 1024


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        apt = shutil.which("apt-get") or "apt-get"
        subprocess.run([apt, "install", "-y", "-qq", "wrk"], check=True, capture_output=True)  # noqa: S603
        found = shutil.which("wrk")
    if not found:
        sys.exit("this bench needs wrk (Debian package wrk)")
    return found


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server at {url} stopped (exit {process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit(f"the server at {url} did not answer in {timeout:.0f} s")


@dataclass
class Run:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    timeouts: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_run(wrk: str, name: str, base: str, paths: Path, seconds: int, script: Path) -> Run:
    out = subprocess.run(  # noqa: S603 (wrk, found on PATH, with our own arguments)
        [
            wrk,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base,
            "--",
            str(paths),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    # wrk gives up on a request after 2 s: a timeout, counted apart from the server's errors.
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    connect, read, write, timeouts = (int(n) for n in found.groups()) if found else (0, 0, 0, 0)
    errors += connect + read + write
    run = Run(name, rate, p50, p99, errors, timeouts)
    print(
        f"  {name:<22} {rate:8,.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:7.1f} ms  "
        f"errors {errors}  timeouts (> 2 s) {timeouts}",
        flush=True,
    )
    return run


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return kb / 1024


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scan_burst", description=__doc__.split("\n")[0])
    parser.add_argument("--lots", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--catalogue", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="5,000 lots, 5 s runs: a smoke run")
    parser.add_argument(
        "--catalogue-only", action="store_true", help="print the catalogue's labels only: no every-lot run"
    )
    parser.add_argument(
        "--revalidate",
        type=float,
        default=None,
        help="CHACRA_PUBLIC_REVALIDATE_SECONDS (default: the service's)",
    )
    parser.add_argument(
        "--serve-reference", nargs=3, metavar=("PAGE", "PORT", "KIND"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_reference:
        serve_reference(Path(args.serve_reference[0]), int(args.serve_reference[1]), args.serve_reference[2])
        return
    if args.quick:
        args.lots, args.seconds, args.catalogue = 5_000, 5, 500
    wrk = ensure_wrk()
    print(
        f"Scan burst: {CONNECTIONS} connections, {args.seconds} s a run, {args.lots:,} lots; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="chacra-scan-") as tmp:
        workdir = Path(tmp)
        key_pem = _signing_key()
        url, codes = asyncio.run(build(workdir, args.lots, key_pem))
        script = workdir / "random.lua"
        script.write_text(LUA)
        every = workdir / "all.txt"
        every.write_text("".join(f"/l/{code}\n" for code in codes))
        catalogue = workdir / "catalogue.txt"
        catalogue_codes = random.Random(5).sample(codes, args.catalogue)
        catalogue.write_text("".join(f"/l/{code}\n" for code in catalogue_codes))

        env = {
            **os.environ,
            "CHACRA_DATABASE_URL": url,
            "CHACRA_AUTH__PRIVATE_KEY": key_pem,
            "CHACRA_LOG_LEVEL": "WARNING",
        }
        if args.revalidate is not None:
            env["CHACRA_PUBLIC_REVALIDATE_SECONDS"] = str(args.revalidate)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        chacra = Path(sys.executable).with_name("chacra")
        platform = subprocess.Popen(  # noqa: S603 (our own command)
            [str(chacra), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
        )
        reference: subprocess.Popen[bytes] | None = None
        floor: subprocess.Popen[bytes] | None = None
        try:
            wait_ready(f"{base}/healthz", platform)
            page = workdir / "page.html"
            sample = httpx.get(f"{base}/l/{codes[len(codes) // 2]}", timeout=30)
            assert sample.status_code == 200, sample.text
            page.write_bytes(sample.content)
            ref_port = free_port()
            here = Path(__file__).resolve().parents[1]
            reference = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "bench.scan_burst",
                    "--serve-reference",
                    str(page),
                    str(ref_port),
                    "asgi",
                ],
                cwd=here,
            )
            ref_base = f"http://127.0.0.1:{ref_port}"
            wait_ready(ref_base, reference)
            floor_port = free_port()
            floor = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "bench.scan_burst",
                    "--serve-reference",
                    str(page),
                    str(floor_port),
                    "fastapi",
                ],
                cwd=here,
            )
            floor_base = f"http://127.0.0.1:{floor_port}"
            wait_ready(f"{floor_base}/l/x", floor)

            cold = wrk_run(wrk, "cold (all lots)", base, every, args.seconds, script)
            # The exporter prints the labels (sheets of 500 codes) — the catalogue's, or every
            # lot's — and the server builds their pages ahead.
            printed = catalogue_codes if args.catalogue_only else codes
            built = print_labels(base, printed, key_pem)
            print(
                f"  {len(printed):,} labels printed, pages built ahead in {built:.0f} s "
                f"({len(printed) / built:,.0f} a second)",
                flush=True,
            )
            runs = []
            for _ in range(2):  # interleaved: a busy moment of the machine hits all alike
                runs.append(wrk_run(wrk, "reference (same bytes)", ref_base, every, args.seconds, script))
                runs.append(wrk_run(wrk, "floor (bare FastAPI)", floor_base, every, args.seconds, script))
                if not args.catalogue_only:
                    runs.append(wrk_run(wrk, "every lot", base, every, args.seconds, script))
                runs.append(wrk_run(wrk, "fair (catalogue)", base, catalogue, args.seconds, script))
            rss = peak_rss_mb(platform.pid)
            stored = store_mb(platform.pid)
        finally:
            for process in (platform, reference, floor):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

    def mean(prefix: str) -> tuple[float, float]:
        """Mean throughput and worst p99 of the runs named so."""
        chosen = [r for r in runs if r.name.startswith(prefix)]
        return sum(r.rate for r in chosen) / len(chosen), max(r.p99_ms for r in chosen)

    ref_rate, _ = mean("reference")
    floor_rate, _ = mean("floor")
    judged = "fair" if args.catalogue_only else "every lot"
    rate, p99 = mean(judged)
    ratio = rate / ref_rate
    fair_rate, fair_p99 = mean("fair")
    errors = sum(r.errors for r in [*runs, cold])
    print(f"\nGET /l/{{code}} through `chacra serve` (all-in-one, SQLite), {CONNECTIONS} connections\n")
    lines = [
        (
            f"{judged}/reference throughput",
            f"{rate:,.0f} / {ref_rate:,.0f} req/s = {ratio:.2f}×",
            f"≥ {GOAL_RATIO}×",
            verdict(ratio >= GOAL_RATIO),
        ),
        (f"{judged} p99", f"{p99:.1f} ms", f"< {GOAL_P99_MS:.0f} ms", verdict(p99 < GOAL_P99_MS)),
        (
            "peak RSS of the all-in-one process",
            f"{rss:.0f} MB (page store, memfd: {stored:.0f} MB)",
            f"≤ {GOAL_RSS_MB:.0f} MB",
            verdict(rss <= GOAL_RSS_MB),
        ),
        ("errors (non-2xx, socket)", str(errors), "0", verdict(errors == 0)),
        (
            "fair (catalogue)/reference, p99",
            f"{fair_rate / ref_rate:.2f}×, {fair_p99:.1f} ms",
            "-",
            "-",
        ),
        (
            "floor: bare FastAPI/reference",
            f"{floor_rate:,.0f} / {ref_rate:,.0f} req/s = {floor_rate / ref_rate:.2f}×",
            "-",
            "-",
        ),
        (
            "cold (every lot, at start) throughput, p99",
            f"{cold.rate:,.0f} req/s, {cold.p99_ms:.1f} ms, {cold.timeouts} > 2 s",
            "-",
            "-",
        ),
        (
            f"{len(printed):,} labels printed, pages built ahead",
            f"{built:.0f} s, {len(printed) / built:,.0f} pages a second",
            "-",
            "-",
        ),
    ]
    width = max(len(line[0]) for line in lines)
    for name, value, goal, result in lines:
        print(f"  {name:<{width}}  {value:<40} {goal:<10} {result}")
    print(
        "\ncold: random lots out of all right after start: nearly every request builds its page (lineage,\n"
        "     provenance, claims, journey) — no goal, shown for what a first visit costs.\n"
        "every lot: random lots out of all, after every lot's label was printed and its page built\n"
        "     ahead; each comes from the page store, vouched for by the change watch (one poll of the\n"
        "     ledger and the claims every CHACRA_PUBLIC_REVALIDATE_SECONDS, whatever the number of pages).\n"
        f"fair: random lots out of a catalogue of {args.catalogue:,} of them, as at a fair.\n"
        "reference: a bare ASGI app under the same uvicorn answering every path with one real page.\n"
        "floor: a FastAPI app with one route returning those bytes, no middleware of ours — what any\n"
        "     service written with FastAPI can reach at best against the reference.\n"
        f"Load average at the end: {os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    main()
