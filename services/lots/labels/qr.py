"""The QR code of a lot's link, as a matrix, an SVG and a PNG — all made by the ``qrcode`` library.

Level Q (about 25 % of the symbol may be lost) because the code is printed on jute sacks that get
scuffed, folded and rained on between the collection centre and the port (issue 5). The quiet zone
of four modules that ISO/IEC 18004 asks for is part of every image: a label that crops it does not
scan next to other print.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Final, Literal

import qrcode
import qrcode.constants
import qrcode.image.pil
import qrcode.image.svg

ERROR_CORRECTION_LEVEL: Final = "Q"
QUIET_ZONE_MODULES: Final = 4
_ERROR_CORRECTION: Final = qrcode.constants.ERROR_CORRECT_Q

QrFormat = Literal["svg", "png"]
MEDIA_TYPES: Final[dict[QrFormat, str]] = {"svg": "image/svg+xml", "png": "image/png"}


@dataclass(frozen=True, slots=True)
class QrImage:
    content: bytes
    media_type: str
    etag: str


def _qr(link: str, *, box_size: int = 10) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, border=QUIET_ZONE_MODULES, box_size=box_size)
    code.add_data(link)
    code.make(fit=True)
    return code


def qr_matrix(link: str) -> list[list[bool]]:
    """Rows of modules, top first, quiet zone included; ``True`` is dark."""
    matrix: list[list[bool]] = _qr(link).get_matrix()
    return matrix


def qr_etag(link: str, fmt: QrFormat, size: int) -> str:
    """A strong validator: a lot's link never changes, so the image of (link, format, size) never does."""
    digest = hashlib.sha256(f"{link}\n{fmt}\n{size}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def qr_svg(link: str, *, module_tenths_mm: int = 10) -> QrImage:
    """SVG with a white background; the viewBox is in modules, width and height in millimetres."""
    # qrcode's SVG unit: a box_size of 10 is one millimetre per module.
    image = _qr(link, box_size=module_tenths_mm).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return QrImage(buffer.getvalue(), MEDIA_TYPES["svg"], qr_etag(link, "svg", module_tenths_mm))


def qr_png(link: str, *, module_px: int = 10) -> QrImage:
    """A 1-bit PNG, ``module_px`` pixels per module."""
    image = _qr(link, box_size=module_px).make_image(image_factory=qrcode.image.pil.PilImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return QrImage(buffer.getvalue(), MEDIA_TYPES["png"], qr_etag(link, "png", module_px))
