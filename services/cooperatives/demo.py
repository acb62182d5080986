"""Demo data: 126 synthetic producer associations, marked DEMO, in the regions where Peru's
alternative-development cacao and coffee grow, with members and plots near their district.

Every name, RUC and DNI here is invented; ubigeo codes and district places are real reference data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.pe import ruc as ruc_number

from services.cooperatives import repository
from services.cooperatives.geo import derive_districts, validate_plot_geometry
from services.cooperatives.models import Cooperative, Farmer, Plot
from services.cooperatives.reference import district_places, districts, fold
from services.cooperatives.schemas import UserCreate
from services.cooperatives.service import create_user
from shared.auth import Role
from shared.db import utcnow
from shared.errors import DomainError
from shared.ids import new_id

ASSOCIATIONS = 126
SEED = 2026
DEMO_CERTIFYING_BODY_ID = "cb_demo_organic_control"
# Provinces of the cacao and coffee valleys of alternative development (DEVIDA's areas of
# intervention); San Martín grows both almost everywhere, so all its provinces are in.
REGIONS: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    "01": (("bagua", "utcubamba", "rodriguez de mendoza"), ("coffee", "cacao")),
    "05": (("la mar", "huanta"), ("cacao", "coffee")),
    "08": (("la convencion",), ("coffee", "cacao")),
    "10": (("leoncio prado", "puerto inca"), ("cacao", "coffee")),
    "12": (("satipo", "chanchamayo"), ("coffee", "cacao")),
    "19": (("oxapampa",), ("coffee", "cacao")),
    "21": (("sandia", "carabaya"), ("coffee",)),
    "22": (None, ("cacao", "coffee")),
    "25": (("padre abad", "coronel portillo", "atalaya"), ("cacao",)),
}
GIVEN = (
    "María",
    "Juana",
    "Rosa",
    "Elena",
    "Flor",
    "Luz",
    "Carmen",
    "Teresa",
    "Julia",
    "Nelly",
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jorge",
    "Víctor",
    "Wilmer",
    "Edwin",
    "Segundo",
    "Teófilo",
)
SURNAMES = (
    "Quispe",
    "Huamán",
    "Mamani",
    "Flores",
    "Ramírez",
    "Tuanama",
    "Sangama",
    "Panduro",
    "Vásquez",
    "Pinedo",
    "Chávez",
    "Rojas",
    "Torres",
    "Guerra",
    "Tapullima",
    "Salas",
    "Cárdenas",
    "Ríos",
)
KINDS = (
    (
        "association",
        {"cacao": "Asociación de Productores Cacaoteros", "coffee": "Asociación de Productores Cafetaleros"},
    ),
    ("cooperative", {"cacao": "Cooperativa Agraria Cacaotera", "coffee": "Cooperativa Agraria Cafetalera"}),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str
    note: str


def demo_logins(managers: list[tuple[str, str]]) -> list[DemoLogin]:
    logins = [
        DemoLogin("admin", "chacra-demo-admin", "admin", "platform admin"),
        DemoLogin("certificador", "chacra-demo-certificador", "certifier", "DEMO organic control body"),
        DemoLogin("exportador", "chacra-demo-exportador", "exporter", "DEMO Exportadora Amazónica SAC"),
    ]
    logins += [
        DemoLogin(f"gerente{i + 1}", "chacra-demo-gerente", "manager", name)
        for i, (_, name) in enumerate(managers)
    ]
    return logins


def _places() -> list[tuple[str, tuple[str, ...]]]:
    chosen = []
    places = district_places()
    for code, district in sorted(districts().items()):
        spec = REGIONS.get(code[:2])
        if spec is None or code not in places:
            continue
        provinces, products = spec
        if provinces is None or fold(district.province) in provinces:
            chosen.append((code, products))
    return chosen


def _ruc(rng: random.Random, taken: set[str]) -> str:
    while True:
        body = "20" + "".join(rng.choice("0123456789") for _ in range(8))
        number = body + ruc_number.calc_check_digit(body)
        if number not in taken:
            taken.add(number)
            return number


def _plot_geometry(rng: random.Random, lon: float, lat: float) -> tuple[dict[str, Any], Decimal | None]:
    # Farms lie within ~8 km of the district's town; coordinates have the EUDR's 6 decimals.
    angle, distance = rng.uniform(0, 2 * math.pi), rng.uniform(0.005, 0.07)
    cx, cy = lon + distance * math.cos(angle), lat + distance * math.sin(angle)
    if rng.random() < 0.3:
        area = Decimal(str(round(rng.uniform(0.3, 3.9), 2)))
        return {"type": "Point", "coordinates": [Decimal(f"{cx:.6f}"), Decimal(f"{cy:.6f}")]}, area
    hectares = rng.uniform(0.5, 8.0)
    side = math.sqrt(hectares * 10_000) / 111_320  # degrees, near enough at these latitudes
    ring = []
    for k in range(5):
        a = math.pi / 4 + k * math.pi / 2.5 + rng.uniform(-0.15, 0.15)
        r = side * rng.uniform(0.55, 0.75)
        ring.append([Decimal(f"{cx + r * math.cos(a):.6f}"), Decimal(f"{cy + r * math.sin(a):.6f}")])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}, None


async def load_demo(session: AsyncSession) -> list[DemoLogin] | None:
    """Load the demo once; returns the logins, or None when the demo was already loaded."""
    if await repository.get_user_by_username(session, "admin") is not None:
        return None
    rng = random.Random(SEED)
    places = _places()
    taken: set[str] = set()
    now = utcnow()
    cooperatives: list[dict[str, Any]] = []
    farmers: list[dict[str, Any]] = []
    plots: list[dict[str, Any]] = []
    for index in range(ASSOCIATIONS):
        ubigeo, region_products = places[index % len(places)]
        district = districts()[ubigeo]
        kind, labels = KINDS[index % 3 == 0]
        products = sorted(set(region_products[: 1 + (rng.random() < 0.4)]))
        coop_id = new_id("coop")
        name = f"DEMO {labels[region_products[0]]} {district.district} {index + 1:03d}"
        number = _ruc(rng, taken)
        cooperatives.append(
            {
                "id": coop_id,
                "name": name,
                "ruc": number,
                "kind": kind,
                "ubigeo": ubigeo,
                "region": district.region,
                "province": district.province,
                "district": district.district,
                "products": products,
                "gs1_company_prefix": None,
                "gln": None,
                "gtins": None,
                "search_text": f"{fold(name)} {number}",
                "created_at": now + timedelta(microseconds=index),
                "updated_at": now + timedelta(microseconds=index),
            }
        )
        lon, lat = district_places()[ubigeo]
        for f in range(rng.randint(8, 14)):
            farmer_id = new_id("farm")
            farmer_name = f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
            farmers.append(
                {
                    "id": farmer_id,
                    "cooperative_id": coop_id,
                    "name": farmer_name,
                    "name_key": fold(farmer_name),
                    "dni": f"{rng.randint(40_000_000, 79_999_999)}",
                    "gender": rng.choice(("female", "male")),
                    "joined_on": date(2008, 1, 1) + timedelta(days=rng.randint(0, 5400)),
                    "public_name_consent": rng.random() < 0.6,
                    "created_at": now + timedelta(microseconds=f),
                }
            )
            for p in range(rng.randint(1, 2)):
                crop = rng.choice(products)
                while True:
                    geometry, area = _plot_geometry(rng, lon, lat)
                    try:
                        checked = validate_plot_geometry(geometry, area_ha=area)
                        break
                    except DomainError:
                        continue
                plots.append(
                    {
                        "id": new_id("plot"),
                        "farmer_id": farmer_id,
                        "cooperative_id": coop_id,
                        "name": f"Parcela {p + 1} ({crop})",
                        "crop": crop,
                        **checked.columns(ubigeo=None),
                        "altitude_m": rng.randint(350, 1800),
                        "organic_since": date(2015, 1, 1) + timedelta(days=rng.randint(0, 3300))
                        if rng.random() < 0.7
                        else None,
                        "created_at": now,
                    }
                )
    # A farm up to 8 km from its association's town may lie in the next district: derive each one.
    derive_districts(plots)
    await repository.bulk_insert(session, Cooperative, cooperatives)
    await repository.bulk_insert(session, Farmer, farmers)
    await repository.bulk_insert(session, Plot, plots)
    managers = [(c["id"], c["name"]) for c in cooperatives[:6]]
    logins = demo_logins(managers)
    for login in logins:
        role = Role(login.role)
        await create_user(
            session,
            data=UserCreate(
                username=login.username,
                password=login.password,
                role=role,
                cooperative_id=managers[int(login.username[7:]) - 1][0] if role is Role.MANAGER else None,
                certifying_body_id=DEMO_CERTIFYING_BODY_ID if role is Role.CERTIFIER else None,
                organization=login.note if role is Role.EXPORTER else None,
            ),
        )
    return logins
