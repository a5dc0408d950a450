"""Publishing an approved plan, end to end: listings, storefront file, leader lists, supplier POs."""

from __future__ import annotations

import io
import json
import shutil
import time
from datetime import timedelta

import openpyxl
import pandas as pd
import pytest

from engine import clock, db, planning
from engine.actions import channels, publish
from tests.ops.outbox_drain import drain
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_files, mail_text


@pytest.fixture(scope="module")
def published(world_file, tmp_path_factory):
    """A copy of the small world with tomorrow's plan saved, approved and published once."""
    path = tmp_path_factory.mktemp("publish") / "w.duckdb"
    shutil.copy(world_file, path)
    con = db.connect(path)
    cur = con.cursor()
    sale = clock.as_of(cur) + timedelta(days=1)
    plan = planning.build(cur, sale, planning.PlanSettings(route=False))
    pid = planning.save(cur, plan)
    with pytest.raises(ValueError, match="approve it"):
        publish.publish(cur, pid, purchase=plan.purchase)
    planning.approve(cur, pid, "tester")
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    channels.set_channel(cur, "leader", hook.url("/leaders"))
    channels.set_channel(cur, "storefront", hook.url("/storefront"))
    channels.set_channel(cur, "supplier", smtp.url())
    sup = int(plan.suppliers["supplier_id"].iloc[0])
    channels.set_contact(cur, f"supplier:{sup}", "orders@sup.example")
    first = publish.publish(cur, pid, username="tester", purchase=plan.purchase)
    drain(con)
    yield con, cur, plan, first, hook, smtp
    hook.close()
    smtp.close()
    con.close()


def test_listings_created_for_the_sale_date(published):
    """Every planned community × SKU is a campaign of the sale date at the planned price."""
    _con, cur, plan, first, *_ = published
    got = cur.execute(
        "SELECT community_id, sku_id, price, threshold, units, sale_date FROM campaigns "
        "WHERE plan_id = ?",
        [plan.plan_id],
    ).df()
    assert first.listings_created == len(plan.items) == len(got)
    m = got.merge(plan.items, on=["community_id", "sku_id"], suffixes=("", "_plan"))
    assert len(m) == len(plan.items)
    assert (m["price"] == m["price_plan"]).all() and (m["threshold"] == m["threshold_plan"]).all()
    assert (got["units"] == 0).all() and (
        pd.to_datetime(got["sale_date"]).dt.date == plan.sale_date
    ).all()


def test_each_leader_gets_their_list(published):
    """One message per leader with every item, price, threshold, cut-off and pickup time."""
    _con, cur, plan, _first, hook, _ = published
    leaders = [h for h in hook.hits if h.path == "/leaders"]
    n_comm = plan.items["community_id"].nunique()
    assert len(leaders) == n_comm and len({h.key for h in leaders}) == n_comm
    front = publish.storefront(cur, plan.plan_id)
    c = int(plan.items["community_id"].iloc[0])
    name = cur.execute("SELECT name FROM leaders WHERE community_id = ?", [c]).fetchall()[0][0]
    (msg,) = [h for h in leaders if h.message.startswith(f"{name} 团长")]
    rows = front[front["community_id"] == c]
    for r in rows.itertuples():
        assert f"{r.sku_name}：团购价 ¥{r.price:.2f}/{r.unit}" in msg.message
        assert f"成团 {r.threshold} 件" in msg.message
    assert f"截单时间：{plan.sale_date} 22:00" in msg.message
    assert rows["pickup_point"].iloc[0] in msg.message and "提货时间" in msg.message


def test_each_supplier_gets_its_order_as_excel(published):
    """Each supplier's mail carries its purchase lines as Excel, totals in the text."""
    _con, _cur, plan, _first, _, smtp = published
    mails = smtp.wait(len(plan.suppliers))
    assert len(mails) == len(plan.suppliers)
    po = plan.purchase[plan.purchase["qty"] > 0].rename(columns={"qty": "order_qty"})
    contact = int(plan.suppliers["supplier_id"].iloc[0])
    for mail, (_, to) in zip(mails, smtp.envelopes, strict=True):
        ((name, content),) = mail_files(mail).items()
        assert name.endswith(".xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(content))
        lines = pd.DataFrame(list(wb["采购单"].values)[1:], columns=next(wb["采购单"].values))
        summary = dict(list(wb["汇总"].values)[1:])
        sid = int(summary["采购单号"].rsplit("-", 1)[1])
        want = po[po["supplier_id"] == sid]
        assert sorted(lines["商品编号"]) == sorted(want["sku_id"])
        assert lines["数量"].sum() == want["order_qty"].sum() == int(summary["总数量"])
        assert f"{int(summary['总数量'])} 件" in mail_text(mail)
        assert (to == ["orders@sup.example"]) == (sid == contact)


def test_storefront_file_round_trips(published):
    """The storefront message carries the JSON and CSV files, same rows, documented columns."""
    _con, _cur, plan, _first, hook, _ = published
    (front,) = [h for h in hook.hits if h.path == "/storefront"]
    files = front.files()
    doc = json.loads(files["listings.json"])
    assert doc["format"] == "linli.listings/1" and len(doc["listings"]) == len(plan.items)
    assert list(doc["listings"][0]) == publish.STOREFRONT_COLUMNS
    csv = pd.read_csv(io.BytesIO(files["listings.csv"]), encoding="utf-8-sig")
    assert list(csv.columns) == publish.STOREFRONT_COLUMNS and len(csv) == len(plan.items)


def test_republish_after_an_edit_sends_a_correction_not_a_duplicate(published):
    """Unchanged: nothing sent. One price edited: one 【更正】 to that leader naming the change."""
    con, cur, plan, _first, hook, smtp = published
    before_hits, before_mails = len(hook.hits), len(smtp.mails)
    again = publish.publish(cur, plan.plan_id)
    assert (again.messages, again.listings_created, again.listings_updated) == (0, 0, 0)
    row = plan.items.iloc[0]
    cur.execute(
        "UPDATE group_plan_items SET price = price + 1 WHERE plan_id = ? AND community_id = ? "
        "AND sku_id = ?",
        [plan.plan_id, int(row["community_id"]), int(row["sku_id"])],
    )
    fix = publish.publish(cur, plan.plan_id, username="tester")
    assert (fix.listings_updated, fix.corrections, fix.revision) == (1, 1, 2)
    drain(con)
    new = [h for h in hook.wait(before_hits + 2)[before_hits:] if h.path == "/leaders"]
    assert len(new) == 1 and new[0].title.startswith("【更正】")
    assert f"→ ¥{row['price'] + 1:.2f}" in new[0].message
    time.sleep(0.3)
    assert len(smtp.mails) == before_mails  # purchase unchanged: no supplier mail
    price = cur.execute(
        "SELECT price FROM campaigns WHERE plan_id = ? AND community_id = ? AND sku_id = ?",
        [plan.plan_id, int(row["community_id"]), int(row["sku_id"])],
    ).fetchall()[0][0]
    assert price == pytest.approx(row["price"] + 1)


def test_orders_naming_a_listing_settle_it(published):
    """Orders naming a listing (campaign_id) fill its units and success; settling twice is a no-op."""
    _con, cur, plan, *_ = published
    lid, thr, comm, sku = cur.execute(
        "SELECT campaign_id, threshold, community_id, sku_id FROM campaigns WHERE plan_id = ? "
        "ORDER BY campaign_id LIMIT 1",
        [plan.plan_id],
    ).fetchall()[0]
    oid = cur.execute("SELECT max(order_id) + 1 FROM orders").fetchall()[0][0]
    user, pickup = cur.execute(
        "SELECT u.user_id, p.pickup_id FROM users u JOIN pickup_points p USING (community_id) "
        "WHERE u.community_id = ? LIMIT 1",
        [comm],
    ).fetchall()[0]
    when = pd.Timestamp(plan.sale_date) + pd.Timedelta(hours=10)
    cur.execute(
        "INSERT INTO orders (order_id, user_id, community_id, pickup_id, order_date, created_at, "
        "promised_by, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'paid')",
        [oid, user, comm, pickup, plan.sale_date, when, when + pd.Timedelta(days=1)],
    )
    cur.execute(
        "INSERT INTO order_items (order_id, sku_id, campaign_id, qty, unit_price, list_price, "
        "unit_cost) VALUES (?, ?, ?, ?, 1, 1, 1)",
        [oid, sku, lid, thr + 2],
    )
    assert publish.settle(cur, plan.sale_date) == 1
    assert publish.settle(cur, plan.sale_date) == 0
    units, ok = cur.execute(
        "SELECT units, success FROM campaigns WHERE campaign_id = ?", [lid]
    ).fetchall()[0]
    assert (units, ok) == (thr + 2, True)
