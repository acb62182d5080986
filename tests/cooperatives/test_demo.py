from __future__ import annotations

import json
from collections import Counter

import httpx
from sqlalchemy import func, select
from stdnum.pe import ruc

from services.cooperatives.demo import ASSOCIATIONS, load_demo
from services.cooperatives.geo import load_geojson, validate_plot_geometry
from services.cooperatives.models import Cooperative, Farmer, Plot, User
from services.cooperatives.reference import district_places, nearest_districts
from shared.db import Database

DEMO_DEPARTMENTS = {"01", "05", "08", "10", "12", "19", "21", "22", "25"}


async def test_demo_loads_126_marked_associations_in_the_alternative_development_regions(
    db: Database,
) -> None:
    async with db.transaction() as session:
        logins = await load_demo(session)
        coops = (await session.scalars(select(Cooperative))).all()
    assert logins is not None
    assert len(coops) == ASSOCIATIONS == 126
    assert all(c.name.startswith("DEMO ") for c in coops)
    assert all(ruc.is_valid(c.ruc) and c.ruc.startswith("20") for c in coops)
    assert len({c.ruc for c in coops}) == 126
    assert {c.ubigeo[:2] for c in coops} <= DEMO_DEPARTMENTS
    assert len({c.ubigeo[:2] for c in coops}) >= 7


async def test_demo_plots_pass_the_eudr_rules_and_lie_near_their_district(db: Database) -> None:
    async with db.transaction() as session:
        await load_demo(session)
        rows = (await session.execute(select(Plot, Cooperative.ubigeo).join(Cooperative))).all()
        farmers = await session.scalar(select(func.count()).select_from(Farmer))
    assert farmers is not None and farmers >= 126 * 8
    kinds = Counter(plot.geometry_type for plot, _ in rows)
    assert kinds["Point"] > 0 and kinds["Polygon"] > 0
    for plot, ubigeo in rows[:: max(1, len(rows) // 200)]:
        checked = validate_plot_geometry(load_geojson(plot.geometry), area_ha=plot.area_ha)
        assert checked.area_ha == plot.area_ha
        lon, lat = district_places()[ubigeo]
        assert abs(plot.centroid_lon - lon) < 0.1 and abs(plot.centroid_lat - lat) < 0.1


async def test_demo_plots_are_in_the_district_whose_place_is_nearest_their_centroid(db: Database) -> None:
    async with db.transaction() as session:
        await load_demo(session)
        plots = (await session.scalars(select(Plot))).all()
    derived = nearest_districts([p.centroid_lon for p in plots], [p.centroid_lat for p in plots])
    assert [p.ubigeo for p in plots] == [d.ubigeo for d in derived]


async def test_demo_logins_work_and_loading_twice_changes_nothing(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with db.transaction() as session:
        logins = await load_demo(session)
    assert logins is not None
    async with db.transaction() as session:
        assert await load_demo(session) is None
        assert await session.scalar(select(func.count()).select_from(Cooperative)) == 126
        roles = Counter((await session.scalars(select(User.role))).all())
    assert (
        roles["admin"] == 1 and roles["certifier"] == 1 and roles["exporter"] == 1 and roles["manager"] >= 3
    )
    manager = next(login for login in logins if login.role == "manager")
    token = await client.post(
        "/api/v1/auth/token", data={"username": manager.username, "password": manager.password}
    )
    assert token.status_code == 200
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    coop = await client.get(f"/api/v1/cooperatives/{me.json()['cooperative_id']}")
    assert coop.json()["name"] == manager.note
    assert json.loads(coop.text)["name"].startswith("DEMO")
