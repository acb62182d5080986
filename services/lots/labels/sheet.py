"""Sheets of sticker labels for many lots at once, as one PDF (ReportLab).

A4 in a grid of equal labels; the default, 3 columns × 8 rows of 70 × 37 mm with 0.5 mm top and
bottom margins, is the common A4 sticker sheet (Avery 3474, Herma 4453, APLI 1276…). Each label
carries the lot's QR code on its left — vector, drawn from ``qrcode``'s matrix at level Q, quiet
zone included in the square — and beside it the lot code in large type, product and form, the
kilograms, the cooperative and the harvest period.

The QR modules of a label are one filled path of horizontal runs in module coordinates (one
``cm`` transform scales them), so a label costs a few hundred short operators: the sheet takes
about as long as the bare QR images would (bench/labels.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from services.lots.labels.qr import qr_matrix

POINTS_PER_MM: Final = 72 / 25.4
PAGE_WIDTH_MM: Final = 210.0
PAGE_HEIGHT_MM: Final = 297.0
PADDING_MM: Final = 1.5
# Text keeps clear of the label's right edge: on a sheet without side margins that edge is the
# paper's, where most office printers cannot print (the QR's own quiet zone is white anyway).
TEXT_INSET_MM: Final = 3.0
# Below this a phone camera at arm's length struggles with a ~45-character link at level Q.
MIN_QR_MM: Final = 12.0
BOLD: Final = "Helvetica-Bold"
REGULAR: Final = "Helvetica"
CODE_MAX_PT: Final = 16.0
SMALLEST_PT: Final = 4.5

KilogramsKind = Literal["remaining", "quantity"]

PRODUCT_ES: Final = {"cacao": "Cacao", "coffee": "Café"}
FORM_ES: Final = {
    "baba": "en baba",
    "fermented": "fermentado",
    "dry": "seco",
    "cherry": "cereza",
    "parchment": "pergamino",
    "green": "verde",
}
KILOGRAMS_ES: Final[dict[KilogramsKind, str]] = {"remaining": "restantes", "quantity": "del lote"}


@dataclass(frozen=True, slots=True)
class Label:
    """What one sticker says about one lot."""

    link: str
    code: str
    product: str
    form: str
    kilograms: Decimal
    kilograms_kind: KilogramsKind
    cooperative: str
    harvested_from: date | None
    harvested_to: date | None


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """The grid of labels on an A4 page, in millimetres."""

    columns: int = 3
    rows: int = 8
    margin_x_mm: float = 0.0
    margin_y_mm: float = 0.5
    gap_x_mm: float = 0.0
    gap_y_mm: float = 0.0
    # Positions already used on the first sheet: a half-used sticker sheet goes back in the printer.
    skip: int = 0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def label_width_mm(self) -> float:
        return (PAGE_WIDTH_MM - 2 * self.margin_x_mm - (self.columns - 1) * self.gap_x_mm) / self.columns

    @property
    def label_height_mm(self) -> float:
        return (PAGE_HEIGHT_MM - 2 * self.margin_y_mm - (self.rows - 1) * self.gap_y_mm) / self.rows

    @property
    def qr_side_mm(self) -> float:
        """The QR square, quiet zone included: the label's height, at most half its width."""
        return min(self.label_height_mm - 2 * PADDING_MM, self.label_width_mm / 2)

    def pages(self, labels: int) -> int:
        return -(-(labels + self.skip) // self.per_page)

    def label_origin_mm(self, index: int) -> tuple[int, float, float]:
        """(page, left, top) of the ``index``-th label, from the page's top-left corner."""
        page, slot = divmod(index + self.skip, self.per_page)
        row, column = divmod(slot, self.columns)
        left = self.margin_x_mm + column * (self.label_width_mm + self.gap_x_mm)
        top = self.margin_y_mm + row * (self.label_height_mm + self.gap_y_mm)
        return page, left, top

    def qr_box_mm(self, index: int) -> tuple[int, float, float, float]:
        """(page, left, top, side) of the ``index``-th label's QR square, quiet zone included."""
        page, left, top = self.label_origin_mm(index)
        side = self.qr_side_mm
        return page, left + PADDING_MM, top + (self.label_height_mm - side) / 2, side

    def problem(self) -> tuple[str, str, str] | None:
        """Why this grid cannot carry scannable labels, as (field, code, detail), or None."""
        if self.label_width_mm <= 0 or self.label_height_mm <= 0:
            return "rows", "label_too_small", "The margins and gaps leave no room for the labels."
        if self.qr_side_mm < MIN_QR_MM:
            return (
                "rows",
                "label_too_small",
                f"A {self.columns}×{self.rows} grid leaves {self.qr_side_mm:.1f} mm for each QR code; "
                f"at least {MIN_QR_MM:g} mm is needed to scan it.",
            )
        if self.skip >= self.per_page:
            return (
                "skip",
                "skip_beyond_sheet",
                f"A {self.columns}×{self.rows} sheet has {self.per_page} positions; skip at most "
                f"{self.per_page - 1}.",
            )
        return None


def _kg(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _harvest(first: date | None, last: date | None) -> str:
    if first is None or last is None:
        return "Cosecha: —"
    if first == last:
        return f"Cosecha: {first.isoformat()}"
    return f"Cosecha: {first.isoformat()} – {last.isoformat()}"


def _fitted(text: str, font: str, size: float, width: float) -> tuple[str, float]:
    """The text shrunk (down to ``SMALLEST_PT``), then cut with an ellipsis, to fit ``width`` points."""
    while size > SMALLEST_PT and stringWidth(text, font, size) > width:
        size -= 0.5
    if stringWidth(text, font, size) <= width:
        return text, size
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…", size


def _wrapped(text: str, font: str, size: float, width: float) -> list[tuple[str, float]]:
    """A long name (a cooperative's legal name) on up to two lines rather than in unreadable type."""
    if stringWidth(text, font, size) <= width or " " not in text:
        return [_fitted(text, font, size, width)]
    size *= 0.85
    words = text.split()
    first = words.pop(0)
    while words and stringWidth(f"{first} {words[0]}", font, size) <= width:
        first = f"{first} {words.pop(0)}"
    lines = [_fitted(first, font, size, width)]
    if words:
        lines.append(_fitted(" ".join(words), font, size, width))
    return lines


def _qr_operators(matrix: Sequence[Sequence[bool]], x: float, y_top: float, side: float) -> str:
    """PDF operators filling the dark modules, in module units under one transform (y grows down)."""
    module = side / len(matrix)
    runs: list[str] = []
    for r, row in enumerate(matrix):
        start = -1
        for c, dark in enumerate(row):
            if dark and start < 0:
                start = c
            elif not dark and start >= 0:
                runs.append(f"{start} {r} {c - start} 1 re")
                start = -1
        if start >= 0:
            runs.append(f"{start} {r} {len(row) - start} 1 re")
    # One path filled once: adjacent runs have no hairline seams between them when rasterised.
    return f"q 0 g {module:.5f} 0 0 {-module:.5f} {x:.4f} {y_top:.4f} cm {' '.join(runs)} f Q"


def _draw_label(canvas: Canvas, layout: SheetLayout, label: Label, index: int) -> None:
    _, left_mm, top_mm = layout.label_origin_mm(index)
    _, qr_left_mm, qr_top_mm, side_mm = layout.qr_box_mm(index)
    page_height = PAGE_HEIGHT_MM * POINTS_PER_MM
    canvas.addLiteral(
        _qr_operators(
            qr_matrix(label.link),
            qr_left_mm * POINTS_PER_MM,
            page_height - qr_top_mm * POINTS_PER_MM,
            side_mm * POINTS_PER_MM,
        )
    )
    text_left = (qr_left_mm + side_mm) * POINTS_PER_MM
    width = (left_mm + layout.label_width_mm - TEXT_INSET_MM) * POINTS_PER_MM - text_left
    # Type scales with the label's height (a 37 mm label gets the full sizes), then shrinks to fit.
    scale = max(0.6, min(1.0, layout.label_height_mm / 37.0))
    product = f"{PRODUCT_ES.get(label.product, label.product)} {FORM_ES.get(label.form, label.form)}"
    kilograms = f"{_kg(label.kilograms)} kg {KILOGRAMS_ES[label.kilograms_kind]}"
    harvest = _harvest(label.harvested_from, label.harvested_to)
    fitted = [
        (*_fitted(label.code, BOLD, CODE_MAX_PT * scale, width), BOLD),
        (*_fitted(product, BOLD, 8.0 * scale, width), BOLD),
        (*_fitted(kilograms, REGULAR, 8.0 * scale, width), REGULAR),
        *((text, size, REGULAR) for text, size in _wrapped(label.cooperative, REGULAR, 7.0 * scale, width)),
        (*_fitted(harvest, REGULAR, 6.5 * scale, width), REGULAR),
    ]
    block = sum(size * 1.25 for _, size, _ in fitted)
    y = page_height - (top_mm + layout.label_height_mm / 2) * POINTS_PER_MM + block / 2
    for text, size, font in fitted:
        y -= size * 1.25
        canvas.setFont(font, size)
        canvas.drawString(text_left, y + size * 0.25, text)


def render_sheet(labels: Sequence[Label], layout: SheetLayout, *, title: str = "Etiquetas de lotes") -> bytes:
    """The PDF: labels in reading order, a new page whenever the grid is full."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, invariant=1)
    canvas.setTitle(title)
    canvas.setCreator("Chacra")
    for index, label in enumerate(labels):
        position = index + layout.skip
        if index and position % layout.per_page == 0:
            canvas.showPage()
        _draw_label(canvas, layout, label, index)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
