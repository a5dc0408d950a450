"""Output safety: formulas inside list cells never reach an export; tags are checked on import.

Every export goes through :func:`engine.cells.neutralise`; the file importer refuses text and
tag cells that a spreadsheet would run (:func:`engine.cells.formula_sql`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from connectors import export, files
from engine import cells, db
from tests.connectors.conftest import seed

NOW = datetime(2026, 11, 20, 12, 0)
PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://evil","x")',
    "+SUM(A1)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1)",
    "\t=x",
    "\r=x",
    " =1+1",
    "\n@cmd",
]


def _is_formula(text: str) -> bool:
    return text.lstrip().startswith(cells.TRIGGERS)


def _csv_elements(data: bytes) -> list[str]:
    """Every cell of a CSV export, and every element of a cell split at ', ' as tags are."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    out = []
    for row in rows:
        for cell in row:
            out.append(cell)
            out.extend(cell.split(", "))
    return out


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_csv_export_neutralises_every_list_element(payload, position):
    """A formula anywhere in a tag list is neutralised, in the cell and in each split element."""
    tags = {
        "first": [payload, "a", "b"],
        "middle": ["a", payload, "b"],
        "last": ["a", "b", payload],
    }
    df = pd.DataFrame({"sku_id": [1], "tags": [tags[position]]})
    for cell in _csv_elements(export.to_csv_bytes(df)):
        assert not _is_formula(cell), repr(cell)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_excel_export_neutralises_list_elements(payload):
    """The Excel workbook holds no formula and no formula-starting element in a tag cell."""
    df = pd.DataFrame({"tags": [["a", payload]], "name": [payload]})
    wb = openpyxl.load_workbook(io.BytesIO(export.to_excel_bytes(df)))
    for row in wb.active.iter_rows(values_only=True):
        for cell in row:
            assert not isinstance(cell, str) or all(
                not _is_formula(part) for part in [cell, *cell.split(", ")]
            ), repr(cell)
    assert not any(c.data_type == "f" for row in wb.active.iter_rows() for c in row)


def test_list_cells_from_duckdb_and_nested_lists():
    """Lists as DuckDB returns them (numpy arrays) and lists inside lists are neutralised too."""
    con = duckdb.connect()
    df = con.execute("SELECT ['ok', '=1+1'] AS tags, [['x', '@cmd']] AS nested").df()
    out = cells.neutralise(df)
    assert out["tags"][0] == "ok, '=1+1"
    assert "'@cmd" in out["nested"][0]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["=1+1", "ok"], dtype="category"),
        pd.Series(["=1+1", "ok"], dtype=pd.ArrowDtype(pa.string())),
        pd.Series([["ok", "=1+1"], []], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
    ],
    ids=["categorical", "arrow string", "arrow list"],
)
def test_categorical_and_arrow_columns_are_neutralised(column):
    """Text held in categorical or Arrow-typed columns is checked like plain text."""
    out = cells.neutralise(pd.DataFrame({"c": column}))
    assert not _is_formula(str(out["c"][0])) and "'=1+1" in str(out["c"][0])


@pytest.mark.parametrize("value", ["-5", "+86 138 0000 0000", "-0.5", "正常", "a=b", 3, -1.5])
def test_plain_numbers_and_text_are_not_neutralised_on_import_or_export(value):
    """Signed numbers and phone numbers stay importable; numbers stay numbers in exports."""
    if isinstance(value, str) and value[0] in "+-":
        con = duckdb.connect()
        sql = f"SELECT {cells.formula_sql('v')} FROM (SELECT ?::VARCHAR AS v)"
        assert con.execute(sql, [value]).fetchone()[0] is False
    else:
        assert cells.neutralise_cell(value) == value


@pytest.fixture
def linli():
    con = db.connect(":memory:")
    seed(con)
    yield con
    con.close()


SKU_HEADER = "sku_id,name,category,shelf_life_days,list_price,unit_cost,weight_kg,supplier_id,tags,launched\n"


@pytest.mark.parametrize("payload", ["=1+1", "@SUM(1)", "+cmd", "-2+3+cmd|' /C calc'!A0"])
@pytest.mark.parametrize("sep", [",", "|", "；"])
def test_tags_are_formula_checked_on_import(linli, payload, sep):
    """A tag that would run as a formula quarantines its row with reason formula:tags."""
    tags = sep.join(["organic", payload])
    body = (
        f'20,有机菠菜,蔬菜,5,6.9,3.1,0.5,1,"organic",2025-01-02\n'
        f'21,进口车厘子,水果,7,59.9,40,1,1,"{tags.replace(chr(34), chr(34) * 2)}",2025-01-02\n'
    )
    rep = files.import_file(linli, (SKU_HEADER + body).encode(), name="skus.csv", now=NOW)
    assert rep.tables[0].problems == {"formula:tags": 1}
    stored = linli.execute("SELECT sku_id FROM skus WHERE sku_id >= 20").fetchall()
    assert stored == [(20,)]


def test_neutralised_export_reimports_without_formulas(linli):
    """An export with hostile tags, imported again, stores no formula (the row is refused)."""
    df = pd.DataFrame(
        {
            "sku_id": [30],
            "name": ["=cmd"],
            "category": ["水果"],
            "shelf_life_days": [5],
            "list_price": [1.0],
            "unit_cost": [0.5],
            "weight_kg": [0.1],
            "supplier_id": [1],
            "tags": [["ok", "=1+1", "@x"]],
            "launched": ["2025-01-02"],
        }
    )
    rep = files.import_file(linli, export.to_csv_bytes(df), name="skus.csv", now=NOW)
    # The importer trims quotes around list elements (['a', 'b'] lists), apostrophes included,
    # so a neutralised tag reads as the formula again: it is quarantined, never stored.
    assert rep.tables[0].problems == {"formula:tags": 1}
    assert linli.execute("SELECT count(*) FROM skus WHERE sku_id = 30").fetchone()[0] == 0
    df["tags"] = [["ok", "low_sugar"]]
    rep = files.import_file(linli, export.to_csv_bytes(df), name="skus2.csv", now=NOW)
    assert rep.rows_loaded == 1, rep.problems
    name, tags = linli.execute("SELECT name, tags FROM skus WHERE sku_id = 30").fetchone()
    assert (name, tags) == ("'=cmd", ["ok", "low_sugar"])
