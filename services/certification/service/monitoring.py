"""Field verifications of plots, and monitoring layers with the plots they flag."""

from __future__ import annotations

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.geometry import intersecting_pairs, parse_coverage, parse_features, to_geojson
from services.certification.models import LayerFeature, MonitoringLayer, PlotFlag, Verification
from services.certification.schemas import (
    LayerCreate,
    LayerKind,
    LayerRead,
    PlotFlagRead,
    VerificationCreate,
    VerificationRead,
)
from services.certification.service.peers import Peers
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound
from shared.ids import new_id
from shared.pagination import Page, PageParams, make_page


async def record_verification(
    session: AsyncSession, peers: Peers, principal: Principal, *, data: VerificationCreate
) -> VerificationRead:
    if principal.role is not Role.CERTIFIER or principal.certifying_body_id is None:
        raise Forbidden("Only certifiers (of a certifying body) record verifications.", code="role_required")
    if data.plot_id not in await peers.plots([data.plot_id]):
        raise NotFound(f"No plot {data.plot_id} in the registry.", code="plot_not_found")
    verification = Verification(
        id=new_id("ver"),
        plot_id=data.plot_id,
        kind=data.kind.value,
        result=data.result,
        verified_on=data.verified_on,
        method=data.method,
        verifier=data.verifier,
        evidence=data.evidence,
        certifying_body_id=principal.certifying_body_id,
        recorded_by=principal.user_id,
    )
    session.add(verification)
    await session.flush()
    return VerificationRead.model_validate(verification, from_attributes=True)


async def list_verifications(
    session: AsyncSession, *, page: PageParams, plot_id: str | None
) -> Page[VerificationRead]:
    rows, cursor = make_page(
        await repository.list_verifications(session, page, plot_id=plot_id),
        page,
        lambda v: (v.created_at, v.id),
    )
    return Page[VerificationRead](
        items=[VerificationRead.model_validate(v, from_attributes=True) for v in rows], next=cursor
    )


def layer_read(layer: MonitoringLayer, flagged: int) -> LayerRead:
    return LayerRead(
        id=layer.id,
        kind=LayerKind(layer.kind),
        source=layer.source,
        observed_on=layer.observed_on,
        features=layer.features,
        plots_checked=layer.plots_checked,
        plots_flagged=flagged,
        created_at=layer.created_at,
    )


async def load_layer(
    session: AsyncSession, peers: Peers, principal: Principal, *, data: LayerCreate
) -> LayerRead:
    """Validate every feature, compare them with every plot of the registry, store layer and flags."""
    if not principal.is_admin:
        raise Forbidden("Only admins load monitoring layers.", code="role_required")
    features = parse_features(data.features, kind=data.kind.value, observed_on=data.observed_on)
    coverage = parse_coverage(data.coverage, features)
    layer_id = new_id("lay")
    feature_ids = [new_id("feat") for _ in features]
    plot_ids: list[str] = []
    geometries: list[BaseGeometry] = []
    # The registry is read a page at a time; then one STRtree over every plot answers every feature.
    async for plots in peers.cooperatives.iter_plot_pages(token=peers.identity.token()):
        plot_ids.extend(p.id for p in plots)
        geometries.extend(shape(p.geometry) for p in plots)
    flags = [
        {
            "id": new_id("flag"),
            "layer_id": layer_id,
            "feature_id": feature_ids[f],
            "plot_id": plot_ids[p],
            "kind": data.kind.value,
            "dated_on": features[f].dated_on,
        }
        for f, p in intersecting_pairs(geometries, [feature.geometry for feature in features])
    ]
    min_x, min_y, max_x, max_y = coverage.bounds
    layer = MonitoringLayer(
        id=layer_id,
        kind=data.kind.value,
        source=data.source,
        observed_on=data.observed_on,
        features=len(features),
        coverage=to_geojson(coverage),
        min_lon=min_x,
        min_lat=min_y,
        max_lon=max_x,
        max_lat=max_y,
        plots_checked=len(plot_ids),
        created_by=principal.user_id,
    )
    session.add(layer)
    await session.flush()
    rows = []
    for feature_id, feature in zip(feature_ids, features, strict=True):
        fx, fy, gx, gy = feature.geometry.bounds
        rows.append(
            {
                "id": feature_id,
                "layer_id": layer_id,
                "position": feature.position,
                "label": feature.label,
                "kind": data.kind.value,
                "dated_on": feature.dated_on,
                "name": feature.name,
                "geometry": feature.geojson,
                "min_lon": fx,
                "min_lat": fy,
                "max_lon": gx,
                "max_lat": gy,
            }
        )
    await repository.insert_rows(session, LayerFeature, rows)
    await repository.insert_rows(session, PlotFlag, flags)
    return layer_read(layer, len(flags))


async def get_layer(session: AsyncSession, layer_id: str) -> LayerRead:
    layer = await repository.get_layer(session, layer_id)
    if layer is None:
        raise NotFound(f"No monitoring layer {layer_id}.", code="layer_not_found")
    counts = await repository.flag_counts(session, [layer.id])
    return layer_read(layer, counts.get(layer.id, 0))


async def list_layers(session: AsyncSession, *, page: PageParams) -> Page[LayerRead]:
    rows, cursor = make_page(
        await repository.list_layers(session, page), page, lambda layer: (layer.created_at, layer.id)
    )
    counts = await repository.flag_counts(session, [layer.id for layer in rows])
    return Page[LayerRead](items=[layer_read(layer, counts.get(layer.id, 0)) for layer in rows], next=cursor)


async def layer_flags(session: AsyncSession, layer_id: str, *, page: PageParams) -> Page[PlotFlagRead]:
    if await repository.get_layer(session, layer_id) is None:
        raise NotFound(f"No monitoring layer {layer_id}.", code="layer_not_found")
    rows, cursor = make_page(
        await repository.layer_flags(session, layer_id, page), page, lambda row: (row[0].id,)
    )
    return Page[PlotFlagRead](
        items=[
            PlotFlagRead(
                plot_id=flag.plot_id,
                layer_id=flag.layer_id,
                feature=feature.label,
                kind=LayerKind(flag.kind),
                dated_on=flag.dated_on,
            )
            for flag, feature in rows
        ],
        next=cursor,
    )
