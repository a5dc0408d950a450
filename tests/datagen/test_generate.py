"""The demo-world generator: determinism, planted effects and the command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import generate
from data import world as world_mod
from engine import kpis

ROOT = Path(__file__).resolve().parents[2]
TABLES = [
    "regions",
    "communities",
    "users",
    "skus",
    "campaigns",
    "orders",
    "order_items",
    "inventory",
    "browse_events",
    "chat_activity",
    "topics",
    "weather",
    "feedback",
    "devices",
    "truth_user_persona",
    "truth_elasticity",
    "truth_trend",
]


def table_hash(con, table: str) -> str:
    return con.execute(
        f"SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM {table} t"
    ).fetchall()[0][0]


@pytest.fixture(scope="module")
def same_seed():
    con = generate.generate(":memory:", scale="small", seed=7)
    yield con
    con.close()


def test_same_seed_gives_identical_tables(world, same_seed):
    """Two builds with seed 7 hash identically, table by table."""
    cur = world.cursor()
    for t in TABLES:
        assert table_hash(cur, t) == table_hash(same_seed, t), t


def test_another_seed_gives_different_tables(world):
    """Seed 8 changes the users, orders and lines."""
    other = generate.generate(":memory:", scale="small", seed=8)
    cur = world.cursor()
    for t in ("users", "orders", "order_items", "campaigns"):
        assert table_hash(cur, t) != table_hash(other, t), t
    other.close()


def test_price_exploration_changes_only_prices_and_what_follows(world, explored_world):
    """Off by default; on, the population and weather stay the seed's, every listing is priced
    within the range (above list too) and the meta table says so."""
    cur, exp = world.cursor(), explored_world.cursor()
    for t in ("users", "skus", "communities", "weather"):
        assert table_hash(cur, t) == table_hash(exp, t), t
    assert table_hash(cur, "orders") != table_hash(exp, "orders")
    lo, hi, above = exp.execute(
        "SELECT min(price / list_price), max(price / list_price), "
        "avg((price > list_price * 1.05)::INT) FROM campaigns"
    ).fetchall()[0]
    assert 0.55 <= lo <= 0.62 and 1.28 <= hi <= 1.35 and above > 0.2
    meta = dict(exp.execute("SELECT key, value FROM meta").fetchall())
    assert meta["price_exploration"] == "0.6-1.3"
    assert "price_exploration" not in dict(cur.execute("SELECT key, value FROM meta").fetchall())
    with pytest.raises(ValueError, match="price_exploration"):
        generate.generate(":memory:", scale="small", price_exploration=(1.2, 0.8))


def test_scale_sizes(world):
    """The small world has about 20 communities, 2,000 users and 90 days."""
    cur = world.cursor()
    n_c, n_u = cur.execute(
        "SELECT (SELECT count(*) FROM communities), (SELECT count(*) FROM users)"
    ).fetchall()[0]
    days = cur.execute("SELECT max(order_date) - min(order_date) + 1 FROM orders").fetchall()[0][0]
    n_sku, n_cat = cur.execute("SELECT count(*), count(DISTINCT category) FROM skus").fetchall()[0]
    assert (n_c, n_u, days) == (20, 2000, 90)
    assert n_sku == 300 and n_cat == 15


def test_weekly_pattern_visible_in_gmv(world):
    """GMV relative to its centred weekly mean follows the planted weekday factors."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    tr = kpis.trend(cur, lo, hi, "day").set_index("period")["gmv"]
    ratio = (tr / tr.rolling(7, center=True).mean()).dropna()
    by_wd = ratio.groupby(pd.to_datetime(ratio.index).day_of_week).mean()
    planted = np.array(
        world.cursor()
        .execute("SELECT value FROM truth_effects WHERE effect = 'weekday' ORDER BY key")
        .fetchall()
    ).ravel()
    assert np.corrcoef(by_wd.to_numpy(), planted)[0, 1] > 0.8
    assert by_wd[5] / by_wd[1] > 1.1  # Saturday above Tuesday


def test_mid_autumn_lifts_bakery(world):
    """In the week before 中秋节 the bakery share of GMV rises well above the weeks after."""
    cur = world.cursor()
    first = min(d for d in world_mod.festival_first_days()["中秋节"] if d > date(2026, 8, 27))
    share = (
        cur.execute(
            """SELECT o.order_date < ? AS before,
                  sum(i.qty * i.unit_price) FILTER (WHERE s.category = '烘焙糕点')
                  / sum(i.qty * i.unit_price) AS share
           FROM order_items i JOIN orders o USING (order_id) JOIN skus s USING (sku_id)
           WHERE o.order_date BETWEEN ? AND ? GROUP BY 1""",
            [first, first - timedelta(days=7), first + timedelta(days=21)],
        )
        .df()
        .set_index("before")["share"]
    )
    assert share[True] > 1.8 * share[False]


def test_spring_festival_dip_and_run_up():
    """Orders drop during the Spring Festival holiday after a pre-festival run-up."""
    con = generate.generate(":memory:", scale="small", seed=3, end=date(2026, 3, 10))
    daily = con.execute("SELECT order_date, count(*) AS n FROM orders GROUP BY 1").df()
    daily = daily.set_index(pd.to_datetime(daily["order_date"]))["n"]
    holiday = daily["2026-02-15":"2026-02-23"].mean()
    run_up = daily["2026-02-05":"2026-02-14"].mean()
    meat = con.execute(
        """SELECT o.order_date BETWEEN '2026-02-05' AND '2026-02-14' AS pre,
                  avg(s.category IN ('肉禽蛋', '水产')::INT) AS share
           FROM order_items i JOIN orders o USING (order_id) JOIN skus s USING (sku_id)
           WHERE o.order_date BETWEEN '2026-01-10' AND '2026-02-14' GROUP BY 1"""
    ).df()
    meat = meat.set_index("pre")["share"]
    con.close()
    assert holiday < 0.75 * run_up
    assert meat[True] > 1.2 * meat[False]


def test_group_success_and_loss_improve_after_adoption(world):
    """The planted adoption lifts group success and cuts the loss rate, as in the seeds."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    early = (lo, lo + timedelta(days=29))
    late = (hi - timedelta(days=29), hi)
    assert kpis.group_success_rate(cur, *late) > kpis.group_success_rate(cur, *early) + 0.1
    assert kpis.loss_rate(cur, *early) > 0.1 > 0.05 > kpis.loss_rate(cur, *late)


def test_cli_refuses_to_overwrite(tmp_path):
    """The command line will not replace an existing file without --force."""
    target = tmp_path / "w.duckdb"
    target.write_bytes(b"not a database")
    run = subprocess.run(
        [sys.executable, "-m", "data.generate", "--scale", "small", "--db", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "--force" in run.stderr
    assert target.read_bytes() == b"not a database"


def test_cli_builds_with_progress(tmp_path):
    """`--force` builds a world, shows progress and reports the row counts."""
    target = tmp_path / "w.duckdb"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "data.generate",
            "--scale",
            "small",
            "--seed",
            "2",
            "--db",
            str(target),
            "--force",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "100%" in run.stderr and "orders" in run.stdout
    assert target.exists() and not Path(str(target) + ".building").exists()


def test_unknown_scale_is_rejected():
    """An unknown scale name is a clear ValueError."""
    with pytest.raises(ValueError, match="unknown scale"):
        generate.generate(":memory:", scale="huge")


def test_cold_chain_history_with_planted_faults(world):
    """The world carries two days of device readings and the faults planted in them."""
    cur = world.cursor()
    n, devices = cur.execute(
        "SELECT count(*), count(DISTINCT device_id) FROM telemetry"
    ).fetchall()[0]
    n_dev = cur.execute("SELECT count(*) FROM devices").fetchall()[0][0]
    kinds = {r[0] for r in cur.execute("SELECT DISTINCT fault FROM truth_device_faults").fetchall()}
    assert n > 1000 and devices == n_dev
    assert {"compressor_failure", "door_left_open", "sensor_dropout", "defrost"} <= kinds
