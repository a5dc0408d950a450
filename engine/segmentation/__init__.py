"""User segmentation and community profiles (社区画像 / 用户分群).

Modules: ``features`` (RFM and behaviour), ``personas`` (explainable labels), ``churn``
(calibrated risk with drivers, retention offers), ``tags`` (household tags with
evidence), ``koc`` (KOC ranking), ``profiles`` (community profiles, comparison,
similarity) and ``pipeline`` (one call for all user-level results).
"""

from engine.segmentation import churn, features, koc, personas, pipeline, profiles, tags
from engine.segmentation.pipeline import Segmentation, persona_trend, run, segment_summary

__all__ = [
    "Segmentation",
    "churn",
    "features",
    "koc",
    "persona_trend",
    "personas",
    "pipeline",
    "profiles",
    "run",
    "segment_summary",
    "tags",
]
