"""The lot ledger's rules: one module per concern, re-exported here for the routes."""

from services.lots.service.deliveries import record_delivery
from services.lots.service.events import create_fair, record_correction, record_observation
from services.lots.service.labels import MAX_LABELS, label_sheet, lot_qr, parse_lot_ids
from services.lots.service.ledger import merge_lots, split_lot, transform_lot
from services.lots.service.reading import (
    epcis_document,
    fair_catalog,
    get_fair,
    get_lot,
    lineage,
    list_fairs,
    list_lots,
    origins,
    provenance,
    timeline,
)

__all__ = [
    "MAX_LABELS",
    "create_fair",
    "epcis_document",
    "fair_catalog",
    "get_fair",
    "get_lot",
    "label_sheet",
    "lineage",
    "list_fairs",
    "list_lots",
    "lot_qr",
    "merge_lots",
    "origins",
    "parse_lot_ids",
    "provenance",
    "record_correction",
    "record_delivery",
    "record_observation",
    "split_lot",
    "timeline",
    "transform_lot",
]
