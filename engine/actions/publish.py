"""Publishing an approved plan: listings in the database, the storefront file, leaders' lists, POs.

:func:`publish` turns a stored, approved plan (:mod:`engine.planning`) into

1. the sale date's group-buy listings in ``campaigns`` (``plan_id`` set, ``units`` 0 until
   orders arrive), created or updated in place;
2. the storefront export (:func:`storefront`, written as JSON or CSV by :func:`to_json` and
   :func:`to_csv`; format in ``docs/storefront.md``), sent to the ``storefront`` channel;
3. one message per leader (``leader@<region>``): the items with prices, list prices,
   thresholds, the order cut-off and the pickup times at their pickup point;
4. one message per supplier (``supplier``): its purchase order as an Excel attachment, with
   a summary in the text.

Each message's content is hashed; ``plan_publications`` keeps what every target last got.
Publishing again after an edit sends only what changed, marked 【更正】 with the changes
listed; unchanged targets get nothing, and a target that dropped out gets a cancellation.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import pandas as pd

from engine import audit, cells, clock
from engine.actions import channels, outbox

STOREFRONT_COLUMNS = [
    "listing_id", "plan_id", "revision", "sale_date", "community_id", "community", "pickup_id",
    "pickup_point", "sku_id", "sku_name", "category", "unit", "price", "list_price", "threshold",
    "order_cutoff", "pickup_from", "pickup_until",
]  # fmt: skip


@dataclass(frozen=True)
class PublishSettings:
    """Times printed on the lists: order cut-off on the sale date, pickup the next day.

    Attributes
    ----------
    cutoff
        Order cut-off on the sale date, ``HH:MM``.
    pickup_until
        End of the pickup on the delivery day, ``HH:MM``; pickup starts when the van's
        window at the pickup point opens.
    """

    cutoff: str = "22:00"
    pickup_until: str = "21:00"

    def __post_init__(self) -> None:
        for text in (self.cutoff, self.pickup_until):
            _time(text)


@dataclass(frozen=True)
class Publication:
    """What :func:`publish` did."""

    plan_id: str
    revision: int
    listings_created: int
    listings_updated: int
    listings_removed: int
    messages: int
    corrections: int
    unchanged: int

    def as_dict(self) -> dict:
        """The counts, for the audit log."""
        return asdict(self)


def _time(text: str) -> time:
    try:
        h, m = text.split(":")
        return time(int(h), int(m))
    except ValueError as exc:
        raise ValueError(f"bad time of day {text!r}; expected HH:MM") from exc


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, default=str).encode()).hexdigest()


def store_purchase(con: duckdb.DuckDBPyConnection, plan_id: str, purchase: pd.DataFrame) -> None:
    """Keep a plan's purchase lines (``supplier_id, warehouse_id, sku_id`` and ``qty``).

    ``qty`` is the order quantity of :func:`engine.purchasing.plan`, the one purchasing policy;
    it is stored as ``order_qty``.
    """
    if "order_qty" not in purchase.columns and "qty" in purchase.columns:
        purchase = purchase.rename(columns={"qty": "order_qty"})
    need = {"supplier_id", "warehouse_id", "sku_id", "order_qty"}
    if missing := need - set(purchase.columns):
        raise ValueError(f"purchase lines lack columns {sorted(missing)}")
    df = purchase.loc[purchase["order_qty"] > 0, sorted(need)].assign(plan_id=plan_id)
    con.execute("DELETE FROM group_plan_purchase WHERE plan_id = ?", [plan_id])
    con.register("_po", df)
    con.execute("INSERT INTO group_plan_purchase BY NAME SELECT * FROM _po")
    con.unregister("_po")


def _plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> tuple[date, str]:
    row = con.execute(
        "SELECT sale_date, status FROM group_plans WHERE plan_id = ?", [plan_id]
    ).fetchall()
    if not row:
        raise ValueError(f"no plan {plan_id!r}")
    if row[0][1] != "approved":
        raise ValueError(f"plan {plan_id} is {row[0][1]}: approve it before publishing")
    return row[0][0], row[0][1]


def _listings(con: duckdb.DuckDBPyConnection, plan_id: str, sale_date: date) -> dict[str, int]:
    """Create or update the plan's campaigns; remove those the plan no longer holds (unsold)."""
    upd = con.execute(
        "UPDATE campaigns c SET price = i.price, threshold = i.threshold FROM group_plan_items i "
        "WHERE i.plan_id = ? AND c.plan_id = i.plan_id AND c.community_id = i.community_id "
        "AND c.sku_id = i.sku_id AND c.sale_date = ? "
        "AND (c.price <> i.price OR c.threshold <> i.threshold) RETURNING c.campaign_id",
        [plan_id, sale_date],
    ).fetchall()
    new = con.execute(
        "INSERT INTO campaigns (campaign_id, community_id, sku_id, sale_date, price, list_price, "
        "threshold, stock_limit, units, sold_out, success, plan_id) "
        "SELECT (SELECT coalesce(max(campaign_id), 0) FROM campaigns) "
        "       + row_number() OVER (ORDER BY i.community_id, i.rank, i.sku_id), "
        "       i.community_id, i.sku_id, ?, i.price, s.list_price, i.threshold, NULL, 0, "
        "       false, false, i.plan_id "
        "FROM group_plan_items i JOIN skus s USING (sku_id) WHERE i.plan_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.community_id = i.community_id "
        "  AND c.sku_id = i.sku_id AND c.sale_date = ?) RETURNING campaign_id",
        [sale_date, plan_id, sale_date],
    ).fetchall()
    gone = con.execute(
        "DELETE FROM campaigns c WHERE c.plan_id = ? AND c.units = 0 AND NOT EXISTS ("
        "  SELECT 1 FROM group_plan_items i WHERE i.plan_id = c.plan_id "
        "  AND i.community_id = c.community_id AND i.sku_id = c.sku_id) RETURNING campaign_id",
        [plan_id],
    ).fetchall()
    return {"created": len(new), "updated": len(upd), "removed": len(gone)}


def storefront(
    con: duckdb.DuckDBPyConnection, plan_id: str, settings: PublishSettings = PublishSettings()
) -> pd.DataFrame:
    """The published listings of a plan for the storefront, one row per community × SKU.

    Parameters
    ----------
    con
        A cursor.
    plan_id
        A published plan.
    settings
        Cut-off and pickup times.

    Returns
    -------
    pandas.DataFrame
        :data:`STOREFRONT_COLUMNS` (times as ISO local date-times), by community and rank.
    """
    df = con.execute(
        "SELECT c.campaign_id AS listing_id, c.plan_id, "
        "  (SELECT coalesce(max(revision), 0) FROM plan_publications p "
        "   WHERE p.plan_id = c.plan_id) AS revision, c.sale_date, c.community_id, "
        "  m.name AS community, pp.pickup_id, pp.name AS pickup_point, c.sku_id, "
        "  s.name AS sku_name, s.category, s.unit, c.price, c.list_price, c.threshold, "
        "  pp.window_start "
        "FROM campaigns c JOIN skus s USING (sku_id) JOIN communities m USING (community_id) "
        "LEFT JOIN group_plan_items i ON i.plan_id = c.plan_id "
        "  AND i.community_id = c.community_id AND i.sku_id = c.sku_id "
        "LEFT JOIN (SELECT * FROM pickup_points QUALIFY row_number() OVER "
        "  (PARTITION BY community_id ORDER BY pickup_id) = 1) pp ON pp.community_id = c.community_id "
        "WHERE c.plan_id = ? ORDER BY c.community_id, i.rank, c.sku_id",
        [plan_id],
    ).df()
    cut, until = _time(settings.cutoff), _time(settings.pickup_until)
    days = pd.to_datetime(df["sale_date"])
    df["sale_date"] = days.dt.strftime("%Y-%m-%d")
    df["order_cutoff"] = [datetime.combine(d.date(), cut).isoformat() for d in days]
    start = df["window_start"].fillna(8 * 60).astype(int)
    df["pickup_from"] = [
        datetime.combine(d.date() + timedelta(days=1), time(0)) + timedelta(minutes=int(m))
        for d, m in zip(days, start, strict=True)
    ]
    df["pickup_from"] = df["pickup_from"].map(lambda x: x.isoformat())
    df["pickup_until"] = [
        datetime.combine(d.date() + timedelta(days=1), until).isoformat() for d in days
    ]
    return df[STOREFRONT_COLUMNS].reset_index(drop=True)


def to_json(listings: pd.DataFrame) -> bytes:
    """The storefront file as JSON: ``{"format": "linli.listings/1", "listings": [...]}``."""
    recs = json.loads(listings.to_json(orient="records", force_ascii=False))
    return json.dumps(
        {"format": "linli.listings/1", "listings": recs}, ensure_ascii=False, indent=1
    ).encode()


def to_csv(listings: pd.DataFrame) -> bytes:
    """The storefront file as UTF-8 CSV with a BOM (opens in Excel), formula-safe cells."""
    return cells.neutralise(listings).to_csv(index=False).encode("utf-8-sig")


def _leader_lists(listings: pd.DataFrame, con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    leaders = con.execute(
        "SELECT l.leader_id, l.name AS leader, l.community_id, m.region_id "
        "FROM leaders l JOIN communities m USING (community_id)"
    ).df()
    out: dict[str, dict] = {}
    x = listings.merge(leaders, on="community_id")
    for (lid, name, region), g in x.groupby(["leader_id", "leader", "region_id"], sort=True):
        items = [
            {
                "sku": r.sku_name,
                "unit": r.unit,
                "price": round(float(r.price), 2),
                "list_price": round(float(r.list_price), 2),
                "threshold": int(r.threshold),
            }
            for r in g.itertuples()
        ]
        first = g.iloc[0]
        out[f"leader:{lid}"] = {
            "name": name,
            "region": int(region),
            "community": first["community"],
            "pickup_point": first["pickup_point"],
            "order_cutoff": first["order_cutoff"],
            "pickup_from": first["pickup_from"],
            "pickup_until": first["pickup_until"],
            "items": items,
        }
    return out


def _leader_text(doc: dict, sale_date: date, before: dict | None) -> tuple[str, str]:
    head = "【更正】" if before else ""
    subject = f"{head}{sale_date:%m月%d日}团购清单 · {doc['community']}"
    lines = [f"{doc['name']} 团长，您好："]
    if before:
        lines += ["此前发送的清单有变动，请以本清单为准。变动：", *_changes(before, doc), ""]
    lines += [
        f"{sale_date:%Y-%m-%d} 团购清单（{doc['community']}，共 {len(doc['items'])} 个商品）：",
        *(
            f"{i}. {it['sku']}：团购价 ¥{it['price']:.2f}/{it['unit']}（原价 ¥{it['list_price']:.2f}），"
            f"成团 {it['threshold']} 件"
            for i, it in enumerate(doc["items"], 1)
        ),
        f"截单时间：{doc['order_cutoff'].replace('T', ' ')[:16]}",
        f"提货时间：{doc['pickup_from'].replace('T', ' ')[:16]} 至 "
        f"{doc['pickup_until'].replace('T', ' ')[11:16]}，提货点：{doc['pickup_point']}",
    ]
    return subject, "\n".join(lines)


def _changes(before: dict, after: dict) -> list[str]:
    old = {it["sku"]: it for it in before.get("items", [])}
    new = {it["sku"]: it for it in after.get("items", [])}
    out = [
        f"- 新增：{s}（¥{new[s]['price']:.2f}，成团 {new[s]['threshold']}）"
        for s in new
        if s not in old
    ]
    out += [f"- 取消：{s}" for s in old if s not in new]
    for s in new.keys() & old.keys():
        a, b = old[s], new[s]
        if (a["price"], a["threshold"]) != (b["price"], b["threshold"]):
            out.append(
                f"- 调整：{s} 团购价 ¥{a['price']:.2f} → ¥{b['price']:.2f}，"
                f"成团 {a['threshold']} → {b['threshold']}"
            )
    for k, label in (("order_cutoff", "截单时间"), ("pickup_from", "提货时间")):
        if before.get(k) != after.get(k):
            out.append(f"- {label}：{before.get(k)} → {after.get(k)}")
    return sorted(out) or ["- （格式调整）"]


def _orders(con: duckdb.DuckDBPyConnection, plan_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT p.supplier_id, sp.name AS supplier, sp.lead_time_days, p.warehouse_id, "
        "w.name AS warehouse, p.sku_id, s.name AS sku_name, s.unit, s.pack_size, "
        "p.order_qty, s.unit_cost, p.order_qty * s.unit_cost AS amount "
        "FROM group_plan_purchase p JOIN suppliers sp USING (supplier_id) "
        "JOIN skus s USING (sku_id) JOIN warehouses w USING (warehouse_id) "
        "WHERE p.plan_id = ? AND p.order_qty > 0 ORDER BY p.supplier_id, p.warehouse_id, p.sku_id",
        [plan_id],
    ).df()


def purchase_workbook(lines: pd.DataFrame, summary: dict) -> bytes:
    """One supplier's purchase order as an Excel workbook: sheets 采购单 (lines) and 汇总."""
    buf = io.BytesIO()
    cols = {
        "warehouse": "收货仓", "sku_id": "商品编号", "sku_name": "商品", "unit": "单位",
        "pack_size": "箱规", "order_qty": "数量", "unit_cost": "单价", "amount": "金额",
    }  # fmt: skip
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        cells.neutralise(lines[list(cols)].rename(columns=cols)).to_excel(
            writer, sheet_name="采购单", index=False
        )
        pd.DataFrame({"项目": list(summary), "内容": [str(v) for v in summary.values()]}).pipe(
            cells.neutralise
        ).to_excel(writer, sheet_name="汇总", index=False)
    return buf.getvalue()


def _supplier_docs(con: duckdb.DuckDBPyConnection, plan_id: str, sale_date: date) -> dict:
    out = {}
    for (sid, name, lead), g in _orders(con, plan_id).groupby(
        ["supplier_id", "supplier", "lead_time_days"], sort=True
    ):
        deliver_by = sale_date + timedelta(days=1)
        summary = {
            "采购单号": f"PO-{plan_id[:8]}-{sid}",
            "供应商": name,
            "计划": plan_id,
            "送达日期": deliver_by.isoformat(),
            "行数": len(g),
            "总数量": int(g["order_qty"].sum()),
            "总金额": round(float(g["amount"].sum()), 2),
        }
        rows = g[["warehouse", "sku_id", "sku_name", "order_qty", "unit_cost"]]
        out[f"supplier:{sid}"] = {
            "name": name,
            "summary": summary,
            "lines": json.loads(rows.to_json(orient="records", force_ascii=False)),
            "_frame": g,
            "_lead": int(lead),
        }
    return out


def _supplier_text(doc: dict, before: dict | None) -> tuple[str, str, list[tuple[str, bytes]]]:
    s = doc["summary"]
    head = "【更正】" if before else ""
    subject = f"{head}采购单 {s['采购单号']} · {s['供应商']}"
    lines = [f"{s['供应商']}，您好："]
    if before:
        lines.append("此前发送的采购单有变动，请以本采购单为准（附件为完整新版）。")
        b = before["summary"]
        lines.append(
            f"- 总数量 {b['总数量']} → {s['总数量']}，总金额 ¥{b['总金额']:,.2f} → ¥{s['总金额']:,.2f}"
        )
    lines += [
        f"采购单 {s['采购单号']}，请于 {s['送达日期']} 前送达各收货仓。",
        f"共 {s['行数']} 行，{s['总数量']} 件，合计 ¥{s['总金额']:,.2f}。明细见附件 Excel。",
    ]
    book = purchase_workbook(doc["_frame"], s)
    return subject, "\n".join(lines), [(f"{s['采购单号']}.xlsx", book)]


def publish(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    *,
    username: str | None = None,
    purchase: pd.DataFrame | None = None,
    settings: PublishSettings = PublishSettings(),
) -> Publication:
    """Publish (or re-publish after an edit) an approved plan; see the module docstring.

    Parameters
    ----------
    con
        A writable cursor not inside a transaction (the publication is one transaction).
    plan_id
        A stored, approved plan.
    username
        Who published, for the audit log.
    purchase
        The plan's purchase lines (``Plan.purchase``); stored for later re-publications.
        None uses the stored lines.
    settings
        Cut-off and pickup times.

    Returns
    -------
    Publication
        Listings created, updated and removed; messages queued, of which corrections.

    Raises
    ------
    ValueError
        When the plan does not exist or is not approved.
    """
    con.begin()
    try:
        sale_date, _ = _plan(con, plan_id)
        if purchase is not None:
            store_purchase(con, plan_id, purchase)
        counts = _listings(con, plan_id, sale_date)
        last = dict(
            con.execute(
                "SELECT target, arg_max(content_hash, revision) FROM plan_publications "
                "WHERE plan_id = ? GROUP BY target",
                [plan_id],
            ).fetchall()
        )
        docs_before = _previous(con, plan_id)
        rev = (
            1
            + (
                con.execute(
                    "SELECT coalesce(max(revision), 0) FROM plan_publications WHERE plan_id = ?",
                    [plan_id],
                ).fetchall()[0][0]
            )
        )
        listings = storefront(con, plan_id, settings).assign(revision=rev)
        leaders = _leader_lists(listings, con)
        suppliers = _supplier_docs(con, plan_id, sale_date)
        queued = corrections = unchanged = 0
        records = []
        targets = {**leaders, **suppliers}
        for target in sorted(targets.keys() | last.keys()):
            doc = targets.get(target)
            public = {
                k: v for k, v in (doc or {"cancelled": True}).items() if not k.startswith("_")
            }
            h = _hash(public)
            if last.get(target) == h:
                unchanged += 1
                continue
            before = docs_before.get(target)
            kind, _ident = target.split(":")
            files: list[tuple[str, bytes]] = []
            if doc is None:
                subject = f"【更正】{sale_date:%m月%d日}团购计划已取消您的部分"
                body = "此前发送的清单/采购单已取消，请勿按其备货或下单。"
            elif kind == "leader":
                subject, body = _leader_text(doc, sale_date, before)
            else:
                subject, body, files = _supplier_text(doc, before)
            region = (doc or before or {}).get("region")
            key = f"plan:{plan_id}:{target}:{h[:16]}"
            outbox.enqueue(
                con,
                key=key,
                kind="plan_listing" if kind == "leader" else "supplier_order",
                channel=channels.name(kind, region),
                recipient=_recipient(con, target, (doc or before or {}).get("name", target)),
                subject=subject,
                body=body,
                attachments=files,
            )
            records.append((plan_id, rev, target, h, key, json.dumps(public, ensure_ascii=False)))
            queued += 1
            corrections += target in last
        if records or counts["created"] or counts["updated"] or counts["removed"]:
            front = listings.assign(revision=rev)
            outbox.enqueue(
                con,
                key=f"plan:{plan_id}:storefront:{_hash(front.to_dict('records'))[:16]}",
                kind="storefront_listings",
                channel=channels.name("storefront"),
                recipient="storefront",
                subject=f"listings {plan_id} r{rev} {sale_date.isoformat()}",
                body=f"{len(front)} listings, sale date {sale_date.isoformat()}, revision {rev}",
                attachments=[("listings.json", to_json(front)), ("listings.csv", to_csv(front))],
            )
            queued += 1
        now = clock.local_now()
        for r in records:
            con.execute(
                "INSERT INTO plan_publications VALUES (?, ?, ?, ?, ?, ?, ?)", [*r[:5], now, r[5]]
            )
        result = Publication(
            plan_id, rev, counts["created"], counts["updated"], counts["removed"],
            queued, corrections, unchanged,
        )  # fmt: skip
        audit.record(con, username, "plan_published", result.as_dict())
    except Exception:
        con.rollback()
        raise
    con.commit()
    return result


def _previous(con: duckdb.DuckDBPyConnection, plan_id: str) -> dict[str, dict]:
    rows = con.execute(
        "SELECT target, arg_max(content, revision) FROM plan_publications "
        "WHERE plan_id = ? GROUP BY target",
        [plan_id],
    ).fetchall()
    return {t: json.loads(c) for t, c in rows}


def _recipient(con: duckdb.DuckDBPyConnection, target: str, name: str) -> str:
    row = con.execute("SELECT address FROM action_contacts WHERE target = ?", [target]).fetchall()
    return row[0][0] if row else name


def settle(con: duckdb.DuckDBPyConnection, sale_date: date | None = None) -> int:
    """Fill published listings' outcomes from the orders that name them; returns rows changed.

    A published listing is a ``campaigns`` row with ``plan_id`` set and ``units`` 0 until its
    orders are loaded. Orders come back with ``order_items.campaign_id`` = the storefront's
    ``listing_id``; this sets ``units`` (ordered, cancelled orders excluded), ``success``
    (units ≥ threshold) and ``sold_out`` (units ≥ stock limit). Run by the nightly sync job.
    """
    rows = con.execute(
        "UPDATE campaigns c SET units = u.units, success = u.units >= c.threshold, "
        "sold_out = coalesce(u.units >= c.stock_limit, false) FROM ("
        "  SELECT i.campaign_id, sum(i.qty)::INTEGER AS units FROM order_items i "
        "  JOIN orders o USING (order_id) WHERE o.status <> 'cancelled' GROUP BY 1) u "
        "WHERE c.campaign_id = u.campaign_id AND c.plan_id IS NOT NULL "
        "AND (? IS NULL OR c.sale_date = ?) AND c.units <> u.units RETURNING c.campaign_id",
        [sale_date, sale_date],
    ).fetchall()
    return len(rows)


def publications(con: duckdb.DuckDBPyConnection, plan_id: str) -> pd.DataFrame:
    """What each publication of a plan sent, with each message's delivery status."""
    return con.execute(
        "SELECT p.revision, p.target, p.published_at, o.kind, o.subject, o.status, o.sent_at "
        "FROM plan_publications p LEFT JOIN outbox o USING (msg_key) WHERE p.plan_id = ? "
        "ORDER BY p.revision, p.target",
        [plan_id],
    ).df()
