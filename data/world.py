"""Static parts of the demo world: scales, geography, names, catalogue and planted effects.

Every number here is a *planted truth* that engines must recover; docs/demo-world.md lists
each effect with its magnitude. Nothing here draws random numbers except through the
``rng`` passed in, so the world is deterministic for a seed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from engine.forecasting import calendar as fcal

REF = Path(__file__).with_name("ref")
CITY = "长沙"


@dataclass(frozen=True)
class Scale:
    """Size of one generated world."""

    name: str
    communities: int
    users: int
    days: int
    regions: int
    warehouses: int
    listings: int  # SKUs on sale per community per day


SCALES = {
    "small": Scale("small", 20, 2_000, 90, 3, 2, 15),
    "demo": Scale("demo", 100, 30_000, 400, 5, 4, 24),
    "large": Scale("large", 200, 100_000, 730, 7, 8, 30),
}
DEFAULT_END = date(2026, 11, 24)

# Changsha districts with approximate centres (lat, lon).
REGIONS = [
    ("岳麓区", 28.2135, 112.9150),
    ("芙蓉区", 28.1933, 113.0323),
    ("天心区", 28.1129, 112.9897),
    ("开福区", 28.2565, 112.9859),
    ("雨花区", 28.1358, 113.0359),
    ("望城区", 28.3475, 112.8196),
    ("长沙县", 28.2467, 113.0805),
]

COMMUNITY_TYPES = ["high_end", "young_family", "elderly", "mixed"]
TYPE_SHARES = [0.2, 0.3, 0.2, 0.3]
SEED_COMMUNITIES = [("云顶华府", "high_end"), ("幸福里", "young_family"), ("夕阳红花园", "elderly")]

NAME_PREFIX = list(
    "碧桂万科保利中海绿地华润金茂融创龙湖招商旭辉湘江麓山橘洲梅溪洋湖芙蓉天心开福雨花星沙望城"
    "金星观沙枫林桐梓洞井圭塘月湖德雅东塘侯家左家丽发新华锦绣阳光翠微紫薇"
)
NAME_SUFFIX = [
    "花园",
    "小区",
    "华府",
    "公馆",
    "家园",
    "新村",
    "名苑",
    "雅苑",
    "国际",
    "新城",
    "壹号",
    "御园",
    "豪庭",
    "水岸",
    "天地",
    "佳园",
    "雅居",
    "春天",
    "山庄",
    "景园",
]
SURNAMES = list(
    "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林郑梁谢唐许冯宋韩邓彭曹曾田萧潘袁蔡蒋余于杜叶程"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏辉建国海燕丹琳斌宇浩凯")
SUPPLIER_NAMES = [
    ("长沙马王堆蔬菜批发", "长沙", 1),
    ("红星农副产品大市场", "长沙", 1),
    ("湘村黑猪", "长沙", 1),
    ("洞庭湖水产", "岳阳", 1),
    ("光明乳业华中", "武汉", 2),
    ("金龙鱼粮油", "长沙", 3),
    ("盐津铺子", "长沙", 3),
    ("飞鹤母婴", "齐齐哈尔", 5),
    ("好利来烘焙", "长沙", 1),
    ("三全速冻", "郑州", 3),
    ("华润怡宝", "长沙", 2),
    ("蓝月亮日化", "广州", 4),
    ("中粮进口", "上海", 5),
    ("祖名豆制品", "长沙", 1),
    ("绝味卤味", "长沙", 1),
    ("百果园供应链", "深圳", 2),
]
CATEGORY_SUPPLIER = {
    "时蔬": 0,
    "水果": 15,
    "肉禽蛋": 2,
    "水产": 3,
    "乳品": 4,
    "粮油调味": 5,
    "休闲零食": 6,
    "母婴": 7,
    "烘焙糕点": 8,
    "冻品": 9,
    "酒水饮料": 10,
    "日用百货": 11,
    "进口精品": 12,
    "豆制品": 13,
    "熟食卤味": 14,
}

# ------------------------------------------------------------------- planted effects
# Share of order lines by category for an average household (relative weights).
CATEGORY_BASE = {
    "时蔬": 0.14,
    "水果": 0.13,
    "肉禽蛋": 0.12,
    "水产": 0.06,
    "乳品": 0.08,
    "粮油调味": 0.07,
    "休闲零食": 0.07,
    "母婴": 0.03,
    "烘焙糕点": 0.05,
    "冻品": 0.06,
    "酒水饮料": 0.05,
    "日用百货": 0.05,
    "进口精品": 0.02,
    "豆制品": 0.05,
    "熟食卤味": 0.05,
}
# Community type -> category multipliers (the rest 1.0).
TYPE_MIX = {
    "high_end": {
        "进口精品": 4.0,
        "水产": 1.8,
        "水果": 1.4,
        "乳品": 1.3,
        "烘焙糕点": 1.3,
        "时蔬": 0.8,
        "粮油调味": 0.7,
        "豆制品": 0.7,
    },
    "young_family": {
        "母婴": 5.0,
        "乳品": 1.6,
        "休闲零食": 1.5,
        "冻品": 1.4,
        "水果": 1.2,
        "进口精品": 0.8,
    },
    "elderly": {
        "时蔬": 1.7,
        "豆制品": 1.9,
        "粮油调味": 1.5,
        "肉禽蛋": 1.2,
        "母婴": 0.15,
        "进口精品": 0.3,
        "休闲零食": 0.5,
        "酒水饮料": 0.7,
    },
    "mixed": {},
}
PERSONAS = ["hv_family", "price_sensitive", "new", "churning", "dormant"]
# Daily order probability of an active user, mean lines per order beyond the first,
# extra units per line, and the multiplier on the category price elasticity.
PERSONA_RATE = {
    "hv_family": 0.30,
    "price_sensitive": 0.20,
    "new": 0.22,
    "churning": 0.20,
    "dormant": 0.14,
}
PERSONA_LINES = {
    "hv_family": 2.6,
    "price_sensitive": 1.3,
    "new": 1.5,
    "churning": 1.5,
    "dormant": 1.4,
}
PERSONA_QTY = {
    "hv_family": 0.5,
    "price_sensitive": 0.3,
    "new": 0.2,
    "churning": 0.25,
    "dormant": 0.25,
}
PERSONA_ELASTICITY = {
    "hv_family": 0.5,
    "price_sensitive": 1.6,
    "new": 1.0,
    "churning": 1.0,
    "dormant": 1.0,
}
PERSONA_MIX = {
    "hv_family": {"进口精品": 2.2, "水产": 1.5, "肉禽蛋": 1.3, "母婴": 1.4, "水果": 1.2},
    "price_sensitive": {
        "粮油调味": 1.4,
        "时蔬": 1.3,
        "日用百货": 1.3,
        "进口精品": 0.4,
        "水产": 0.7,
    },
}
# Price elasticity of units to the price relative to list, per category (population value
# for persona multiplier 1.0).
ELASTICITY = {
    "时蔬": -1.2,
    "水果": -1.6,
    "肉禽蛋": -1.4,
    "水产": -1.8,
    "乳品": -1.3,
    "粮油调味": -1.0,
    "休闲零食": -2.0,
    "母婴": -0.6,
    "烘焙糕点": -1.7,
    "冻品": -1.5,
    "酒水饮料": -2.2,
    "日用百货": -0.9,
    "进口精品": -2.4,
    "豆制品": -0.8,
    "熟食卤味": -1.5,
}
# Weekly order-rate factors, Monday..Sunday.
WEEKDAY = [0.94, 0.92, 0.95, 1.00, 1.08, 1.14, 1.03]
ANNUAL_AMPLITUDE = 0.06  # ± on order rate, peak in late December
# Hot-weather lift per °C of daily maximum above 30 °C.
HEAT_LIFT = {"水果": 0.05, "酒水饮料": 0.07, "冻品": 0.03}
# Festival windows: (holiday, days before the first holiday day, order-rate factor,
# category multipliers). During the Spring Festival holiday itself many leave town.
FESTIVALS = {
    "春节": (
        10,
        1.25,
        {"肉禽蛋": 1.8, "水产": 1.8, "休闲零食": 1.6, "酒水饮料": 1.5, "熟食卤味": 1.5},
    ),
    "中秋节": (7, 1.08, {"烘焙糕点": 2.5, "水果": 1.3}),
}
SPRING_FESTIVAL_HOLIDAY_RATE = 0.6
# A simulated day reads the holidays up to this many days ahead (the 年货 / 月饼 topic window,
# the longest of the festival windows below and in data/simulate.py).
HOLIDAY_LOOKAHEAD = 20
SEASONAL_SKUS = {
    "月饼礼盒": "中秋节",
    "广式月饼": "中秋节",
    "粽子礼盒": "端午节",
    "青团": "清明节",
    "汤圆": "春节",
}
AFFINITIES = [  # antecedent, consequent, probability the consequent is added
    ("西冷牛排", "黑胡椒酱", 0.8),
    ("婴儿配方奶粉", "婴儿米粉", 0.7),
    ("火锅底料", "肥牛卷", 0.5),
]
ANCHORS = ["西冷牛排", "婴儿配方奶粉", "火锅底料"]
TREND_KEYWORD = "低糖水果"
TREND_SKUS = ["低糖蓝莓", "低糖苹果", "轻甜小番茄"]
TREND_TOPIC_DAYS_BEFORE_END = 35
TREND_DEMAND_LAG = 7
TREND_TOPIC_LIFT = 4.0  # mentions ×4 (up 300 %)
TREND_DEMAND_LIFT = 2.2  # units ×2.2 once fully ramped
TREND_RAMP_DAYS = 14
TOPIC_KEYWORDS = {  # keyword -> base daily mentions per 100 users
    "低糖水果": 0.8,
    "有机蔬菜": 0.6,
    "月饼": 0.3,
    "年货": 0.3,
    "防暑降温": 0.4,
    "宝宝辅食": 0.5,
    "健身轻食": 0.5,
    "火锅": 0.6,
    "粽子": 0.2,
    "宠物用品": 0.3,
}
# Operations improve when the platform adopts Linli at this fraction of the horizon:
# group thresholds set from demand, buying to orders, earlier delivery.
ADOPTION_AT = 0.45
THRESHOLD_FACTOR = {"before": (0.55, 1.25), "after": (0.2, 0.5)}
OVERBUY = {"before": (1.08, 1.32), "after": (1.0, 1.02)}
ACTIVITY_SIGMA = 0.8  # user-level lognormal spread of the order rate (mean 1)
KOC_SHARE = 0.03
KOC_REFERRAL = 0.25  # share of a community's orders arriving through a KOC's shared link


def holidays() -> pd.DataFrame:
    """Return China's holidays and adjusted workdays (``engine.forecasting.calendar``).

    Columns ``date`` (datetime.date), ``kind``, ``holiday`` (string); ``attrs["covers"]``
    holds the first and last day of the published years.
    """
    df = fcal.china_holidays()
    df["date"] = df["date"].dt.date
    df["holiday"] = df["holiday"].astype("string")
    return df


def check_calendar(start: date, end: date) -> None:
    """Refuse to simulate days whose holidays (or festival eves) are not yet published.

    Raises
    ------
    engine.forecasting.calendar.CoverageError
        When ``start`` to ``end`` plus :data:`HOLIDAY_LOOKAHEAD` days leaves the calendar.
    """
    first, last = fcal.coverage()
    need = end + timedelta(days=HOLIDAY_LOOKAHEAD)
    if start < first or need > last:
        raise fcal.CoverageError(
            f"the holiday calendar covers {first} to {last}; a world from {start} to {end} "
            f"needs it until {need} (festival lifts start up to {HOLIDAY_LOOKAHEAD} days "
            "before a holiday). Choose an earlier end, or upgrade chinesecalendar."
        )


def calendar(start: date, end: date) -> pd.DataFrame:
    """Return one row per day with holiday, workday and festival-window flags.

    Raises
    ------
    engine.forecasting.calendar.CoverageError
        When a day lies outside the published holiday calendar.
    """
    first, last = fcal.coverage()
    if start < first or end > last:
        raise fcal.CoverageError(
            f"the holiday calendar covers {first} to {last}, not {start}..{end}"
        )
    days = pd.date_range(start, end, freq="D")
    hol = holidays().set_index("date")
    rows = []
    for ts in days:
        d = ts.date()
        kind = hol["kind"].get(d)
        name = hol["holiday"].get(d)
        is_holiday = kind == "holiday"
        is_workday = (kind == "workday") or (d.weekday() < 5 and not is_holiday)
        rows.append((d, is_holiday, is_workday, name if is_holiday else None))
    return pd.DataFrame(rows, columns=["cal_date", "is_holiday", "is_workday", "holiday"])


def festival_first_days() -> dict[str, list[date]]:
    """Return the first holiday day of each festival occurrence."""
    hol = holidays()
    hol = hol[hol["kind"] == "holiday"].sort_values("date")
    out: dict[str, list[date]] = {}
    prev: dict[str, date] = {}
    for d, name in zip(hol["date"], hol["holiday"], strict=True):
        if name not in prev or (d - prev[name]).days > 20:
            out.setdefault(name, []).append(d)
        prev[name] = d
    return out


def catalogue() -> pd.DataFrame:
    """Return the shipped SKU catalogue (300 SKUs in 15 categories)."""
    with open(REF / "skus.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    df = pd.DataFrame(rows)
    for col in ("shelf_life_days",):
        df[col] = df[col].astype(int)
    for col in ("list_price", "cost_ratio", "weight_kg"):
        df[col] = df[col].astype(float)
    df["tags"] = df["tags"].fillna("").map(lambda s: [t for t in s.split(";") if t])
    return df


def person_name(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` plausible Chinese personal names."""
    s = rng.choice(SURNAMES, n)
    g1 = rng.choice(GIVEN, n)
    g2 = rng.choice(GIVEN, n)
    two = rng.random(n) < 0.6
    return [a + b + (c if t else "") for a, b, c, t in zip(s, g1, g2, two, strict=True)]


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` distinct residential-community names, the seeds' three first."""
    names = [name for name, _ in SEED_COMMUNITIES][:n]
    seen = set(names)
    while len(names) < n:
        cand = "".join(rng.choice(NAME_PREFIX, 2)) + str(rng.choice(NAME_SUFFIX))
        if cand not in seen:
            seen.add(cand)
            names.append(cand)
    return names


def date_range(end: date, days: int) -> list[date]:
    """Return the ``days`` consecutive dates ending at ``end``."""
    return [end - timedelta(days=days - 1 - i) for i in range(days)]
