"""The certification service's rules: one module per concern, re-exported here for the routes."""

from services.certification.service.attachments import affected_lots, attach
from services.certification.service.certificates import (
    change_status,
    create_body,
    create_certificate,
    get_body,
    get_certificate,
    list_certificates,
)
from services.certification.service.monitoring import (
    get_layer,
    layer_flags,
    list_layers,
    list_verifications,
    load_layer,
    record_verification,
)
from services.certification.service.peers import Peers, ServiceIdentity
from services.certification.service.reading import (
    claims_version,
    compute_claims,
    compute_claims_many,
    eudr_geojson,
)

__all__ = [
    "Peers",
    "ServiceIdentity",
    "affected_lots",
    "attach",
    "change_status",
    "claims_version",
    "compute_claims",
    "compute_claims_many",
    "create_body",
    "create_certificate",
    "eudr_geojson",
    "get_body",
    "get_certificate",
    "get_layer",
    "layer_flags",
    "list_certificates",
    "list_layers",
    "list_verifications",
    "load_layer",
    "record_verification",
]
