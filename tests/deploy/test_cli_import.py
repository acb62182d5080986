"""``chacra import`` run as a person runs it: a subprocess on a fresh SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.factories import valid_dni, valid_ruc

CHACRA = Path(sys.executable).with_name("chacra")
COOPERATIVE_HEADER = "name,ruc,kind,ubigeo,products,gs1_company_prefix,gln"
FARMER_HEADER = (
    "farmer_name,dni,gender,joined_on,public_name_consent,plot_name,crop,geometry,area_ha,altitude_m,"
    "organic_since"
)
PLOT_WKT = (
    '"POLYGON ((-76.360123 -6.490456, -76.359087 -6.490433, -76.359102 -6.489421, '
    '-76.360141 -6.489437, -76.360123 -6.490456))"'
)


class Chacra:
    """The installed ``chacra`` command with its own database and signing key under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.db_file = tmp_path / "chacra.db"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHACRA_")}
        self.env.update(
            CHACRA_DATABASE_URL=f"sqlite+aiosqlite:///{self.db_file}",
            CHACRA_AUTH__SIGNING_KEY_FILE=str(tmp_path / "signing-key.pem"),
            COLUMNS="200",  # Rich wraps its output at the terminal width
        )

    def write(self, name: str, header: str, rows: Sequence[str]) -> Path:
        path = self.dir / name
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [str(CHACRA), *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_file) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def chacra(tmp_path: Path) -> Chacra:
    return Chacra(tmp_path)


def cooperative_rows(count: int) -> list[str]:
    return [f"Cooperativa {i},{valid_ruc()},cooperative,220901,cacao;coffee,," for i in range(count)]


def test_import_cooperatives_prints_the_result_as_json(chacra: Chacra) -> None:
    path = chacra.write("coops.csv", COOPERATIVE_HEADER, cooperative_rows(3))
    done = chacra.run("import", "cooperatives", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "created": 3,
        "rows": 3,
        "dry_run": False,
        "errors": [],
    }
    assert chacra.query("SELECT count(*) FROM cooperatives") == [(3,)]


def test_bad_file_exits_1_and_prints_every_bad_line(chacra: Chacra) -> None:
    rows = cooperative_rows(2)
    rows.insert(1, "Mala,20123456789,cooperative,220901,cacao,,")  # line 3
    rows.append(f"Lejana,{valid_ruc()},cooperative,999999,cacao,,")  # line 5
    done = chacra.run("import", "cooperatives", str(chacra.write("bad.csv", COOPERATIVE_HEADER, rows)))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "line 3, column ruc:" in done.stderr
    assert "line 5, column ubigeo:" in done.stderr
    assert chacra.query("SELECT count(*) FROM cooperatives") == [(0,)]


def test_error_details_are_printed_verbatim(chacra: Chacra) -> None:
    # A cell is echoed in the detail; square brackets must not be taken for Rich markup.
    rows = ["Corchetes,[/b],cooperative,220901,cacao,,", "Negrita,[bold]1[/bold],cooperative,220901,cacao,,"]
    done = chacra.run("import", "cooperatives", str(chacra.write("brackets.csv", COOPERATIVE_HEADER, rows)))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "'[/b]' is not a valid RUC" in done.stderr
    assert "'[bold]1[/bold]' is not a valid RUC" in done.stderr


def test_dry_run_writes_nothing(chacra: Chacra) -> None:
    path = chacra.write("coops.csv", COOPERATIVE_HEADER, cooperative_rows(2))
    done = chacra.run("import", "cooperatives", "--dry-run", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dry_run"] is True
    assert json.loads(done.stdout)["created"] == 0
    assert chacra.query("SELECT count(*) FROM cooperatives") == [(0,)]


def test_import_farmers_into_a_cooperative(chacra: Chacra) -> None:
    coops = chacra.run(
        "import", "cooperatives", str(chacra.write("c.csv", COOPERATIVE_HEADER, cooperative_rows(1)))
    )
    assert coops.returncode == 0, coops.stderr
    [(cooperative_id,)] = chacra.query("SELECT id FROM cooperatives")
    dni = valid_dni()
    rows = [f"Rosa Huamán,{dni},female,,true,Parcela {i},cacao,{PLOT_WKT},,," for i in range(2)]
    path = chacra.write("farmers.csv", FARMER_HEADER, rows)
    done = chacra.run("import", "farmers", "--cooperative", cooperative_id, str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 1
    assert json.loads(done.stdout)["plots_created"] == 2
    assert chacra.query("SELECT count(*) FROM plots") == [(2,)]


def test_import_farmers_without_a_cooperative_exits_2(chacra: Chacra) -> None:
    path = chacra.write("farmers.csv", FARMER_HEADER, [])
    done = chacra.run("import", "farmers", str(path))
    assert done.returncode == 2
    assert "--cooperative" in done.stderr
