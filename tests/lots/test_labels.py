"""GET /api/v1/lots/labels.pdf: a sheet of labels, each a QR code that scans to exactly its lot's link.

Every label of a sheet is rasterised by pdftoppm and decoded with zxing-cpp, at the position the
grid puts it (computed here from the query, not from the service's code), so a label that lands
in the wrong cell, or a grid that ignores a margin, fails to decode where it should be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum import ean

from deploy.allinone import AllInOne
from tests.factories import Origin, create_origin, deliver
from tests.lots.calls import LOTS, HeadersFor, field_errors
from tests.lots.scan import crop_mm, decode, decode_one, pdf_text, rasterise_pdf

SHEET = f"{LOTS}/labels.pdf"
ORG = "Exportadora Andina SAC"
GS1_PREFIX = "7751234"
GTIN13 = GS1_PREFIX + "00001" + ean.calc_check_digit(GS1_PREFIX + "00001")
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Grid:
    """Where the grid of a query puts each label, from the query's own numbers (A4: 210 × 297 mm)."""

    columns: int = 3
    rows: int = 8
    margin_x: float = 0.0
    margin_y: float = 0.5
    gap_x: float = 0.0
    gap_y: float = 0.0
    skip: int = 0

    @property
    def width(self) -> float:
        return (210 - 2 * self.margin_x - (self.columns - 1) * self.gap_x) / self.columns

    @property
    def height(self) -> float:
        return (297 - 2 * self.margin_y - (self.rows - 1) * self.gap_y) / self.rows

    def cell(self, index: int) -> tuple[int, float, float]:
        page, slot = divmod(index + self.skip, self.columns * self.rows)
        row, column = divmod(slot, self.columns)
        return (
            page,
            self.margin_x + column * (self.width + self.gap_x),
            self.margin_y + row * (self.height + self.gap_y),
        )

    def params(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "margin_x_mm": self.margin_x,
            "margin_y_mm": self.margin_y,
            "gap_x_mm": self.gap_x,
            "gap_y_mm": self.gap_y,
            "skip": self.skip,
        }


@dataclass(frozen=True)
class Fair:
    """An exporter holding lots of two cooperatives, one of them with a GTIN (GS1 Digital Link)."""

    coop_a: Origin
    coop_b: Origin
    lots: list[dict[str, Any]]  # three of A's (short links), then two of B's (GTIN links)
    exporter: dict[str, str]


async def hand_over(api: httpx.AsyncClient, origin: Origin, lot_id: str, organization: str = ORG) -> None:
    body = {"type": "handover", "to_organization": organization}
    response = await api.post(f"{LOTS}/{lot_id}/events", json=body, headers=origin.headers)
    assert response.status_code == 201, response.text


@pytest.fixture
async def fair(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Fair:
    coop_a = await create_origin(api, admin_headers, headers_for)
    coop_b = await create_origin(
        api, admin_headers, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
    )
    lots = [await deliver(api, coop_a, kg) for kg in ("100", "250.5", "12")]
    lots += [await deliver(api, coop_b, kg) for kg in ("40", "60")]
    for lot in lots:
        await hand_over(api, coop_a if lot["cooperative_id"] == coop_a.cooperative_id else coop_b, lot["id"])
    return Fair(coop_a, coop_b, lots, headers_for("exporter", organization=ORG))


async def sheet(
    api: httpx.AsyncClient, headers: dict[str, str], lot_ids: list[str], **params: Any
) -> httpx.Response:
    return await api.get(SHEET, headers=headers, params={"ids": ",".join(lot_ids), **params})


def pdf_of(response: httpx.Response) -> bytes:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def label_image(pages: list[Image.Image], grid: Grid, index: int, dpi: int) -> Image.Image:
    page, left, top = grid.cell(index)
    return crop_mm(pages[page], left, top, grid.width, grid.height, dpi=dpi)


def assert_every_label_scans(
    pdf: bytes, grid: Grid, links: list[str], *, dpi: int = 200
) -> list[Image.Image]:
    pages = rasterise_pdf(pdf, dpi=dpi)
    assert len(pages) == -(-(len(links) + grid.skip) // (grid.columns * grid.rows))
    for index, link in enumerate(links):
        barcode = decode_one(label_image(pages, grid, index, dpi))
        assert (index, barcode.text) == (index, link)
        assert barcode.ec_level == "Q"
    return pages


async def test_every_label_on_every_page_decodes_to_exactly_its_lots_link(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    order = [fair.lots[i % 5]["id"] for i in (4, 0, 3, 1, 2)] * 5 + [fair.lots[0]["id"]]  # 26: two pages
    links = {lot["id"]: lot["digital_link"] for lot in fair.lots}

    pdf = pdf_of(await sheet(api, fair.exporter, order))

    grid = Grid()
    pages = assert_every_label_scans(pdf, grid, [links[i] for i in order])
    assert {links[i].split("/")[3] for i in order} == {"l", "01"}  # short links and GS1 Digital Links
    for empty in (26, 47):  # the rest of the second page is blank
        assert decode(label_image(pages, grid, empty, 200)) == []


@pytest.mark.parametrize(
    ("labels", "grid", "pages"),
    [
        (24, Grid(), 1),
        (25, Grid(), 2),
        (5, Grid(columns=2, rows=2, margin_x=10, margin_y=20, gap_x=5, gap_y=8), 2),
        (9, Grid(columns=2, rows=2), 3),
        (7, Grid(columns=3, rows=4, margin_x=4.5, margin_y=13, gap_x=2.5), 1),
        (5, Grid(skip=21), 2),
        (3, Grid(columns=2, rows=2, skip=1), 1),
    ],
    ids=[
        "24-on-3x8",
        "25-on-3x8",
        "5-on-2x2-margins",
        "9-on-2x2",
        "7-on-3x4-gaps",
        "5-after-21",
        "3-after-1",
    ],
)
async def test_the_pages_follow_the_grid_and_each_label_sits_in_its_cell(
    api: httpx.AsyncClient, fair: Fair, labels: int, grid: Grid, pages: int
) -> None:
    order = [fair.lots[i % 5]["id"] for i in range(labels)]
    links = {lot["id"]: lot["digital_link"] for lot in fair.lots}

    pdf = pdf_of(await sheet(api, fair.exporter, order, **grid.params()))

    assert len(rasterise_pdf(pdf, dpi=20)) == pages
    assert_every_label_scans(pdf, grid, [links[i] for i in order], dpi=150)


def symbol_geometry(image: Image.Image) -> tuple[tuple[int, int, int, int], float]:
    """The dark modules' box and the module size in pixels, read off the top-left finder pattern."""
    gray = image.convert("L")
    barcode = decode_one(gray)
    corners = [barcode.position.top_left, barcode.position.top_right]
    corners += [barcode.position.bottom_left, barcode.position.bottom_right]
    xs, ys = [p.x for p in corners], [p.y for p in corners]
    around = (min(xs) - 4, min(ys) - 4, max(xs) + 4, max(ys) + 4)
    dark = gray.crop(around).point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = dark.getbbox() or (0, 0, 0, 0)
    box = (left + around[0], top + around[1], right + around[0], bottom + around[1])
    run = 0
    while gray.getpixel((box[0] + run, box[1] + 1)) < 128:  # type: ignore[operator]
        run += 1
    return box, run / 7  # a finder pattern is 7 modules wide


async def test_a_label_printed_with_a_2cm_qr_at_300_dpi_decodes_with_its_quiet_zone(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    # 4 × 12 labels of 52.5 × 23 mm: the QR square (quiet zone included) is 20 mm wide.
    grid = Grid(columns=4, rows=12, margin_y=10.5)
    order = [lot["id"] for lot in fair.lots]

    pdf = pdf_of(await sheet(api, fair.exporter, order, **grid.params()))

    pages = assert_every_label_scans(pdf, grid, [lot["digital_link"] for lot in fair.lots], dpi=300)
    for index in range(len(order)):
        image = label_image(pages, grid, index, 300).convert("L")
        (left, top, right, bottom), module = symbol_geometry(image)
        modules = round((right - left) / module)
        assert (modules - 17) % 4 == 0, modules  # 4·version + 17
        printed_mm = (modules + 8) * module / 300 * MM_PER_INCH
        assert printed_mm == pytest.approx(20, abs=0.4)
        zone = round(4 * module) - 1
        quiet = image.crop((left - zone, top - zone, right + zone, bottom + zone))
        ring = [
            quiet.crop(b)
            for b in (
                (0, 0, quiet.width, zone),
                (0, quiet.height - zone, quiet.width, quiet.height),
                (0, 0, zone, quiet.height),
                (quiet.width - zone, 0, quiet.width, quiet.height),
            )
        ]
        assert all(part.getextrema()[0] > 160 for part in ring), "something printed in the quiet zone"


async def test_a_label_reads_code_product_form_kilograms_cooperative_and_harvest(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    lot = fair.lots[1]

    text = pdf_text(pdf_of(await sheet(api, fair.exporter, [lot["id"]])))

    assert lot["code"] in text
    assert "Cacao en baba" in text
    assert "250.5 kg restantes" in text
    assert fair.coop_a.cooperative["name"] in text
    assert "Cosecha: 2026-10-01" in text


async def test_a_long_cooperative_name_is_printed_whole_with_its_accents(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    name = "Cooperativa Agraria Cacaotera Acopagro de Juanjuí Ltda."
    origin = await create_origin(api, admin_headers, headers_for, name=name)
    lot = await deliver(api, origin, "100")

    pdf = pdf_of(await sheet(api, origin.headers, [lot["id"]]))

    assert name in pdf_text(pdf)
    assert_every_label_scans(pdf, Grid(), [lot["digital_link"]])


async def test_a_merged_lot_shows_the_harvest_period_of_its_deliveries_as_provenance_does(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    early = await deliver(api, origin, "30", harvested_on="2026-08-14")
    late = await deliver(api, origin, "50", harvested_on="2026-10-02")
    body = {
        "inputs": [{"lot_id": early["id"], "quantity_kg": "30"}, {"lot_id": late["id"], "quantity_kg": "20"}]
    }
    merged = (await api.post(f"{LOTS}/merge", json=body, headers=origin.headers)).json()
    provenance = (await api.get(f"{LOTS}/{merged['id']}/provenance", headers=origin.headers)).json()

    text = pdf_text(pdf_of(await sheet(api, origin.headers, [merged["id"], late["id"]])))

    assert provenance["harvested_from"] == "2026-08-14" and provenance["harvested_to"] == "2026-10-02"
    assert "Cosecha: 2026-08-14 – 2026-10-02" in text
    assert "Cosecha: 2026-10-02" in text.replace("Cosecha: 2026-08-14 – 2026-10-02", "")


async def test_kg_says_remaining_by_default_and_the_lots_weight_on_request(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    split = await api.post(
        f"{LOTS}/{lot['id']}/split", json={"outputs": [{"quantity_kg": "30"}]}, headers=origin.headers
    )
    assert split.status_code == 201, split.text

    remaining = pdf_text(pdf_of(await sheet(api, origin.headers, [lot["id"]])))
    quantity = pdf_text(pdf_of(await sheet(api, origin.headers, [lot["id"]], kg="quantity")))

    assert "70 kg restantes" in remaining and "100 kg" not in remaining
    assert "100 kg del lote" in quantity and "70 kg" not in quantity


async def test_a_container_of_several_cooperatives_says_so(api: httpx.AsyncClient, fair: Fair) -> None:
    body = {
        "inputs": [
            {"lot_id": fair.lots[0]["id"], "quantity_kg": "10"},
            {"lot_id": fair.lots[3]["id"], "quantity_kg": "10"},
        ]
    }
    container = await api.post(f"{LOTS}/merge", json=body, headers=fair.exporter)
    assert container.status_code == 201, container.text

    pdf = pdf_of(await sheet(api, fair.exporter, [container.json()["id"]]))

    assert "Varias cooperativas" in pdf_text(pdf)
    assert_every_label_scans(pdf, Grid(), [container.json()["digital_link"]])


# --- who may print what -------------------------------------------------------------------------


async def test_manager_of_another_cooperative_gets_404_naming_the_ids(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    ids = [fair.lots[0]["id"], fair.lots[1]["id"]]

    response = await sheet(api, fair.coop_b.headers, ids)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"
    assert response.json()["lot_ids"] == ids


async def test_only_the_ids_the_caller_cannot_see_are_named_unknown_or_not(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    own, foreign = fair.lots[3]["id"], fair.lots[0]["id"]

    response = await sheet(api, fair.coop_b.headers, [own, foreign, "lot_doesnotexist", own, foreign])

    assert response.status_code == 404, response.text
    assert response.json()["lot_ids"] == [foreign, "lot_doesnotexist"]
    assert "lot_doesnotexist" in response.json()["detail"]


async def test_the_manager_prints_their_own_lots_after_handing_them_over_and_another_exporter_cannot(
    api: httpx.AsyncClient, headers_for: HeadersFor, fair: Fair
) -> None:
    ids = [fair.lots[3]["id"], fair.lots[4]["id"]]

    own = await sheet(api, fair.coop_b.headers, ids)
    other = await sheet(api, headers_for("exporter", organization="Exportadora del Norte SAC"), ids)
    anonymous = await sheet(api, {}, ids)

    assert_every_label_scans(
        pdf_of(own), Grid(), [fair.lots[3]["digital_link"], fair.lots[4]["digital_link"]]
    )
    assert other.status_code == 404 and other.json()["lot_ids"] == ids
    assert anonymous.status_code == 401


async def test_lots_may_be_named_by_the_code_on_the_sack_in_any_case(
    api: httpx.AsyncClient, fair: Fair
) -> None:
    a, b = fair.lots[0], fair.lots[3]
    typed = f"{a['code'][:4].lower()}-{a['code'][4:].lower()}"

    pdf = pdf_of(await sheet(api, fair.exporter, [typed, b["id"], b["code"]]))

    assert_every_label_scans(pdf, Grid(), [a["digital_link"], b["digital_link"], b["digital_link"]])


async def test_a_code_the_caller_cannot_see_is_named_as_given(api: httpx.AsyncClient, fair: Fair) -> None:
    foreign = fair.lots[0]["code"]

    response = await sheet(api, fair.coop_b.headers, [fair.lots[3]["code"], foreign, "ACEFGHJKM"])

    assert response.status_code == 404, response.text
    assert response.json()["lot_ids"] == [foreign, "ACEFGHJKM"]


async def test_more_than_500_labels_is_422_naming_ids(api: httpx.AsyncClient, fair: Fair) -> None:
    response = await sheet(api, fair.exporter, [fair.lots[0]["id"]] * 501)

    assert response.status_code == 422, response.text
    assert field_errors(response) == {("ids", "too_many_labels")}


@pytest.mark.parametrize("ids", ["", " , ,"])
async def test_no_ids_is_422(api: httpx.AsyncClient, fair: Fair, ids: str) -> None:
    response = await api.get(SHEET, headers=fair.exporter, params={"ids": ids})

    assert response.status_code == 422, response.text
    assert field_errors(response) == {("ids", "ids_missing")}


async def test_a_missing_ids_parameter_is_422(api: httpx.AsyncClient, fair: Fair) -> None:
    response = await api.get(SHEET, headers=fair.exporter)

    assert response.status_code == 422, response.text
    assert {field for field, _ in field_errors(response)} == {"ids"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"columns": 0}, "columns"),
        ({"columns": 9}, "columns"),
        ({"rows": 21}, "rows"),
        ({"margin_x_mm": -1}, "margin_x_mm"),
        ({"gap_y_mm": 25}, "gap_y_mm"),
        ({"kg": "net"}, "kg"),
    ],
)
async def test_a_grid_parameter_out_of_bounds_is_422_naming_it(
    api: httpx.AsyncClient, fair: Fair, params: dict[str, Any], field: str
) -> None:
    response = await sheet(api, fair.exporter, [fair.lots[0]["id"]], **params)

    assert response.status_code == 422, response.text
    assert {f for f, _ in field_errors(response)} == {field}


async def test_the_skipped_positions_of_a_used_sheet_stay_blank(api: httpx.AsyncClient, fair: Fair) -> None:
    grid = Grid(skip=4)

    pdf = pdf_of(await sheet(api, fair.exporter, [fair.lots[0]["id"]], **grid.params()))

    pages = assert_every_label_scans(pdf, grid, [fair.lots[0]["digital_link"]])
    for used in range(4):
        assert decode(crop_mm(pages[0], *Grid().cell(used)[1:], grid.width, grid.height, dpi=200)) == []


@pytest.mark.parametrize(("skip", "code"), [(24, "skip_beyond_sheet"), (160, "less_than_equal")])
async def test_skipping_a_whole_sheet_is_422(
    api: httpx.AsyncClient, fair: Fair, skip: int, code: str
) -> None:
    response = await sheet(api, fair.exporter, [fair.lots[0]["id"]], skip=skip)

    assert response.status_code == 422, response.text
    assert field_errors(response) == {("skip", code)}


async def test_a_grid_too_fine_to_scan_is_422(api: httpx.AsyncClient, fair: Fair) -> None:
    response = await sheet(api, fair.exporter, [fair.lots[0]["id"]], columns=8, rows=20)

    assert response.status_code == 422, response.text
    assert field_errors(response) == {("rows", "label_too_small")}


# --- batched reads ------------------------------------------------------------------------------


async def test_reads_are_batched_whatever_the_number_of_lots(
    api: httpx.AsyncClient,
    platform: AllInOne,
    lots_engine: AsyncEngine,
    fair: Fair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = platform.apps["lots"].state.cooperatives
    asked: list[str] = []
    original = registry.get_cooperative

    async def counted(cooperative_id: str) -> Any:
        asked.append(cooperative_id)
        return await original(cooperative_id)

    monkeypatch.setattr(registry, "get_cooperative", counted)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def measured(ids: list[str]) -> tuple[int, list[str]]:
        statements.clear()
        asked.clear()
        event.listen(lots_engine.sync_engine, "before_cursor_execute", count)
        try:
            pdf_of(await sheet(api, fair.exporter, ids))
        finally:
            event.remove(lots_engine.sync_engine, "before_cursor_execute", count)
        return len(statements), sorted(asked)

    few = await measured([fair.lots[0]["id"], fair.lots[3]["id"]])
    many = await measured([lot["id"] for lot in fair.lots] * 3)

    coops = sorted([fair.coop_a.cooperative_id, fair.coop_b.cooperative_id])
    assert few == (few[0], coops)
    assert many == (few[0], coops)
