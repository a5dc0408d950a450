"""Each KPI's formula, defined once: rollup table, numerator and denominator aggregates.

The single-KPI functions, :func:`engine.kpis.summary` and every breakdown build their SQL from
these records, so a formula is typed here and nowhere else. The aggregate texts are fixed SQL
over the columns of one rollup table (engine/kpis/rollups.py); they are the only text
interpolated into KPI queries, and values never are. docs/metrics.md states each definition
in words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Formula:
    """An aggregate over one rollup table: ``numerator`` alone, or ``numerator / denominator``.

    A ratio is empty (NULL) when its denominator is 0. A numerator alone is a sum or count;
    with ``zero_if_empty`` it reads 0, not NULL, over no rows.
    """

    table: str
    numerator: str
    denominator: str | None = None
    zero_if_empty: bool = False
    date_column: str = "day"

    def aggregate(self) -> str:
        """The SQL aggregate expression of this formula (NULL over no rows)."""
        if self.denominator is None:
            return self.numerator
        return f"{self.numerator} / nullif({self.denominator}, 0)"

    def total(self) -> str:
        """The aggregate as one figure: 0 instead of NULL when ``zero_if_empty``."""
        return f"coalesce({self.aggregate()}, 0)" if self.zero_if_empty else self.aggregate()


@dataclass(frozen=True)
class Kpi:
    """One KPI: its identity, presentation and formula.

    ``formula`` is ``None`` for a KPI that is the ratio of two other KPIs (``ratio_of``,
    numerator key and denominator key), computed from their values.
    """

    key: str
    unit: str  # money | count | pct | days | hours | score
    higher_is_better: bool
    formula: Formula | None = None
    ratio_of: tuple[str, str] | None = None


def _sum(table: str, column: str) -> Formula:
    return Formula(table, f"sum({column})", zero_if_empty=True)


KPIS: tuple[Kpi, ...] = (
    Kpi("gmv", "money", True, _sum("rollup_sales", "gmv")),
    Kpi("paid_orders", "count", True, _sum("rollup_orders", "paid_orders")),
    Kpi("aov", "money", True, ratio_of=("gmv", "paid_orders")),
    # The single-KPI function reads the same figure through whole months and weeks
    # (engine/kpis/queries.py, buyers); this is its definition, used by breakdowns.
    Kpi(
        "active_buyers",
        "count",
        True,
        Formula("rollup_buyer_days", "count(DISTINCT user_id)", zero_if_empty=True),
    ),
    Kpi(
        "repurchase_rate",
        "pct",
        True,
        Formula("rollup_repurchase", "sum(repeat)::DOUBLE", "sum(base)", date_column="month"),
    ),
    Kpi(
        "group_success_rate",
        "pct",
        True,
        Formula("rollup_campaigns", "sum(successes)::DOUBLE", "sum(campaigns)"),
    ),
    Kpi(
        "inventory_turnover_days",
        "days",
        False,
        Formula(
            "rollup_stock",
            "(sum(on_hand_value) / count(DISTINCT day))",
            "sum(sold_value) / count(DISTINCT day)",
        ),
    ),
    Kpi(
        "loss_rate",
        "pct",
        False,
        Formula("rollup_stock", "sum(wasted_value)", "sum(received_value)"),
    ),
    Kpi(
        "on_time_rate",
        "pct",
        True,
        Formula("rollup_orders", "sum(on_time)::DOUBLE", "sum(delivered)"),
    ),
    Kpi(
        "pickup_hours",
        "hours",
        False,
        Formula("rollup_orders", "sum(pickup_hours_sum)", "sum(picked)"),
    ),
    Kpi(
        "nps",
        "score",
        True,
        Formula("rollup_feedback", "100.0 * (sum(promoters) - sum(detractors))", "sum(answers)"),
    ),
    Kpi("leader_commission", "money", True, _sum("rollup_sales", "commission")),
)
KPI_KEYS = tuple(k.key for k in KPIS)
BY_KEY = {k.key: k for k in KPIS}

# Figures the breakdowns show beside the KPIs; they are not KPIs (no card, no delta), and a
# group without rows shows them empty, not 0.
MEASURES: dict[str, Formula] = {
    "gross_margin": Formula("rollup_sales", "sum(gmv - cogs)"),
    "margin_rate": Formula("rollup_sales", "sum(gmv - cogs)", "sum(gmv)"),
    "wasted_value": Formula("rollup_stock", "sum(wasted_value)"),
}


def formula(key: str) -> Formula:
    """Return the formula of a KPI or breakdown measure.

    Parameters
    ----------
    key
        A KPI key (``KPI_KEYS``) or a key of ``MEASURES``.

    Returns
    -------
    Formula
        Its rollup table and aggregates.

    Raises
    ------
    KeyError
        For an unknown key, or a KPI defined as the ratio of two other KPIs.
    """
    if key in MEASURES:
        return MEASURES[key]
    f = BY_KEY[key].formula
    if f is None:
        raise KeyError(f"{key} is the ratio of two KPIs, not an aggregate over one rollup")
    return f
