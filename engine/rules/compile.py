"""A rule -> one DuckDB query over all communities in scope; values bound, names whitelisted.

Metric definitions (window = the ``window_days`` days ending on ``as_of``, inclusive; the
previous window is the same length just before it):

=============  ==================================================================================
views, carts   sum of ``browse_events`` in the community over the window
units          net units sold: ``qty - refund_qty`` over paid orders in the community
gmv            net revenue: ``(qty - refund_qty) * unit_price`` over the same lines
margin         ``(unit_price - unit_cost) * (qty - refund_qty)`` over the same lines (CNY)
margin_rate    margin / gmv (NULL when gmv is 0)
conversion     units / views (NULL when views is 0)
stock_days     on_hand at the community's warehouse (last stock row of the window) divided by
               the warehouse's average daily ``sold`` over the window; ``inf`` when nothing sold
               but stock remains, 0 without stock
available_days what can be on the shelf on the sale day (the day after as_of) over the same daily
               sales: on_hand + in_transit (last stock row of the window) + what the supplier can
               still deliver, i.e. its largest daily delivery (``received``) to that warehouse in
               the window when the supplier's lead time is at most one day, else 0; ``inf`` /
               0 as for stock_days. The pre-sale (以销定采) reading of 库存充足
price          the SKU's list price; price_pct its percent rank (0..1) within its category
trend          (units + 1) / (units in the previous window + 1); view_trend the same for views
mentions(k)    mentions of keyword k in the community's ``topics`` over the window (a community
               level signal, the same for every SKU of that community); mention_trend(k) as trend
aud_units      net units the audience's users in the community bought; aud_buyers how many of
               them bought the SKU
=============  ==================================================================================

Audience: the users of a community with the tag (stated at sign-up) or persona (behaviour in
the window). The rule then only covers communities where such users live, the ``aud_*`` metrics
count their purchases, and ``买过/bought`` keeps only SKUs they bought in the window. Browsing
is recorded per community, not per user, so the audience cannot filter on what they viewed.
Tags: kids = has_children, pet = has_pet, senior = age band 60+, young = 18-29, female/male =
stated gender. Personas: high_value = the top 20 % of the community's buyers by GMV in the
window (cume_dist > 0.8), new = signed up within the window, dormant = bought before the
window but not in it.

Only SKUs launched on or before ``as_of`` and communities opened by then are considered, so a
backtest as of a past date never sees the future. Atomic conditions are two-valued: a
comparison with a NULL metric is false, and ``not`` of it is true.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from engine.rules import model

# Units that can be on the shelf on the sale day (the day after as_of): stock on hand and in
# transit, plus what the SKU's supplier can still deliver when its lead time allows, at most its
# largest daily delivery to that warehouse in the window.
SALE_LEAD_DAYS = 1
_AVAILABLE = (
    "(coalesce(inv.on_hand, 0) + coalesce(inv.in_transit, 0) + CASE WHEN s.lead_time_days <= "
    f"{SALE_LEAD_DAYS} THEN coalesce(inv.max_received, 0) ELSE 0 END)"
)
# metric -> SQL over the grid's source columns (code constants, never user text).
_METRIC_SQL: dict[str, str] = {
    "views": "coalesce(br.views, 0)",
    "carts": "coalesce(br.carts, 0)",
    "units": "coalesce(sl.units, 0)",
    "gmv": "coalesce(sl.gmv, 0)",
    "margin": "coalesce(sl.margin, 0)",
    "margin_rate": "sl.margin / nullif(sl.gmv, 0)",
    "conversion": "coalesce(sl.units, 0) / nullif(br.views, 0)",
    "stock_days": (
        "CASE WHEN coalesce(inv.sold_w, 0) > 0 THEN coalesce(inv.on_hand, 0) / (inv.sold_w / $days)"
        " WHEN coalesce(inv.on_hand, 0) > 0 THEN 'inf'::DOUBLE ELSE 0 END"
    ),
    "available_days": (
        "CASE WHEN coalesce(inv.sold_w, 0) > 0 THEN " + _AVAILABLE + " / (inv.sold_w / $days)"
        " WHEN " + _AVAILABLE + " > 0 THEN 'inf'::DOUBLE ELSE 0 END"
    ),
    "price": "s.list_price",
    "price_pct": "s.price_pct",
    "trend": "(coalesce(sl.units, 0) + 1.0) / (coalesce(sl.units_prev, 0) + 1.0)",
    "view_trend": "(coalesce(br.views, 0) + 1.0) / (coalesce(br.views_prev, 0) + 1.0)",
    "aud_units": "coalesce(asl.aud_units, 0)",
    "aud_buyers": "coalesce(asl.aud_buyers, 0)",
}
# Which source (CTE) each metric needs.
_SOURCE = {
    "views": "br",
    "carts": "br",
    "view_trend": "br",
    "units": "sl",
    "gmv": "sl",
    "margin": "sl",
    "margin_rate": "sl",
    "trend": "sl",
    "conversion": "br+sl",
    "stock_days": "inv",
    "available_days": "inv",
    "aud_units": "asl",
    "aud_buyers": "asl",
}
# Conditions run over the grid CTE, whose SKU columns keep these names.
SALES_METRICS = frozenset(m for m, src in _SOURCE.items() if "sl" in src.split("+"))
_ATTR_SQL = {"category": "category", "storage": "storage"}
_OP_SQL = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "=", "!=": "<>"}

_USER_TAG_SQL = {
    "kids": "u.has_children",
    "pet": "u.has_pet",
    "senior": "u.age_band = '60+'",
    "young": "u.age_band = '18-29'",
    "female": "u.gender = 'F'",
    "male": "u.gender = 'M'",
}
# Personas depend on behaviour in each as-of date's window (d.as_of, d.ws).
_PERSONA_SQL = {
    "new": "u.signup_date >= d.ws",
    "high_value": (
        "EXISTS (SELECT 1 FROM spend sp WHERE sp.as_of = d.as_of AND sp.user_id = u.user_id"
        " AND sp.pr > 0.8)"
    ),
    "dormant": (
        "EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id AND o.status = 'paid'"
        " AND o.order_date < d.ws)"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id"
        " AND o.status = 'paid' AND o.order_date BETWEEN d.ws AND d.as_of)"
    ),
}
# SKU tags are stored in English; Chinese spellings users type map to them.
SKU_TAG_ALIASES = {
    "有机": "organic",
    "进口": "imported",
    "低糖": "low_sugar",
    "儿童": "kids",
    "软食": "soft_food",
    "无添加": "no_additive",
    "当季": "seasonal",
}

_NET = "(oi.qty - oi.refund_qty)"


@dataclass(frozen=True)
class Compiled:
    """A compiled rule: SQL with ``$name`` placeholders, their values, and output metrics.

    ``metric_columns`` maps each SQL alias (``m0``, ``m1``, ...) to its display name
    (``views``, ``mentions(低糖水果)``).
    """

    sql: str
    params: dict[str, object]
    metric_columns: dict[str, str]


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add(self, value: object) -> str:
        name = f"v{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def metric_label(m: model.Metric) -> str:
    """Column name of a metric in results: ``views`` or ``mentions(低糖水果)``."""
    return m.name if m.arg is None else f"{m.name}({m.arg})"


def compile_rule(
    rule: model.Rule,
    as_of: dt.date | Sequence[dt.date],
    sales_daily: str | None = None,
) -> Compiled:
    """Compile a rule into one query returning the top N SKUs of every community in scope.

    Parameters
    ----------
    rule
        A valid rule (checked again here).
    as_of
        The last day of the look-back window, or several such days: the query then returns
        the picks as of each of them (column ``as_of``), as a backtest needs, in one scan.
    sales_daily
        Name of a temporary table made by :func:`create_sales_daily` covering the windows,
        to read instead of joining orders to order lines again (a backtest shares one).

    Returns
    -------
    Compiled
        SQL and its named parameters. Result columns: as_of, community_id, community_name,
        rank, sku_id, sku_name, category, then the metric aliases.

    Raises
    ------
    ValueError
        If the rule is invalid, no date is given, or ``sales_daily`` is not such a table name.
    """
    model.validate(rule)
    if sales_daily is not None and not SALES_DAILY_NAME.fullmatch(sales_daily):
        raise ValueError(f"not a sales_daily table name: {sales_daily!r}")
    dates = [as_of] if isinstance(as_of, dt.date) else list(as_of)
    if not dates:
        raise ValueError("give at least one as_of date")
    p = _Params()
    days = rule.window_days
    fixed: dict[str, object] = {
        "dates": dates,
        "dm1": days - 1,  # window start = as_of - (days - 1)
        "d2m1": 2 * days - 1,  # previous window start
        "days": float(days),
        "top": rule.top,
    }
    metrics = model.metrics_used(rule)
    sources: set[str] = set()
    for m in metrics:
        sources.update(_SOURCE.get(m.name, "").split("+"))

    ctes = [_DATES_CTE, _comm_cte(rule.scope, p), _SKU_CTE]
    joins = []
    on = "{t}.as_of = c.as_of AND {t}.community_id = c.community_id AND {t}.sku_id = s.sku_id"
    names = {m.name for m in metrics}
    # Read the previous window only for the trend metrics that compare with it.
    if "br" in sources:
        ctes.append(_BR_CTE if "view_trend" in names else _BR_CTE.replace("d.pws", "d.ws"))
        joins.append("LEFT JOIN br ON " + on.format(t="br"))
    if "sl" in sources:
        sl = _SL_CTE if sales_daily is None else _sl_from(sales_daily)
        ctes.append(sl if "trend" in names else sl.replace("pws", "ws"))
        joins.append("LEFT JOIN sl ON " + on.format(t="sl"))
    if "inv" in sources:
        ctes.append(_INV_CTE)
        joins.append(
            "LEFT JOIN inv ON inv.as_of = c.as_of AND inv.warehouse_id = c.warehouse_id"
            " AND inv.sku_id = s.sku_id"
        )
    audience_filter = ""
    if rule.audience is not None:
        a = rule.audience
        if a.kind == "persona" and a.value == "high_value":
            ctes.append(_SPEND_CTE)
        pred = (_USER_TAG_SQL if a.kind == "tag" else _PERSONA_SQL)[a.value]
        ctes.append(
            "aud AS (SELECT d.as_of, u.user_id, u.community_id FROM users u CROSS JOIN d"
            f" WHERE u.signup_date <= d.as_of AND ({pred}))"
        )
        ctes.append("aud_n AS (SELECT as_of, community_id, count(*) AS n FROM aud GROUP BY ALL)")
        ctes.append(_ASL_CTE)
        joins.append("JOIN aud_n ON aud_n.as_of = c.as_of AND aud_n.community_id = c.community_id")
        joins.append("LEFT JOIN asl ON " + on.format(t="asl"))
        if a.bought_only:
            audience_filter = " AND coalesce(asl.aud_units, 0) > 0"

    # Metric expressions; keyword metrics get a topics CTE each.
    select_metrics: dict[str, str] = {}
    labels: dict[str, str] = {}
    expr_of: dict[model.Metric, str] = {}
    topic_ctes: dict[str, str] = {}
    for i, m in enumerate(metrics):
        alias = f"m{i}"
        if m.name in model.KEYWORD_METRICS:
            arg = str(m.arg)
            if arg not in topic_ctes:
                t = f"tp{len(topic_ctes)}"
                topic_ctes[arg] = t
                ctes.append(_topic_cte(t, p.add(arg)))
                joins.append(
                    f"LEFT JOIN {t} ON {t}.as_of = c.as_of AND {t}.community_id = c.community_id"
                )
            t = topic_ctes[arg]
            if m.name == "mentions":
                expr = f"coalesce({t}.cur, 0)"
            else:
                expr = f"(coalesce({t}.cur, 0) + 1.0) / (coalesce({t}.prev, 0) + 1.0)"
        else:
            expr = _METRIC_SQL[m.name]
        select_metrics[alias] = expr
        expr_of[m] = alias
        labels[alias] = metric_label(m)

    where = _cond(rule.where, p, expr_of) if rule.where is not None else "TRUE"
    rank_col = expr_of[rule.rank.metric]
    direction = "DESC" if rule.rank.descending else "ASC"
    metric_sel = ",\n           ".join(f"{e} AS {a}" for a, e in select_metrics.items())
    join_sql = "\n    ".join(joins)
    sql = (
        "WITH "
        + ",\n".join(ctes)
        + f""",
grid AS (
    SELECT c.as_of, c.community_id, c.community_name, s.sku_id, s.sku_name, s.category,
           s.storage, s.tags, s.launched,
           {metric_sel}
    FROM comm c JOIN sku s ON s.as_of = c.as_of
    {join_sql}
    WHERE TRUE{audience_filter}
),
kept AS (
    SELECT *, row_number() OVER (
        PARTITION BY as_of, community_id
        ORDER BY round({rank_col}, 6) {direction} NULLS LAST, sku_id
    ) AS rank
    FROM grid WHERE {where}
)
SELECT as_of, community_id, community_name, rank, sku_id, sku_name, category, {", ".join(labels)}
FROM kept WHERE rank <= $top ORDER BY as_of, community_id, rank"""
    )
    params = dict(p.values)
    for key, value in fixed.items():
        if f"${key}" in sql:
            params[key] = value
    return Compiled(sql, params, labels)


def _comm_cte(scope: model.CommunityFilter, p: _Params) -> str:
    base = (
        "comm AS (SELECT d.as_of, c.community_id, c.name AS community_name, c.warehouse_id"
        " FROM communities c CROSS JOIN d WHERE c.opened <= d.as_of"
    )
    if scope.kind == "all":
        return base + ")"
    if scope.kind == "type":
        return base + f" AND c.type = {p.add(scope.value)})"
    column = "c.community_id" if scope.kind == "community" else "c.region_id"
    if isinstance(scope.value, int):
        return base + f" AND {column} = {p.add(scope.value)})"
    if scope.kind == "community":
        return base + f" AND c.name = {p.add(scope.value)})"
    return (
        base
        + f" AND c.region_id IN (SELECT region_id FROM regions WHERE name = {p.add(scope.value)}))"
    )


def _cond(c: model.Condition, p: _Params, expr_of: dict) -> str:
    if isinstance(c, model.Compare):
        return f"coalesce({expr_of[c.metric]} {_OP_SQL[c.op]} {p.add(float(c.value))}, FALSE)"
    if isinstance(c, model.AttrIn):
        values = ", ".join(p.add(v) for v in c.values)
        return f"({_ATTR_SQL[c.attr]} {'NOT IN' if c.negate else 'IN'} ({values}))"
    if isinstance(c, model.TagHas):
        names = list(dict.fromkeys([c.tag, SKU_TAG_ALIASES.get(c.tag, c.tag)]))
        return f"list_has_any(tags, [{', '.join(p.add(n) for n in names)}]::VARCHAR[])"
    if isinstance(c, model.NameHas):
        return f"contains(sku_name, {p.add(c.text)})"
    if isinstance(c, model.Launched):
        if c.kind == "since":
            return f"(launched >= {p.add(c.since)})"
        if c.kind == "within":
            return f"(launched >= as_of - CAST({p.add(int(c.days or 1) - 1)} AS INTEGER))"
        return "(launched >= CAST(date_trunc('month', as_of) AS DATE))"
    if isinstance(c, model.Not):
        return f"(NOT {_cond(c.part, p, expr_of)})"
    joiner = " AND " if isinstance(c, model.And) else " OR "
    return "(" + joiner.join(_cond(x, p, expr_of) for x in c.parts) + ")"


# One row per as-of date with its window start (ws) and previous-window start (pws).
_DATES_CTE = """d AS (
    SELECT as_of, as_of - CAST($dm1 AS INTEGER) AS ws, as_of - CAST($d2m1 AS INTEGER) AS pws
    FROM (SELECT unnest($dates::DATE[]) AS as_of)
)"""
_SKU_CTE = """sku AS (
    SELECT d.as_of, sku_id, skus.name AS sku_name, category, storage, tags, launched, list_price,
           percent_rank() OVER (PARTITION BY d.as_of, category ORDER BY list_price) AS price_pct,
           sp.lead_time_days
    FROM skus LEFT JOIN suppliers sp USING (supplier_id) CROSS JOIN d WHERE launched <= d.as_of
)"""
_BR_CTE = """br AS (
    SELECT d.as_of, b.community_id, b.sku_id,
           sum(CASE WHEN b.event_date >= d.ws THEN b.views ELSE 0 END) AS views,
           sum(CASE WHEN b.event_date >= d.ws THEN b.carts ELSE 0 END) AS carts,
           sum(CASE WHEN b.event_date < d.ws THEN b.views ELSE 0 END) AS views_prev
    FROM browse_events b JOIN d ON b.event_date BETWEEN d.pws AND d.as_of
    WHERE b.community_id IN (SELECT community_id FROM comm)
    GROUP BY ALL
)"""
SALES_DAILY_NAME = re.compile(r"rules_sales_daily_[0-9a-f]{32}")
_SALES_DAILY_SELECT = f"""
    SELECT o.order_date AS day, o.community_id, oi.sku_id,
           sum({_NET}) AS units,
           sum({_NET} * oi.unit_price) AS gmv,
           sum((oi.unit_price - oi.unit_cost) * {_NET}) AS margin
    FROM orders o JOIN order_items oi ON oi.order_id = o.order_id
    WHERE o.status = 'paid' AND o.order_date BETWEEN {{lo}} AND {{hi}}{{extra}}
    GROUP BY ALL"""
# The same frame over the whole history: the batch build serves it as ``sales_daily``.
SALES_DAILY_SQL = _SALES_DAILY_SELECT.format(
    lo="(SELECT min(order_date) FROM orders)", hi="(SELECT max(order_date) FROM orders)", extra=""
)


def create_sales_daily(cur, first: dt.date, last: dt.date) -> str:
    """Create a temporary table of net sales per (day, community, SKU) between two dates.

    Parameters
    ----------
    cur
        A DuckDB connection or cursor (temporary tables work on read-only files too).
    first, last
        Inclusive order-date range.

    Returns
    -------
    str
        The table's generated name; drop it with ``DROP TABLE`` when done.
    """
    name = f"rules_sales_daily_{uuid.uuid4().hex}"
    # A serving database built from the lake holds the frame (engine.lake.build): read it.
    served = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name = 'sales_daily'"
    ).fetchall()[0][0]
    select = (
        "SELECT * FROM sales_daily WHERE day BETWEEN $lo AND $hi"
        if served
        else _SALES_DAILY_SELECT.format(lo="$lo", hi="$hi", extra="")
    )
    cur.execute(f"CREATE TEMP TABLE {name} AS {select}", {"lo": first, "hi": last})
    return name


def _sl_from(table: str) -> str:
    return f"""sl_day AS (
    SELECT * FROM {table}
    WHERE day BETWEEN (SELECT min(pws) FROM d) AND (SELECT max(as_of) FROM d)
      AND community_id IN (SELECT community_id FROM comm)
),
{_SL_WINDOWS}"""


# Sales are summed per day first, so overlapping windows of several as-of dates re-read
# daily totals instead of order lines.
_SL_WINDOWS = """sl AS (
    SELECT d.as_of, x.community_id, x.sku_id,
           sum(CASE WHEN x.day >= d.ws THEN x.units ELSE 0 END) AS units,
           sum(CASE WHEN x.day >= d.ws THEN x.gmv ELSE 0 END) AS gmv,
           sum(CASE WHEN x.day >= d.ws THEN x.margin ELSE 0 END) AS margin,
           sum(CASE WHEN x.day < d.ws THEN x.units ELSE 0 END) AS units_prev
    FROM sl_day x JOIN d ON x.day BETWEEN d.pws AND d.as_of
    GROUP BY ALL
)"""
_SL_CTE = (
    "sl_day AS ("
    + _SALES_DAILY_SELECT.format(
        lo="(SELECT min(pws) FROM d)",
        hi="(SELECT max(as_of) FROM d)",
        extra="\n      AND o.community_id IN (SELECT community_id FROM comm)",
    )
    + "\n),\n"
    + _SL_WINDOWS
)
_INV_CTE = """inv AS (
    SELECT d.as_of, i.warehouse_id, i.sku_id, arg_max(i.on_hand, i.stock_date) AS on_hand,
           arg_max(i.in_transit, i.stock_date) AS in_transit, max(i.received) AS max_received,
           sum(i.sold) AS sold_w
    FROM inventory i JOIN d ON i.stock_date BETWEEN d.ws AND d.as_of
    WHERE i.warehouse_id IN (SELECT warehouse_id FROM comm)
    GROUP BY ALL
)"""
_SPEND_CTE = f"""spend AS (
    SELECT d.as_of, o.user_id, cume_dist() OVER (PARTITION BY d.as_of, o.community_id
                                               ORDER BY sum({_NET} * oi.unit_price)) AS pr
    FROM orders o JOIN d ON o.order_date BETWEEN d.ws AND d.as_of
    JOIN order_items oi ON oi.order_id = o.order_id
    WHERE o.status = 'paid'
    GROUP BY d.as_of, o.community_id, o.user_id
)"""
_ASL_CTE = f"""asl AS (
    SELECT d.as_of, o.community_id, oi.sku_id, sum({_NET}) AS aud_units,
           count(DISTINCT o.user_id) AS aud_buyers
    FROM orders o JOIN d ON o.order_date BETWEEN d.ws AND d.as_of
    JOIN aud ON aud.user_id = o.user_id AND aud.as_of = d.as_of
    JOIN order_items oi ON oi.order_id = o.order_id
    WHERE o.status = 'paid'
    GROUP BY ALL
)"""


def _topic_cte(name: str, keyword_param: str) -> str:
    return f"""{name} AS (
    SELECT d.as_of, t.community_id,
           sum(CASE WHEN t.topic_date >= d.ws THEN t.mentions ELSE 0 END) AS cur,
           sum(CASE WHEN t.topic_date < d.ws THEN t.mentions ELSE 0 END) AS prev
    FROM topics t JOIN d ON t.topic_date BETWEEN d.pws AND d.as_of
    WHERE t.keyword = {keyword_param}
    GROUP BY ALL
)"""
