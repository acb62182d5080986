"""Lineage and provenance on a handcrafted graph whose answers were worked out by hand.

The graph (one cooperative; farmer 1 has plot 1 in Tarapoto, farmer 2 has plot 2 in Morales)::

    A 100 kg baba (plot 1) ─60─┐
                               ├─ M1 100 kg baba ─drying─ T1 40 kg dry ─split─ S1 10 kg ─┐
    B  50 kg baba (plot 2) ─40─┘                                  └──────────── S2 30 kg  ├─ M2 22 kg dry
    C  30 kg baba (plot 1) ─drying─ TC 12 kg dry ────────────────────────────────────────┘

M2 = S1 10 kg + TC 12 kg. By weight of M2: A 10/22·60/100 = 3/11, B 10/22·40/100 = 2/11, C 12/22 = 6/11.
Wet kilos of each delivery inside M2: M1 gave 100 kg wet for T1's 40 kg, of which S1 (10 kg) is a
quarter → 25 kg of M1 → A 15 kg, B 10 kg; TC is all of C → 30 kg.
Shares to 4 decimals (largest remainder): A 27.2727, B 18.1818, C 54.5455 (54.5454|54 gets the
missing 0.0001); plot 1 = farmer 1 = Tarapoto = 9/11 → 81.8182, plot 2 = farmer 2 = Morales → 18.1818.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.factories import Origin, create_cooperative, create_origin, create_plot, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
TARAPOTO, MORALES = "220901", "220910"


def parsed(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return json.loads(response.text, parse_float=Decimal)


def d(value: str) -> Decimal:
    return Decimal(value)


async def merge(api: httpx.AsyncClient, headers: dict[str, str], *inputs: tuple[str, str]) -> Any:
    body = {"inputs": [{"lot_id": lot_id, "quantity_kg": kg} for lot_id, kg in inputs]}
    return parsed(await api.post(f"{LOTS}/merge", json=body, headers=headers))


async def dry(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, output_kg: str) -> Any:
    body = {"process": "drying", "output_form": "dry", "output_quantity_kg": output_kg}
    return parsed(await api.post(f"{LOTS}/{lot_id}/transform", json=body, headers=headers))


@dataclass(frozen=True)
class Graph:
    origin1: Origin
    origin2: Origin
    lots: dict[str, Any]  # A, B, C, M1, T1, S1, S2, TC, M2

    @property
    def headers(self) -> dict[str, str]:
        return self.origin1.headers


@pytest.fixture
async def graph(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Graph:
    coop = await create_cooperative(api, admin_headers)
    o1 = await create_origin(api, admin_headers, headers_for, cooperative=coop)
    o2 = await create_origin(api, admin_headers, headers_for, cooperative=coop)
    plot1 = await create_plot(api, o1.headers, o1.farmer["id"], crop="cacao", ubigeo=TARAPOTO)
    plot2 = await create_plot(api, o2.headers, o2.farmer["id"], crop="cacao", ubigeo=MORALES)
    o1 = Origin(coop, o1.farmer, plot1, o1.headers)
    o2 = Origin(coop, o2.farmer, plot2, o2.headers)
    h = o1.headers
    lots: dict[str, Any] = {
        "A": await deliver(api, o1, "100", harvested_on="2026-10-01"),
        "B": await deliver(api, o2, "50", harvested_on="2026-10-05"),
        "C": await deliver(api, o1, "30", harvested_on="2026-10-10"),
    }
    lots["M1"] = await merge(api, h, (lots["A"]["id"], "60"), (lots["B"]["id"], "40"))
    lots["T1"] = await dry(api, h, lots["M1"]["id"], "40")
    body = {"outputs": [{"quantity_kg": "10"}, {"quantity_kg": "30"}]}
    lots["S1"], lots["S2"] = parsed(await api.post(f"{LOTS}/{lots['T1']['id']}/split", json=body, headers=h))[
        "lots"
    ]
    lots["TC"] = await dry(api, h, lots["C"]["id"], "12")
    lots["M2"] = await merge(api, h, (lots["S1"]["id"], "10"), (lots["TC"]["id"], "12"))
    return Graph(o1, o2, lots)


async def lineage_of(api: httpx.AsyncClient, graph: Graph, name: str) -> Any:
    return parsed(await api.get(f"{LOTS}/{graph.lots[name]['id']}/lineage", headers=graph.headers))


async def provenance_of(api: httpx.AsyncClient, graph: Graph, name: str) -> Any:
    return parsed(await api.get(f"{LOTS}/{graph.lots[name]['id']}/provenance", headers=graph.headers))


def by_name(graph: Graph, items: list[dict[str, Any]], key: str = "lot_id") -> dict[str, dict[str, Any]]:
    names = {lot["id"]: name for name, lot in graph.lots.items()}
    return {names[item[key]]: item for item in items}


def total(items: list[dict[str, Any]]) -> Decimal:
    return sum((item["share_pct"] for item in items), Decimal(0))


# --- lineage -----------------------------------------------------------------------------------


async def test_lineage_lists_the_lot_and_every_ancestor_with_exact_contributions(
    api: httpx.AsyncClient, graph: Graph
) -> None:
    lineage = await lineage_of(api, graph, "M2")

    nodes = by_name(graph, lineage["nodes"])
    assert set(nodes) == {"M2", "S1", "TC", "T1", "M1", "A", "B", "C"}  # not S2, the other bag
    contributed = {name: node["contributed_kg"] for name, node in nodes.items()}
    assert contributed == {
        "M2": 22,
        "S1": 10,
        "TC": 12,
        "T1": 10,
        "M1": 25,
        "A": 15,
        "B": 10,
        "C": 30,
    }
    shares = {name: node["share_pct"] for name, node in nodes.items()}
    assert shares == {
        "M2": 100,
        "S1": d("45.4545"),
        "TC": d("54.5455"),
        "T1": d("45.4545"),
        "M1": d("45.4545"),
        "A": d("27.2727"),
        "B": d("18.1818"),
        "C": d("54.5455"),
    }
    assert nodes["A"]["plot_id"] == graph.origin1.plot["id"]
    assert nodes["B"]["farmer_id"] == graph.origin2.farmer["id"]


async def test_lineage_edges_carry_the_kilograms_that_moved(api: httpx.AsyncClient, graph: Graph) -> None:
    lineage = await lineage_of(api, graph, "M2")

    names = {lot["id"]: name for name, lot in graph.lots.items()}
    edges = {(names[e["from_lot_id"]], names[e["to_lot_id"]]): e["quantity_kg"] for e in lineage["edges"]}
    assert edges == {
        ("S1", "M2"): 10,
        ("TC", "M2"): 12,
        ("T1", "S1"): 10,
        ("C", "TC"): 30,
        ("M1", "T1"): 100,
        ("A", "M1"): 60,
        ("B", "M1"): 40,
    }
    assert all(e["event_id"].startswith("evt_") for e in lineage["edges"])


async def test_lineage_deliveries_have_exact_shares_summing_to_100(
    api: httpx.AsyncClient, graph: Graph
) -> None:
    lineage = await lineage_of(api, graph, "M2")

    deliveries = by_name(graph, lineage["deliveries"])
    assert {n: (x["contributed_kg"], x["share_pct"]) for n, x in deliveries.items()} == {
        "A": (15, d("27.2727")),
        "B": (10, d("18.1818")),
        "C": (30, d("54.5455")),
    }
    assert total(lineage["deliveries"]) == d("100.0000")


async def test_lineage_of_the_other_bag_follows_only_its_own_ancestors(
    api: httpx.AsyncClient, graph: Graph
) -> None:
    lineage = await lineage_of(api, graph, "S2")

    assert set(by_name(graph, lineage["nodes"])) == {"S2", "T1", "M1", "A", "B"}
    deliveries = by_name(graph, lineage["deliveries"])
    # S2 is 30 of T1's 40 kg dry → 75 of M1's 100 kg wet → A 45 kg, B 30 kg.
    assert {n: (x["contributed_kg"], x["share_pct"]) for n, x in deliveries.items()} == {
        "A": (45, 60),
        "B": (30, 40),
    }


async def test_lineage_of_a_delivery_is_the_delivery_alone(api: httpx.AsyncClient, graph: Graph) -> None:
    lineage = await lineage_of(api, graph, "C")

    assert lineage["edges"] == []
    [node] = lineage["deliveries"]
    assert (node["lot_id"], node["contributed_kg"], node["share_pct"]) == (graph.lots["C"]["id"], 30, 100)


# --- provenance --------------------------------------------------------------------------------


async def test_provenance_shares_per_plot_farmer_district_and_cooperative(
    api: httpx.AsyncClient, graph: Graph
) -> None:
    provenance = await provenance_of(api, graph, "M2")

    o1, o2 = graph.origin1, graph.origin2
    assert (provenance["lot_id"], provenance["quantity_kg"], provenance["deliveries"]) == (
        graph.lots["M2"]["id"],
        22,
        3,
    )
    plots = [(p["plot_id"], p["share_pct"], p["contributed_kg"], p["ubigeo"]) for p in provenance["plots"]]
    assert plots == [
        (o1.plot["id"], d("81.8182"), 45, TARAPOTO),
        (o2.plot["id"], d("18.1818"), 10, MORALES),
    ]
    farmers = [(f["farmer_id"], f["share_pct"]) for f in provenance["farmers"]]
    assert farmers == [(o1.farmer["id"], d("81.8182")), (o2.farmer["id"], d("18.1818"))]
    districts = [(x["ubigeo"], x["district"], x["share_pct"]) for x in provenance["districts"]]
    assert districts == [(TARAPOTO, "Tarapoto", d("81.8182")), (MORALES, "Morales", d("18.1818"))]
    assert [(c["cooperative_id"], c["share_pct"]) for c in provenance["cooperatives"]] == [
        (o1.cooperative_id, 100)
    ]
    for key in ("plots", "farmers", "districts", "cooperatives"):
        assert total(provenance[key]) == d("100.0000"), key


async def test_provenance_harvest_dates_span_the_deliveries(api: httpx.AsyncClient, graph: Graph) -> None:
    provenance = await provenance_of(api, graph, "M2")

    assert (provenance["harvested_from"], provenance["harvested_to"]) == ("2026-10-01", "2026-10-10")
    plot1, plot2 = provenance["plots"]
    assert (plot1["harvested_from"], plot1["harvested_to"]) == ("2026-10-01", "2026-10-10")
    assert (plot2["harvested_from"], plot2["harvested_to"]) == ("2026-10-05", "2026-10-05")


async def test_provenance_of_an_intermediate_lot(api: httpx.AsyncClient, graph: Graph) -> None:
    provenance = await provenance_of(api, graph, "T1")

    assert provenance["deliveries"] == 2
    assert [(p["plot_id"], p["share_pct"], p["contributed_kg"]) for p in provenance["plots"]] == [
        (graph.origin1.plot["id"], 60, 60),
        (graph.origin2.plot["id"], 40, 40),
    ]


# --- rounding ----------------------------------------------------------------------------------


async def test_three_equal_deliveries_share_100_exactly(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    coop = await create_cooperative(api, admin_headers)
    origins = [await create_origin(api, admin_headers, headers_for, cooperative=coop) for _ in range(3)]
    lots = [await deliver(api, o, "10") for o in origins]
    headers = origins[0].headers
    merged = await merge(api, headers, *((lot["id"], "10") for lot in lots))

    lineage = parsed(await api.get(f"{LOTS}/{merged['id']}/lineage", headers=headers))
    provenance = parsed(await api.get(f"{LOTS}/{merged['id']}/provenance", headers=headers))

    expected = [d("33.3334"), d("33.3333"), d("33.3333")]
    assert sorted((x["share_pct"] for x in lineage["deliveries"]), reverse=True) == expected
    assert [p["share_pct"] for p in provenance["plots"]] == expected  # sorted by share, largest first
    assert [f["share_pct"] for f in provenance["farmers"]] == expected
    assert total(lineage["deliveries"]) == total(provenance["plots"]) == d("100.0000")
    assert all(x["contributed_kg"] == 10 for x in lineage["deliveries"])


async def split(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, *kgs: str) -> list[Any]:
    body = {"outputs": [{"quantity_kg": kg} for kg in kgs]}
    lots: list[Any] = parsed(await api.post(f"{LOTS}/{lot_id}/split", json=body, headers=headers))["lots"]
    return lots


async def test_an_ancestor_reached_by_several_paths_is_counted_once(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    # A 100 → S1 30 + S2 70; M1 = S1 30 + S2 50 (80); M1 → X 20 + Y 60; Z = X 20 + Y 40 (60 kg).
    # Z reaches M1 twice and A four times; all of Z is A's: 60 kg of it, 100 %.
    origin = await create_origin(api, admin_headers, headers_for)
    h = origin.headers
    a = await deliver(api, origin, "100")
    s1, s2 = await split(api, h, a["id"], "30", "70")
    m1 = await merge(api, h, (s1["id"], "30"), (s2["id"], "50"))
    x, y = await split(api, h, m1["id"], "20", "60")
    z = await merge(api, h, (x["id"], "20"), (y["id"], "40"))

    lineage = parsed(await api.get(f"{LOTS}/{z['id']}/lineage", headers=h))

    names = {
        a["id"]: "A",
        s1["id"]: "S1",
        s2["id"]: "S2",
        m1["id"]: "M1",
        x["id"]: "X",
        y["id"]: "Y",
        z["id"]: "Z",
    }
    assert len(lineage["edges"]) == 8
    assert sorted(names[n["lot_id"]] for n in lineage["nodes"]) == ["A", "M1", "S1", "S2", "X", "Y", "Z"]
    contributed = {names[n["lot_id"]]: n["contributed_kg"] for n in lineage["nodes"]}
    assert contributed == {
        "Z": 60,
        "X": 20,
        "Y": 40,
        "M1": 60,
        "S1": d("22.5"),
        "S2": d("37.5"),
        "A": 60,
    }
    [delivery] = lineage["deliveries"]
    assert (delivery["lot_id"], delivery["contributed_kg"], delivery["share_pct"]) == (a["id"], 60, 100)


async def test_container_of_two_cooperatives_shares_by_cooperative(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    org = "Exportadora Andina SAC"
    exporter = headers_for("exporter", organization=org)
    origins = [await create_origin(api, admin_headers, headers_for) for _ in range(2)]
    lots = [await deliver(api, o, kg, form="dry") for o, kg in zip(origins, ("100", "300"), strict=True)]
    for o, lot in zip(origins, lots, strict=True):
        handover = {"type": "handover", "to_organization": org}
        assert (
            await api.post(f"{LOTS}/{lot['id']}/events", json=handover, headers=o.headers)
        ).status_code == 201
    container = await merge(api, exporter, (lots[0]["id"], "100"), (lots[1]["id"], "200"))

    provenance = parsed(await api.get(f"{LOTS}/{container['id']}/provenance", headers=exporter))

    assert [(c["cooperative_id"], c["share_pct"]) for c in provenance["cooperatives"]] == [
        (origins[1].cooperative_id, d("66.6667")),
        (origins[0].cooperative_id, d("33.3333")),
    ]
    assert [p["contributed_kg"] for p in provenance["plots"]] == [200, 100]
    assert total(provenance["cooperatives"]) == d("100.0000")
