"""Reading printed QR codes back as a phone would: rasterise with real tools, decode with zxing-cpp.

SVG is rasterised by ``rsvg-convert`` (Debian ``librsvg2-bin``) and PDF by ``pdftoppm`` (Debian
``poppler-utils``): renderers nobody on this project wrote. ``scripts/test.sh`` installs both; a
test that finds one missing fails (it never skips), saying so.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

MM_PER_INCH = 25.4
TOOLS = {"rsvg-convert": "librsvg2-bin", "pdftoppm": "poppler-utils", "pdftotext": "poppler-utils"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} (Debian {TOOLS[name]}) is needed to rasterise what the service prints; "
            f"scripts/test.sh installs it (apt-get install {TOOLS[name]})",
            pytrace=False,
        )
    return path


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]


def decode_one(image: Image.Image) -> zxingcpp.Barcode:
    found = decode(image)
    assert len(found) == 1, f"expected one QR code, found {[b.text for b in found]}"
    return found[0]


def png_image(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content))


def rasterise_svg(svg: bytes, *, width_px: int) -> Image.Image:
    """The SVG as rsvg-convert draws it, ``width_px`` wide, with no background added."""
    result = subprocess.run(  # noqa: S603 - a Debian tool found on PATH, fixed arguments
        [tool("rsvg-convert"), "--width", str(width_px), "--format", "png"],
        input=svg,
        capture_output=True,
        check=True,
    )
    return png_image(result.stdout)


def rasterise_pdf(pdf: bytes, *, dpi: int) -> list[Image.Image]:
    """Every page of the PDF as pdftoppm draws it at ``dpi``, in order."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "sheet.pdf"
        source.write_bytes(pdf)
        subprocess.run(  # noqa: S603 - a Debian tool found on PATH, fixed arguments
            [tool("pdftoppm"), "-r", str(dpi), "-gray", "-png", str(source), str(Path(folder) / "page")],
            check=True,
            capture_output=True,
        )
        pages = sorted(Path(folder).glob("page*.png"))
        return [Image.open(p).copy() for p in pages]


def pdf_text(pdf: bytes) -> str:
    """The words of the PDF as pdftotext reads them, one space apart (a wrapped name reads whole)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "sheet.pdf"
        source.write_bytes(pdf)
        result = subprocess.run(  # noqa: S603 - a Debian tool found on PATH, fixed arguments
            [tool("pdftotext"), "-enc", "UTF-8", str(source), "-"], capture_output=True, check=True
        )
        return " ".join(result.stdout.decode().split())


def crop_mm(
    page: Image.Image, left: float, top: float, width: float, height: float, *, dpi: int
) -> Image.Image:
    px = dpi / MM_PER_INCH
    return page.crop(
        (round(left * px), round(top * px), round((left + width) * px), round((top + height) * px))
    )
