"""What the 定价模拟 tabs share: the page's scope, its SKU catalogue and the metric labels."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.i18n import t


@dataclass(frozen=True)
class PricingContext:
    """The data version, the communities in scope and the SKUs the tabs offer."""

    version: str
    community_ids: tuple[int, ...]
    catalogue: pd.DataFrame  # indexed by sku_id: name, category, list_price, unit_cost, …
    popular: list[int]  # SKU ids, most popular first

    def sku_label(self, sku_id: int) -> str:
        """SKU name with its category."""
        return f"{self.catalogue.at[sku_id, 'name']}（{self.catalogue.at[sku_id, 'category']}）"


def metric_label(metric: str) -> str:
    """Translated name of a what-if metric (units, p_success, sold, gmv, net, margin, commission)."""
    return t("pr_" + metric)
