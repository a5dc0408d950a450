"""团长工作台 (leader workbench) page: lists per pickup point, phone masking per role, tabs."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import nav
from engine import auth, clock
from engine import db as dbmod
from tests.pages.conftest import APP

PAGE = str(nav.ROOT / "pages" / "leaders.py")
MASKED = r"^\d{3}\*{4}\d{4}$"


@pytest.fixture
def local_auth(app_env, monkeypatch):
    monkeypatch.setenv("LINLI_AUTH", "local")


def _open(app, role, lang="en"):
    scope = auth.Scope(regions=(1,)) if role == "regional_manager" else auth.ALL
    at = app(lang, user=auth.User("u", role, "U", scope), last_seen=datetime.now())
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _customers(at):
    return at.dataframe[0].value


@pytest.mark.parametrize(
    ("role", "full"),
    [("admin", True), ("dispatcher", True), ("regional_manager", True),
     ("analyst", False), ("executive", False)],
)  # fmt: skip
def test_phones_masked_unless_the_role_may_see_them(app, local_auth, role, full):
    """The pickup list shows full numbers to ops roles and masked ones to everyone else."""
    at = _open(app, role)
    cust = _customers(at)
    assert len(cust) > 0 and {"user_id", "phone", "items"} <= set(cust.columns)
    masked = cust["phone"].str.fullmatch(MASKED)
    assert masked.all() != full and masked.any() != full
    note = any("masked" in c.value for c in at.caption)
    assert note != full


def test_demo_mode_masks_phones(app):
    """Without a signed-in user (demo mode) phone numbers are masked."""
    at = app("zh")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert _customers(at)["phone"].str.fullmatch(MASKED).all()
    assert any(t.value == "团长工作台" for t in at.title)


def test_lists_commission_and_ranking_render(app, local_auth):
    """The three tabs show the pickup list, near-threshold groups, statement and tier rules."""
    at = _open(app, "admin")
    labels = [m.label for m in at.metric]
    assert {"Customers", "Orders", "Units", "Amount", "Commission total"} <= set(labels)
    frames = [d.value for d in at.dataframe]
    assert any("commission" in f.columns and "status" in f.columns for f in frames)
    assert any("tier" in f.columns and "gmv_pct" in f.columns for f in frames)
    rules = next(f for f in frames if "min_gmv_pct" in f.columns)
    assert rules["tier"].iloc[0] == "Gold leader"
    assert [x.label for x in at.tabs] == ["Pickup list", "Commission", "Ranking and tiers"]


def test_another_pickup_point_changes_the_list(app, local_auth):
    """Choosing another pickup point lists that point's customers."""
    at = _open(app, "admin")
    first = set(_customers(at)["user_id"])
    at.selectbox(key="ld_point").select_index(1).run()
    assert not at.exception
    assert set(_customers(at)["user_id"]).isdisjoint(first)


def test_no_approved_plan_says_so(app, local_auth):
    """Without an approved plan for tomorrow the page says where to make one."""
    at = _open(app, "admin")
    assert any("No approved plan" in i.value for i in at.info)


def test_approved_plan_groups_are_listed(world_file, tmp_path, monkeypatch):
    """An approved plan for tomorrow shows its groups (price, threshold) for the point."""
    path = tmp_path / "w.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    day = clock.next_delivery_day(con)
    con.execute(
        "INSERT INTO group_plans (plan_id, sale_date, as_of, created_at, rule_text, settings, "
        "status, approved_by, approved_at) VALUES ('P-T', ?, ?, now(), 'r', '{}', 'approved', "
        "'rm', now())",
        [day, day - timedelta(days=1)],
    )
    con.execute(
        "INSERT INTO group_plan_items (plan_id, community_id, rank, sku_id, source, price, "
        "threshold, expected_units, p_success, expected_gmv, expected_margin) VALUES "
        "('P-T', 1, 1, 3, 'rule', 6.5, 4, 9, 0.93, 58.5, 12), "
        "('P-T', 1, 2, 18, 'rule', 8.8, 5, 7, 0.91, 61.6, 14)"
    )
    con.close()
    for k, v in {"LINLI_DB": str(path), "LINLI_AUTH": "none", "LINLI_MQTT_URL": "none"}.items():
        monkeypatch.setenv(k, v)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "en"
    at.switch_page(PAGE).run()
    assert not at.exception
    groups = next(d.value for d in at.dataframe if "p_success" in d.value.columns)
    assert list(groups["threshold"]) == [4, 5] and list(groups["price"]) == [6.5, 8.8]
    st.cache_resource.clear()
