"""The page registry: which pages exist, their section, title and the roles that see them.

A page appears here only when its capability exists (no placeholders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALL_ROLES = ("executive", "regional_manager", "analyst", "dispatcher", "admin")
SECTIONS = (
    "sec_business",
    "sec_community",
    "sec_analysis",
    "sec_dispatch",
    "sec_coldchain",
    "sec_data",
)


@dataclass(frozen=True)
class NavPage:
    """One registered page."""

    section: str  # i18n key of the navigation group
    path: str  # relative to the repository root
    title_key: str  # i18n key of the page title
    icon: str
    roles: tuple[str, ...] = ALL_ROLES

    @property
    def file(self) -> Path:
        """Absolute path of the page script."""
        return ROOT / self.path


PAGES: list[NavPage] = [
    NavPage(
        "sec_business",
        "pages/overview.py",
        "page_overview",
        ":material/monitoring:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_business",
        "pages/plan.py",
        "page_plan",
        ":material/event_available:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_community",
        "pages/communities.py",
        "page_communities",
        ":material/holiday_village:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_community",
        "pages/segments.py",
        "page_segments",
        ":material/groups:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_analysis",
        "pages/selection.py",
        "page_selection",
        ":material/checklist:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_analysis",
        "pages/pricing.py",
        "page_pricing",
        ":material/sell:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_analysis",
        "pages/forecast.py",
        "page_forecast",
        ":material/query_stats:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_analysis",
        "pages/basket.py",
        "page_basket",
        ":material/shopping_basket:",
        ("executive", "regional_manager", "analyst", "admin"),
    ),
    NavPage(
        "sec_dispatch",
        "pages/dispatch.py",
        "page_dispatch",
        ":material/local_shipping:",
        ("executive", "regional_manager", "dispatcher", "admin"),
    ),
    NavPage(
        "sec_coldchain",
        "pages/coldchain.py",
        "page_coldchain",
        ":material/ac_unit:",
        ("executive", "regional_manager", "dispatcher", "admin"),
    ),
    NavPage("sec_data", "pages/data.py", "page_data", ":material/database:", ("admin",)),
    NavPage(
        "sec_data", "pages/admin.py", "page_admin", ":material/admin_panel_settings:", ("admin",)
    ),
]
