"""GET /api/v1/lots/{id}/qr.svg and qr.png: the QR code of exactly the lot's link (issue 5).

Every code is rasterised by a real renderer (rsvg-convert for SVG; the PNG as served) and decoded
with zxing-cpp, which also reports the error-correction level.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from PIL import Image
from stdnum import ean

from tests.factories import Origin, create_origin, deliver
from tests.lots.calls import LOTS, HeadersFor, field_errors
from tests.lots.scan import decode_one, png_image, rasterise_svg

GS1_PREFIX = "7751234"
GTIN13 = GS1_PREFIX + "00001" + ean.calc_check_digit(GS1_PREFIX + "00001")
QUIET_ZONE = 4


def qr_url(lot_id: str, fmt: str) -> str:
    return f"{LOTS}/{lot_id}/qr.{fmt}"


def assert_quiet_zone(image: Image.Image, module_px: float) -> None:
    """Four modules of light all round the dark modules, and the dark modules reach that border."""
    gray = image.convert("RGBA")
    background = Image.new("RGBA", gray.size, (255, 0, 0, 255))  # transparency would show as red
    flat = Image.alpha_composite(background, gray).convert("L")
    dark = flat.point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = dark.getbbox() or (0, 0, 0, 0)
    width, height = flat.size
    zone = QUIET_ZONE * module_px
    for edge in (left, top, width - right, height - bottom):
        assert abs(edge - zone) <= module_px / 2, (edge, zone)
    assert flat.crop((0, 0, width, round(zone) - 1)).getextrema()[0] > 200  # light, not transparent


@pytest.fixture
async def gs1_lot(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Any:
    origin = await create_origin(
        api, admin_headers, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
    )
    return await deliver(api, origin, "80"), origin


async def test_svg_decodes_to_exactly_the_lots_short_link_at_level_q(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await api.get(qr_url(lot["id"], "svg"), headers=origin.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    barcode = decode_one(rasterise_svg(response.content, width_px=600))
    assert barcode.text == lot["digital_link"]
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/l/[A-Z0-9]{9}", barcode.text)
    assert barcode.ec_level == "Q"


async def test_svg_of_a_lot_with_a_gtin_decodes_to_its_gs1_digital_link(
    api: httpx.AsyncClient, gs1_lot: tuple[dict[str, Any], Origin]
) -> None:
    lot, origin = gs1_lot

    response = await api.get(qr_url(lot["id"], "svg"), headers=origin.headers)

    barcode = decode_one(rasterise_svg(response.content, width_px=600))
    assert barcode.text == lot["digital_link"] == f"http://127.0.0.1:8000/01/0{GTIN13}/10/{lot['code']}"
    assert barcode.ec_level == "Q"


async def test_svg_keeps_a_light_quiet_zone_of_four_modules(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await api.get(qr_url(lot["id"], "svg"), headers=origin.headers)
    modules = int(re.search(rb'viewBox="0 0 (\d+) \1"', response.content).group(1))  # type: ignore[union-attr]

    assert_quiet_zone(rasterise_svg(response.content, width_px=modules * 10), 10)


async def test_svg_size_sets_the_printed_module_size_in_tenths_of_a_millimetre(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    default = (await api.get(qr_url(lot["id"], "svg"), headers=origin.headers)).content
    half = (await api.get(qr_url(lot["id"], "svg"), headers=origin.headers, params={"size": 5})).content

    modules = int(re.search(rb'width="(\d+)mm" height="\1mm"', default).group(1))  # type: ignore[union-attr]
    assert (modules - 2 * QUIET_ZONE - 17) % 4 == 0  # 1 mm a module: 4·version + 17, plus the quiet zone
    assert f'width="{modules * 0.5:g}mm" height="{modules * 0.5:g}mm"'.encode() in half
    assert decode_one(rasterise_svg(half, width_px=600)).text == lot["digital_link"]


async def test_png_decodes_to_exactly_the_lots_link_at_level_q(
    api: httpx.AsyncClient, gs1_lot: tuple[dict[str, Any], Origin]
) -> None:
    lot, origin = gs1_lot

    response = await api.get(qr_url(lot["id"], "png"), headers=origin.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    barcode = decode_one(png_image(response.content))
    assert barcode.text == lot["digital_link"]
    assert barcode.ec_level == "Q"


async def test_png_size_is_pixels_per_module_and_keeps_the_quiet_zone(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    default = png_image((await api.get(qr_url(lot["id"], "png"), headers=origin.headers)).content)
    small = png_image(
        (await api.get(qr_url(lot["id"], "png"), headers=origin.headers, params={"size": 4})).content
    )

    assert default.size[0] % 10 == 0 and small.size == (default.size[0] * 4 // 10,) * 2
    modules = small.size[0] // 4
    assert (modules - 2 * QUIET_ZONE - 17) % 4 == 0  # 4·version + 17 modules, plus the quiet zone
    assert_quiet_zone(default, 10)
    assert_quiet_zone(small, 4)
    assert decode_one(small).text == lot["digital_link"]


@pytest.mark.parametrize("fmt", ["svg", "png"])
@pytest.mark.parametrize("size", ["1", "41", "big"])
async def test_a_size_outside_the_bounds_is_422_naming_size(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any], fmt: str, size: str
) -> None:
    response = await api.get(qr_url(lot["id"], fmt), headers=origin.headers, params={"size": size})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {field for field, _ in field_errors(response)} == {"size"}


@pytest.mark.parametrize("fmt", ["svg", "png"])
async def test_qr_is_cached_by_an_etag_that_answers_304(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any], fmt: str
) -> None:
    first = await api.get(qr_url(lot["id"], fmt), headers=origin.headers)
    etag = first.headers["etag"]

    again = await api.get(qr_url(lot["id"], fmt), headers={**origin.headers, "If-None-Match": etag})
    other_size = await api.get(qr_url(lot["id"], fmt), headers=origin.headers, params={"size": 12})

    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert "max-age" in first.headers["cache-control"]
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert other_size.headers["etag"] != etag


async def test_svg_and_png_and_other_lots_have_different_etags(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    other = await deliver(api, origin, "5")
    etags = {
        (await api.get(qr_url(lot_id, fmt), headers=origin.headers)).headers["etag"]
        for lot_id in (lot["id"], other["id"])
        for fmt in ("svg", "png")
    }

    assert len(etags) == 4


async def test_a_stale_etag_gets_the_image(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await api.get(qr_url(lot["id"], "png"), headers={**origin.headers, "If-None-Match": '"0"'})

    assert response.status_code == 200
    assert decode_one(png_image(response.content)).text == lot["digital_link"]


@pytest.mark.parametrize("fmt", ["svg", "png"])
async def test_manager_of_another_cooperative_gets_404_even_with_a_valid_etag(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
    origin: Origin,
    lot: dict[str, Any],
    fmt: str,
) -> None:
    etag = (await api.get(qr_url(lot["id"], fmt), headers=origin.headers)).headers["etag"]
    stranger = await create_origin(api, admin_headers, headers_for)

    response = await api.get(qr_url(lot["id"], fmt), headers={**stranger.headers, "If-None-Match": etag})

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"


@pytest.mark.parametrize("fmt", ["svg", "png"])
async def test_unknown_lot_is_404_and_no_token_is_401(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any], fmt: str
) -> None:
    unknown = await api.get(qr_url("lot_doesnotexist", fmt), headers=origin.headers)
    anonymous = await api.get(qr_url(lot["id"], fmt))

    assert unknown.status_code == 404 and unknown.json()["code"] == "lot_not_found"
    assert anonymous.status_code == 401


@pytest.mark.parametrize("fmt", ["svg", "png"])
async def test_the_exporter_it_was_handed_to_gets_the_code_and_another_does_not(
    api: httpx.AsyncClient, headers_for: HeadersFor, origin: Origin, lot: dict[str, Any], fmt: str
) -> None:
    handover = {"type": "handover", "to_organization": "Exportadora Andina SAC"}
    assert (
        await api.post(f"{LOTS}/{lot['id']}/events", json=handover, headers=origin.headers)
    ).status_code == 201
    holder = headers_for("exporter", organization="Exportadora Andina SAC")
    other = headers_for("exporter", organization="Exportadora del Norte SAC")

    assert (await api.get(qr_url(lot["id"], fmt), headers=holder)).status_code == 200
    assert (await api.get(qr_url(lot["id"], fmt), headers=other)).status_code == 404
