"""Monitoring layers: validated features, plots flagged through one spatial index, claims they flip."""

from __future__ import annotations

from typing import Any

import httpx

from tests.certification.calls import (
    SIDE,
    Body,
    claims,
    deliver_from,
    feature,
    load_layer,
    new_plot,
    next_corner,
    post_layer,
    square,
    verify,
)
from tests.factories import Origin


def inside(plot: dict[str, Any], margin: float = 0.0002) -> dict[str, Any]:
    """A small square strictly inside the plot's square."""
    lon, lat = plot["geometry"]["coordinates"][0][0]
    return square(lon + margin, lat + margin, SIDE - 2 * margin)


def around(plot: dict[str, Any], margin: float = 0.0005) -> dict[str, Any]:
    """A square that contains the plot's square."""
    lon, lat = plot["geometry"]["coordinates"][0][0]
    return square(lon - margin, lat - margin, SIDE + 2 * margin)


async def test_a_coca_feature_touching_one_of_40_plots_flags_that_plot_only(
    api: httpx.AsyncClient, origin: Origin, body: Body, admin_headers: dict[str, str]
) -> None:
    plots = [await new_plot(api, origin) for _ in range(40)]
    touched = plots[17]
    for plot in (touched, plots[3]):
        await verify(api, body, plot["id"], on="2026-08-01")
    coca = feature(inside(touched), "devida-0917", observed_on="2026-09-10")

    layer = await load_layer(api, admin_headers, "coca", [coca])
    flags = await api.get(f"/api/v1/monitoring-layers/{layer['id']}/flags", headers=admin_headers)

    assert (layer["plots_flagged"], layer["features"]) == (1, 1)
    assert layer["plots_checked"] >= 41
    assert [(f["plot_id"], f["feature"], f["dated_on"]) for f in flags.json()["items"]] == [
        (touched["id"], "devida-0917", "2026-09-10")
    ]
    touched_claim = (await claims(api, (await deliver_from(api, origin, touched))["id"]))["coca_free"]
    clean_claim = (await claims(api, (await deliver_from(api, origin, plots[3]))["id"]))["coca_free"]
    assert touched_claim["status"] == "failed"
    assert "devida-0917" in touched_claim["reason"] and touched["id"] in touched_claim["reason"]
    assert clean_claim["status"] == "verified"


async def test_coca_observed_before_the_verification_does_not_fail_the_plot(
    api: httpx.AsyncClient, origin: Origin, body: Body, admin_headers: dict[str, str]
) -> None:
    await load_layer(api, admin_headers, "coca", [feature(inside(origin.plot), observed_on="2025-03-01")])
    lot = await deliver_from(api, origin, origin.plot)
    assert (await claims(api, lot["id"]))["coca_free"]["status"] == "failed"

    await verify(api, body, origin.plot["id"], on="2026-02-01")

    assert (await claims(api, lot["id"]))["coca_free"]["status"] == "verified"


async def test_a_coca_feature_without_its_own_date_takes_the_layers(
    api: httpx.AsyncClient, origin: Origin, body: Body, admin_headers: dict[str, str]
) -> None:
    await verify(api, body, origin.plot["id"], on="2026-09-01")
    layer = await load_layer(api, admin_headers, "coca", [feature(inside(origin.plot))])
    flags = await api.get(f"/api/v1/monitoring-layers/{layer['id']}/flags", headers=admin_headers)

    assert flags.json()["items"][0]["dated_on"] == "2026-09-15"
    lot = await deliver_from(api, origin, origin.plot)
    assert (await claims(api, lot["id"]))["coca_free"]["status"] == "failed"


async def test_forest_loss_before_the_cutoff_is_clean_and_after_it_fails(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    old_loss = await new_plot(api, origin)
    new_loss = await new_plot(api, origin)
    features = [
        feature(around(old_loss), "gfw-1", loss_date="2020-12-30"),
        feature(around(new_loss), "gfw-2", loss_date="2021-01-02"),
    ]
    await load_layer(api, admin_headers, "forest_loss", features)

    clean = (await claims(api, (await deliver_from(api, origin, old_loss))["id"]))["deforestation_free"]
    failed = (await claims(api, (await deliver_from(api, origin, new_loss))["id"]))["deforestation_free"]

    assert clean["status"] == "verified"
    assert failed["status"] == "failed"
    assert "gfw-2" in failed["reason"] and "2021-01-02" in failed["reason"]


async def test_a_plot_outside_every_forest_loss_layer_is_not_verified_until_checked(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    lot = await deliver_from(api, origin, origin.plot)
    assert (await claims(api, lot["id"]))["deforestation_free"]["status"] == "not_verified"

    await verify(api, body, origin.plot["id"], kind="deforestation_free", on="2026-05-01")

    assert (await claims(api, lot["id"]))["deforestation_free"]["status"] == "verified"


async def test_a_clean_check_needs_a_layer_whose_coverage_holds_the_plot(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    covered = await new_plot(api, origin)
    lon, lat = covered["geometry"]["coordinates"][0][0]
    far_loss = feature(square(lon + 0.05, lat + 0.05), loss_date="2023-04-01")
    await load_layer(api, admin_headers, "forest_loss", [far_loss], coverage=around(covered))

    covered_claim = (await claims(api, (await deliver_from(api, origin, covered))["id"]))[
        "deforestation_free"
    ]
    outside_claim = (await claims(api, (await deliver_from(api, origin, origin.plot))["id"]))[
        "deforestation_free"
    ]

    assert covered_claim["status"] == "verified"
    assert outside_claim["status"] == "not_verified"


async def test_a_plot_inside_a_protected_area_fails_deforestation_free(
    api: httpx.AsyncClient, origin: Origin, body: Body, admin_headers: dict[str, str]
) -> None:
    await verify(api, body, origin.plot["id"], kind="deforestation_free", on="2026-05-01")
    area = feature(around(origin.plot, 0.01), name="Parque Nacional Cordillera Azul")
    await load_layer(api, admin_headers, "protected_area", [area])

    claim = (await claims(api, (await deliver_from(api, origin, origin.plot))["id"]))["deforestation_free"]

    assert claim["status"] == "failed"
    assert "Cordillera Azul" in claim["reason"]


async def test_a_broken_ring_is_refused_naming_the_feature_and_nothing_is_stored(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    good = feature(inside(origin.plot), "ok-1", loss_date="2022-01-01")
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[-76.1, -6.1], [-76.0, -6.0], [-76.0, -6.1], [-76.1, -6.0], [-76.1, -6.1]]],
    }
    unclosed = {
        "type": "Polygon",
        "coordinates": [[[-76.1, -6.1], [-76.0, -6.1], [-76.0, -6.0], [-76.1, -6.0]]],
    }
    features = [
        good,
        feature(bowtie, "bowtie-7", loss_date="2022-01-01"),
        feature(unclosed, loss_date="2022-01-01"),
    ]

    response = await post_layer(api, admin_headers, "forest_loss", features)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation_failed"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("features.features.1.geometry", "ring_self_intersects"),
        ("features.features.2.geometry", "ring_not_closed"),
    }
    assert "bowtie-7" in problem["detail"] and "#2" in problem["detail"]
    listed = await api.get("/api/v1/monitoring-layers", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_a_forest_loss_feature_needs_its_loss_date(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    response = await post_layer(api, admin_headers, "forest_loss", [feature(inside(origin.plot), "x")])

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "loss_date_missing"


async def test_only_admins_load_layers(
    api: httpx.AsyncClient, origin: Origin, body: Body, headers_for: Any
) -> None:
    coca = [feature(inside(origin.plot))]
    for headers in (body.certifier, origin.headers, headers_for("exporter", organization="Exportadora")):
        response = await post_layer(api, headers, "coca", coca)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "role_required"
    assert (await post_layer(api, {}, "coca", coca)).status_code == 401


async def test_a_plot_registered_after_a_layer_still_meets_it_in_its_claims(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    lon, lat = next_corner()
    area = feature(
        square(lon - 0.001, lat - 0.001, 0.004), "sernanp-12", name="Bosque de Protección Alto Mayo"
    )
    layer = await load_layer(api, admin_headers, "protected_area", [area])
    later = await new_plot(api, origin, geometry=square(lon, lat))

    claim = (await claims(api, (await deliver_from(api, origin, later))["id"]))["deforestation_free"]

    assert layer["plots_flagged"] == 0
    assert claim["status"] == "failed" and "Alto Mayo" in claim["reason"]
