"""A sheet of 500 labels against the 500 bare QR images it carries (issue 5: goal ≤ 1.1×).

    .venv/bin/python -m bench.labels [--n 500] [--runs 5] [--backend sqlite|postgresql|both|none] [--quick]

The reference, measured in the same run and interleaved with it, is what any label sheet must pay
at least: the N QR images alone, each made by ``qrcode`` at the same level (Q) and quiet zone (4)
and saved as a PNG — ``qrcode.QRCode(...).make_image().save()``, the library's ordinary way to get
one image of one code.

Measured against it, in turns, round after round (medians of the rounds):

- ``render_sheet``: services/lots/labels/sheet.py turning N labels into the A4 PDF (3 × 8 grid),
  the QR codes drawn as vectors from qrcode's matrix, with all the text of each label;
- ``GET /lots/labels.pdf``: the whole request through the all-in-one app (httpx + ASGITransport)
  on a fresh database of the engine under test, for N lots delivered through the API first:
  token check, the lots in one query, the harvest periods in one recursive query, one registry
  call for the cooperative, the rendering (in a worker thread) and the response.

Half the links are GS1 Digital Links (``/01/{gtin14}/10/{code}``), half short links (``/l/{code}``),
as a sheet for a fair mixes cooperatives with and without a GS1 company prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import qrcode
import qrcode.constants
import qrcode.image.pil

from bench.deliveries import platform, print_table
from services.lots.codes import digital_link, new_lot_code
from services.lots.labels import Label, SheetLayout, render_sheet

GOAL = 1.1
BASE_URL = "https://chacra.example.pe"
GTIN14 = "07751234000011"


def sample_links(n: int) -> list[str]:
    return [digital_link(BASE_URL, new_lot_code(), GTIN14 if i % 2 else None) for i in range(n)]


def bare_images(links: list[str]) -> int:
    """The reference: one PNG per link, straight from qrcode at level Q with the 4-module quiet zone."""
    size = 0
    for link in links:
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4)
        code.add_data(link)
        code.make(fit=True)
        buffer = io.BytesIO()
        code.make_image(image_factory=qrcode.image.pil.PilImage).save(buffer)
        size += buffer.tell()
    return size


def sheet(links: list[str]) -> int:
    labels = [
        Label(
            link=link,
            code=link.rsplit("/", 1)[1],
            product="cacao",
            form="dry",
            kilograms=Decimal("69.500"),
            kilograms_kind="remaining",
            cooperative="Cooperativa Agraria Cacaotera Acopagro",
            harvested_from=date(2026, 8, 14),
            harvested_to=date(2026, 10, 2),
        )
        for link in links
    ]
    return len(render_sheet(labels, SheetLayout()))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


async def timed_async(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    await work()  # type: ignore[misc]
    return time.perf_counter() - start


async def endpoint_rounds(
    backend: str, n: int, runs: int, workdir: Path, pg: tuple[str, int, str]
) -> tuple[list[float], list[float], int]:
    """(sheet seconds, reference seconds) per round through the all-in-one app, and the PDF's size."""
    async with platform(backend, workdir, pg) as setup:
        ids = []
        for _ in range(n):
            response = await setup.api.post("/api/v1/lots", json=setup.bodies(), headers=setup.headers)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        links = [digital_link("http://127.0.0.1:8000", new_lot_code(), None) for _ in range(n)]
        size = 0

        async def fetch() -> None:
            nonlocal size
            response = await setup.api.get(
                "/api/v1/lots/labels.pdf", params={"ids": ",".join(ids)}, headers=setup.headers
            )
            assert response.status_code == 200, response.text
            size = len(response.content)

        await fetch()  # warm-up
        sheets, references = [], []
        for _ in range(runs):
            references.append(timed(lambda: bare_images(links)))
            sheets.append(await timed_async(fetch))
        return sheets, references, size


def row(name: str, measured: list[float], reference: list[float], n: int, size: int) -> list[str]:
    median, ref = statistics.median(measured), statistics.median(reference)
    ratio = median / ref
    return [
        name,
        f"{n:,}",
        f"{median:.2f}",
        f"{min(measured):.2f}",
        f"{ref:.2f}",
        f"{median / n * 1000:.1f}",
        f"{ref / n * 1000:.1f}",
        f"{size / 1024:,.0f}",
        f"{ratio:.2f}×",
        f"≤ {GOAL}×",
        "PASS" if ratio <= GOAL else "MISS",
    ]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.labels", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="labels on the sheet")
    parser.add_argument("--runs", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both", "none"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="100 labels, 3 rounds, no endpoint: a smoke run")
    parser.add_argument("--pg-host", default=os.environ.get("CHACRA_TEST_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("CHACRA_TEST_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("CHACRA_TEST_PG_USER", "postgres"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.runs, args.backend = 100, 3, "none"
    backends = {"both": ["sqlite", "postgresql"], "none": []}.get(args.backend, [args.backend])
    print(
        f"{args.n:,} labels, {args.runs} rounds; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs.",
        flush=True,
    )
    links = sample_links(args.n)
    bare_images(links[:5]), sheet(links[:5])  # warm-up: imports, fonts, first-call costs
    sheets, references, size = [], [], 0
    for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits both
        references.append(timed(lambda: bare_images(links)))
        sheets.append(timed(lambda: sheet(links)))
        print(f"  bare images {references[-1]:.2f} s, render_sheet {sheets[-1]:.2f} s", flush=True)
    size = sheet(links)
    lines = [row("render_sheet", sheets, references, args.n, size)]
    with tempfile.TemporaryDirectory(prefix="chacra-bench-") as tmp:
        for backend in backends:
            measured, reference, pdf_size = await endpoint_rounds(
                backend, args.n, args.runs, Path(tmp), (args.pg_host, args.pg_port, args.pg_user)
            )
            print(f"  {backend}: GET labels.pdf {[f'{s:.2f}' for s in measured]} s", flush=True)
            lines.append(row(f"GET labels.pdf ({backend})", measured, reference, args.n, pdf_size))
    print(f"\nA sheet of {args.n:,} labels (A4, 3 × 8) against {args.n:,} bare QR images, level Q\n")
    print_table(
        [
            "what",
            "labels",
            "median s",
            "best s",
            "bare images s",
            "ms/label",
            "ms/image",
            "PDF KiB",
            "ratio",
            "goal",
            "verdict",
        ],
        lines,
    )
    print(
        "\nbare images: qrcode.QRCode(error_correction=Q, border=4) → make(fit=True) → make_image() →\n"
        "     PNG, once per link, in the same rounds (medians); the rows' ratio is median ÷ its median.\n"
        "render_sheet: the PDF from N label records (vector QR codes from the same qrcode matrices,\n"
        "     code, product and form, kg, cooperative, harvest period).\n"
        "GET labels.pdf: the whole request in the all-in-one app for N delivered lots, including\n"
        "     the batched reads and the registry call."
    )
    print(f"Load average at the end: {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    asyncio.run(main())
