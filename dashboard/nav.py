"""The page registry: which pages exist, their section, title and the roles that see them.

A page appears here only when its capability exists (no placeholders). Every page has its
own URL, ``/<file stem>`` (``/overview``, ``/plan`` …), that can be bookmarked; the app's
root ``/`` opens the first page the user may see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

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

    @property
    def stem(self) -> str:
        """The page's URL path (``/overview``): its file name without the extension."""
        return Path(self.path).stem


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
        "sec_community",
        "pages/leaders.py",
        "page_leaders",
        ":material/storefront:",
        ("executive", "regional_manager", "analyst", "dispatcher", "admin"),
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


HOME = "home"  # url_path of the hidden root page; no NavPage may use this stem


def sections(visible: Sequence[NavPage], translate: Callable[[str], str]) -> dict[str, list]:
    """``st.navigation``'s pages by translated section, each at its own ``/<stem>`` URL.

    Streamlit serves its default page at ``/`` only (its own ``url_path`` then 404s), so the
    default is a hidden page that forwards to the first visible page: ``/`` opens it, and
    ``/overview`` (say) stays a URL of its own, highlighted in the menu.
    """
    out: dict[str, list] = {}
    for p in visible:
        page = st.Page(p.file, title=translate(p.title_key), icon=p.icon, url_path=p.stem)
        out.setdefault(translate(p.section), []).append(page)
    first = next(iter(out.values()))[0]

    def forward() -> None:
        st.switch_page(first, query_params=st.query_params.to_dict())

    home = st.Page(
        forward,
        title=first.title,
        icon=first.icon,
        url_path=HOME,
        default=True,
        visibility="hidden",
    )
    out[next(iter(out))].insert(0, home)
    return out
