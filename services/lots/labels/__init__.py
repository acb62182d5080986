"""QR codes of lots' links and printable label sheets (issue 5; API.md: QR codes and the public side)."""

from services.lots.labels.qr import (
    ERROR_CORRECTION_LEVEL,
    QUIET_ZONE_MODULES,
    QrImage,
    qr_etag,
    qr_matrix,
    qr_png,
    qr_svg,
)
from services.lots.labels.sheet import Label, SheetLayout, render_sheet

__all__ = [
    "ERROR_CORRECTION_LEVEL",
    "QUIET_ZONE_MODULES",
    "Label",
    "QrImage",
    "SheetLayout",
    "qr_etag",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "render_sheet",
]
