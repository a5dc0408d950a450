"""Property-based fuzzing of the file importer: clean outcomes only, nothing partial written.

10,000 hostile rows (profile ``security``) are drawn: a table's good row with two cells
replaced by hostile text (infinities, 400 digits, year 1, formulas, unknown codes, NUL,
quotes, newlines, 300 characters, ...). Importing costs ~30 ms per file, far more than a
row, so the rows are imported in CSV files of 500 per table, every file through
``files.import_file``. For each file: either ``ImportFileError`` with the database untouched,
or every row loaded, quarantined or skipped — the table grows by exactly the rows loaded and
the quarantine by the rows rejected. Afterwards no stored row breaks a documented limit, and
a file with a rejected row in abort mode writes nothing.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors import files, tables
from connectors.validation import ImportFileError
from engine import limits
from tests.security.profile import FUZZ
from tests.security.test_import_values import GOOD, NOW, snapshot

CELLS = [
    "inf", "-inf", "Infinity", "NaN", "nan", "1e308", "1e309", "-1e308", "9" * 400, "99999999999",
    "-1", "0", "1", "2", "5", "1,000", "¥12", "1,5", "0x10", "1_000", " 5 ", "\ufeff1", "1e-400",
    "100000001", "1000001", "999", "-91", "90", "180", "-180.5",
    "0001-01-01", "1900-01-01", "1970-01-01", "1999-12-31", "2000-01-01", "2024-02-01 08:00",
    "2024-03-01", "9999-12-31", "2031-01-01", "2025-02-30", "2025年3月1日", "2025/3/1 8:00",
    "=cmd|' /C calc'!A0", "@SUM(1)", "+x", "-x", "", " ", "null", "N/A", "true", "是",
    "x" * 201, "米" * 200, "米" * 201, "'; DROP TABLE orders; --", "\x00", "a\nb", '"', ",", ";",
    "shipped", "paid", "cancelled", "refunded", "PAID", "ambient", "warm", "mixed", "castle",
    "\ud800", "😀", "[1,2]", "{}",
]  # fmt: skip
TABLES = list(GOOD)
WIDEST = max(len(GOOD[t][0].split(",")) for t in TABLES)

# Two draws per example (generation, not importing, dominates the per-example time).
PLACES = [(t, i, j) for t in TABLES for i in range(WIDEST) for j in range(WIDEST)]
PAIRS = [(a, b) for a in CELLS for b in CELLS]
rows = st.tuples(st.sampled_from(PLACES), st.sampled_from(PAIRS))
CODES = {"empty", "missing_columns", "encoding", "line_too_long", "format", "table", "load"}


def to_csv(header: list[str], records: list[dict[str, str]]) -> bytes:
    """CSV bytes (quoted as Excel does) of ``records``; unencodable text is replaced."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([r[h] for h in header] for r in records)
    return buf.getvalue().encode("utf-8", "replace")


def test_fuzz_file_importer(linli):
    """10,000 hostile rows in files of 500: ImportFileError untouched, or every row accounted for."""
    drawn: dict[str, list[dict[str, str]]] = {t: [] for t in TABLES}
    hostile: dict[str, list[set[str]]] = {t: [] for t in TABLES}

    @FUZZ
    @given(rows)
    def draw(recipe: tuple) -> None:
        (table, i1, i2), (v1, v2) = recipe
        header, good = (part.split(",") for part in GOOD[table])
        record = dict(zip(header, good, strict=True))
        changed = {header[i1 % len(header)]: v1, header[i2 % len(header)]: v2}
        drawn[table].append(record | changed)
        hostile[table].append(set(changed))

    draw()
    assert sum(map(len, drawn.values())) >= FUZZ.max_examples

    # Unique keys (unless a key cell is the hostile one), so rows are not just duplicates;
    # order lines get orders of their own, loaded first.
    order_ids = range(100_000, 100_000 + len(drawn["order_items"]))
    files.import_file(
        linli,
        to_csv(["order_id", "user_id", "created_at"],
               [{"order_id": str(o), "user_id": "1", "created_at": "2025-03-01 08:00"} for o in order_ids]),
        name="orders.csv", table="orders", now=NOW,
    )  # fmt: skip
    for table in TABLES:
        key = tables.spec(table).key[0] if table != "inventory" else "stock_date"
        for n, (record, bad) in enumerate(zip(drawn[table], hostile[table], strict=True)):
            if key not in bad:
                day = limits.DATE_MIN + timedelta(days=n)
                record[key] = str(100_000 + n) if table != "inventory" else day.isoformat()
            if table == "order_items" and "order_id" not in bad:
                record["order_id"] = str(order_ids[n])

    outcomes = {"files": 0, "refused": 0, "loaded": 0, "rejected": 0, "skipped": 0}
    for table in TABLES:
        header = GOOD[table][0].split(",")
        for k in range(0, len(drawn[table]), 500):
            chunk = drawn[table][k : k + 500]
            data = to_csv(header, chunk)
            before = snapshot(linli)
            outcomes["files"] += 1
            try:
                rep = files.import_file(linli, data, table=table, name=f"{table}{k}.csv", now=NOW)
            except ImportFileError as exc:
                assert exc.code in CODES and snapshot(linli) == before
                outcomes["refused"] += 1
                continue
            after = snapshot(linli)
            t = rep.tables[0]
            assert rep.written and t.rows_in == len(chunk)
            assert t.rows_valid + t.rows_rejected + t.rows_skipped == t.rows_in
            assert after[table] - before[table] == rep.rows_loaded
            assert after["import_quarantine"] - before["import_quarantine"] == t.rows_rejected
            for key in ("loaded", "rejected"):
                outcomes[key] += getattr(rep, f"rows_{key}")
            outcomes["skipped"] += t.rows_skipped
            # The same file in abort mode, where a row was rejected, writes nothing.
            if t.rows_rejected and k == 0:
                before = snapshot(linli)
                rep = files.import_file(linli, data, table=table, name="again.csv", now=NOW,
                                        on_error="abort", force=True)  # fmt: skip
                assert not rep.written and snapshot(linli) == before
    assert outcomes["loaded"] and outcomes["rejected"]
    assert_stored_rows_within_limits(linli)


def assert_stored_rows_within_limits(con) -> None:
    """No row in the database breaks a documented limit (each query counts violations)."""
    lo, hi = limits.DATE_MIN, limits.DATE_MAX
    price = limits.IMPORT_MAX_PRICE
    violations = {
        "skus": "NOT (list_price BETWEEN 0 AND ? AND unit_cost BETWEEN 0 AND ?) "
        "OR launched NOT BETWEEN ? AND ? OR storage NOT IN ('ambient', 'chilled', 'frozen') "
        "OR length(name) > ?",
        "order_items": "NOT (unit_price BETWEEN 0 AND ?) OR refund_qty > qty OR qty > ?",
        "orders": "status NOT IN ('paid', 'cancelled', 'refunded') OR created_at < ? "
        "OR created_at > ? OR created_at < (SELECT signup_date FROM users u "
        "WHERE u.user_id = orders.user_id)",
        "communities": "NOT (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180) OR opened < ?",
        "users": "signup_date NOT BETWEEN ? AND ? OR length(building) > ?",
        "inventory": "stock_date < ? OR on_hand > ?",
    }
    params = {
        "skus": [price, price, lo, hi, limits.IMPORT_MAX_TEXT_CHARS],
        "order_items": [price, limits.IMPORT_MAX_QTY],
        "orders": [lo, hi],
        "communities": [lo],
        "users": [lo, hi, limits.IMPORT_MAX_TEXT_CHARS],
        "inventory": [lo, limits.IMPORT_MAX_QTY],
    }
    found = {
        t: con.execute(f"SELECT count(*) FROM {t} WHERE {cond}", params[t]).fetchone()[0]
        for t, cond in violations.items()
    }
    assert found == dict.fromkeys(violations, 0), found
