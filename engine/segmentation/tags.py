"""Household tags inferred from purchases of tagged SKUs and from stated attributes.

A purchase is evidence when the user's share of units carrying the SKU tag is at least
``min_lift`` times the share across all users and covers ``min_units`` units; a stated
attribute (has children, aged 60+, has a pet) is evidence on its own. Each tag row says
which evidence it rests on, so it can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# tag key -> (SKU tag used as purchase evidence, stated-attribute rule or None)
TAGS: dict[str, tuple[str, str | None]] = {
    "kids_family": ("kids", "has_children"),
    "elderly_family": ("soft_food", "age_60"),
    "fitness": ("fitness", None),
    "pet": ("pet", "has_pet"),
    "imported": ("imported", None),
}


@dataclass(frozen=True)
class TagSettings:
    """How strong purchase evidence must be."""

    min_lift: float = 1.8
    min_units: int = 2
    min_units_pet: int = 1  # pet SKUs are bought almost only by pet owners


def infer(features: pd.DataFrame, settings: TagSettings | None = None) -> pd.DataFrame:
    """Tags per user with their evidence.

    Parameters
    ----------
    features
        Output of :func:`engine.segmentation.features.user_features` (needs ``units``,
        ``units_<sku tag>``, ``has_children``, ``has_pet``, ``age_band``).
    settings
        Evidence thresholds.

    Returns
    -------
    pandas.DataFrame
        Long frame ``user_id, tag, units, share, lift, stated, source`` where ``source``
        is ``purchase``, ``stated`` or ``both``.

    Raises
    ------
    ValueError
        If a needed column is missing.
    """
    s = settings or TagSettings()
    need = {"user_id", "units", "has_children", "has_pet", "age_band"}
    need |= {f"units_{sku_tag}" for sku_tag, _ in TAGS.values()}
    missing = need - set(features.columns)
    if missing:
        raise ValueError(f"features lack column(s): {sorted(missing)}")
    units = features["units"].to_numpy(dtype=float)
    total = max(units.sum(), 1.0)
    stated_cols = {
        "has_children": features["has_children"].eq(True).fillna(False).to_numpy(dtype=bool),
        "has_pet": features["has_pet"].eq(True).fillna(False).to_numpy(dtype=bool),
        "age_60": features["age_band"].eq("60+").fillna(False).to_numpy(dtype=bool),
    }
    parts = []
    for tag, (sku_tag, stated_key) in TAGS.items():
        tu = features[f"units_{sku_tag}"].to_numpy(dtype=float)
        base = tu.sum() / total
        share = np.divide(tu, units, out=np.zeros_like(tu), where=units > 0)
        lift = share / base if base > 0 else np.zeros_like(share)
        need_units = s.min_units_pet if tag == "pet" else s.min_units
        bought = (tu >= need_units) & (lift >= s.min_lift)
        stated = stated_cols[stated_key] if stated_key else np.zeros(len(tu), dtype=bool)
        keep = bought | stated
        if not keep.any():
            continue
        src = np.where(bought & stated, "both", np.where(bought, "purchase", "stated"))
        parts.append(
            pd.DataFrame(
                {
                    "user_id": features["user_id"].to_numpy()[keep],
                    "tag": tag,
                    "units": tu[keep].astype(int),
                    "share": share[keep],
                    "lift": lift[keep],
                    "stated": stated[keep],
                    "source": src[keep],
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["user_id", "tag", "units", "share", "lift", "stated", "source"]
        )
    return pd.concat(parts, ignore_index=True)
