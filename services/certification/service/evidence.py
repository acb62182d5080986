"""What the claims of a set of plots rest on, gathered in a few queries and one spatial index.

Layer features are matched to plots when the claims are computed (not only when the layer was
loaded), so a plot registered after a layer still meets it. Features are fetched by bounding
boxes around the lot's plots (one box per 0.5° grid cell holding plots), then an STRtree over
the plots answers every feature at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.geometry import intersecting_pairs, read_geometry
from services.certification.models import Certificate, LayerFeature, Verification
from services.certification.repository import Bounds
from services.cooperatives.client import PlotRead

GRID_DEGREES = 0.5


@dataclass(slots=True)
class PlotEvidence:
    """Everything the claims of one plot depend on."""

    plot: PlotRead
    certificates: list[Certificate] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    features: list[LayerFeature] = field(default_factory=list)
    loss_layer_covers: bool = False


def _grid_boxes(geometries: Sequence[BaseGeometry]) -> list[Bounds]:
    cells: dict[tuple[int, int], list[float]] = {}
    for geometry in geometries:
        min_x, min_y, max_x, max_y = geometry.bounds
        key = (int(min_x // GRID_DEGREES), int(min_y // GRID_DEGREES))
        box = cells.get(key)
        if box is None:
            cells[key] = [min_x, min_y, max_x, max_y]
        else:
            box[:] = [min(box[0], min_x), min(box[1], min_y), max(box[2], max_x), max(box[3], max_y)]
    return [(b[0], b[1], b[2], b[3]) for b in cells.values()]


async def gather(session: AsyncSession, plots: dict[str, PlotRead]) -> dict[str, PlotEvidence]:
    """Certificates, verifications and layer features of each plot (absent: plots the registry lacks)."""
    evidence = {plot_id: PlotEvidence(plot) for plot_id, plot in plots.items()}
    if not evidence:
        return evidence
    farmer_plots: dict[str, list[str]] = defaultdict(list)
    for plot in plots.values():
        farmer_plots[plot.farmer_id].append(plot.id)
    covering = await repository.certificates_covering(session, list(plots), list(farmer_plots))
    for subject, rows in covering.items():
        targets = [subject] if subject in evidence else farmer_plots.get(subject, [])
        for plot_id in targets:
            known = {c.id for c in evidence[plot_id].certificates}
            evidence[plot_id].certificates.extend(c for c, _, _ in rows if c.id not in known)
    for verification in await repository.verifications_of(session, list(plots)):
        evidence[verification.plot_id].verifications.append(verification)

    ids = list(evidence)
    geometries = [shape(evidence[i].plot.geometry) for i in ids]
    boxes = _grid_boxes(geometries)
    features = list(await repository.features_near(session, boxes))
    for feature_index, plot_index in intersecting_pairs(
        geometries, [read_geometry(f.geometry) for f in features]
    ):
        evidence[ids[plot_index]].features.append(features[feature_index])
    layers = await repository.forest_loss_layers_near(session, boxes)
    if layers:
        tree = STRtree(geometries)
        found = tree.query([read_geometry(layer.coverage) for layer in layers], predicate="covers")
        for plot_index in found[1]:
            evidence[ids[int(plot_index)]].loss_layer_covers = True
    return evidence
