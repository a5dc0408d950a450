"""Guessing which file column is which table column, from Chinese or English headers.

Platforms name their columns in many ways (订单号, 订单编号, Order ID, order_id). A header is
normalised (case, spaces, underscores, punctuation removed) and looked up in a synonym table;
the guess is a plain ``{file header: table column}`` dict the user can edit before importing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from connectors import tables

# table column -> header spellings (besides the column name itself), Chinese first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": ("订单号", "订单编号", "订单id", "订单ID", "单号", "order id", "order no", "order"),
    "user_id": (
        "用户",
        "客户",
        "会员",
        "用户id",
        "用户ID",
        "用户编号",
        "会员id",
        "会员编号",
        "客户id",
        "客户编号",
        "user id",
        "customer id",
        "member id",
        "buyer id",
        "user",
    ),
    "community_id": (
        "小区id",
        "小区ID",
        "小区编号",
        "社区id",
        "社区编号",
        "community id",
        "community",
    ),
    "pickup_id": ("自提点id", "自提点编号", "自提点", "提货点", "pickup id", "pickup point"),
    "order_date": ("下单日期", "订单日期", "日期", "order date", "date"),
    "created_at": (
        "时间",
        "下单时间",
        "创建时间",
        "订单时间",
        "支付时间",
        "created at",
        "order time",
        "created",
        "time",
    ),
    "promised_by": ("承诺送达时间", "预计送达", "promised by", "promised"),
    "delivered_at": ("送达时间", "到货时间", "delivered at", "delivered"),
    "picked_up_at": ("提货时间", "取货时间", "picked up at", "picked up", "pickup time"),
    "status": ("订单状态", "状态", "order status"),
    "ref_user_id": ("推荐人", "推荐人id", "分享人", "referrer", "referrer id", "ref user"),
    "coupon": ("优惠券", "优惠金额", "优惠", "券", "discount", "coupon amount"),
    "coupon_code": ("券码", "优惠券码", "优惠码", "优惠券编号", "coupon code", "voucher code"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "mobile", "phone number", "tel"),
    "sku_id": (
        "商品id",
        "商品ID",
        "商品编号",
        "商品编码",
        "sku",
        "skuid",
        "sku编号",
        "product id",
        "item id",
    ),
    "campaign_id": ("活动id", "团购id", "活动编号", "团购编号", "campaign", "group buy id"),
    "qty": ("数量", "购买数量", "件数", "quantity", "units", "count"),
    "unit_price": ("单价", "成交价", "实付单价", "团购价", "price", "price paid", "unit price"),
    "list_price": ("原价", "标价", "零售价", "划线价", "list price", "retail price", "msrp"),
    "unit_cost": ("成本", "成本价", "进价", "采购价", "cost", "unit cost", "cost price"),
    "refund_qty": ("退款数量", "退货数量", "refund qty", "refunded", "refund quantity"),
    "refund_reason": ("退款原因", "退货原因", "refund reason"),
    "building": ("楼栋", "楼号", "栋", "building no"),
    "signup_date": (
        "注册日期",
        "注册时间",
        "加入日期",
        "signup",
        "sign up date",
        "registered",
        "registration date",
        "joined",
    ),
    "channel": ("渠道", "来源", "注册渠道", "source", "acquisition channel"),
    "gender": ("性别", "sex"),
    "age_band": ("年龄段", "年龄", "age", "age group"),
    "has_children": ("有孩子", "有小孩", "是否有孩子", "children", "kids"),
    "has_pet": ("有宠物", "是否有宠物", "pet", "pets"),
    "name": ("名称", "商品名称", "商品名", "小区名称", "小区名", "品名", "title"),
    "category": ("品类", "类目", "分类", "商品分类", "category name"),
    "storage": ("储存方式", "存储方式", "温层", "温区", "storage type"),
    "shelf_life_days": ("保质期", "保质期天数", "保质期(天)", "shelf life", "shelf life days"),
    "unit": ("单位", "计量单位", "uom"),
    "weight_kg": ("重量", "重量kg", "重量(kg)", "净重", "weight", "weight kg"),
    "volume_l": ("体积", "体积l", "体积(升)", "volume", "volume l"),
    "pack_size": ("包装数", "起订量", "箱规", "pack", "pack size", "case size"),
    "supplier_id": ("供应商id", "供应商编号", "供应商", "supplier", "supplier id", "vendor id"),
    "tags": ("标签", "tag", "labels"),
    "launched": ("上架日期", "上市日期", "上新日期", "launch date", "launched on"),
    "region_id": ("区域id", "区域编号", "行政区", "区县", "region", "district id"),
    "warehouse_id": (
        "仓库id",
        "仓库编号",
        "前置仓",
        "前置仓id",
        "仓库",
        "warehouse",
        "warehouse id",
    ),
    "type": ("小区类型", "类型", "community type"),
    "households": ("户数", "住户数", "总户数", "household count", "homes"),
    "built_year": ("建成年份", "建成年代", "竣工年份", "year built"),
    "avg_price_sqm": ("房价", "均价", "每平米均价", "房价(元/平)", "price per sqm", "house price"),
    "lat": ("纬度", "latitude"),
    "lon": ("经度", "longitude", "lng"),
    "opened": ("开通日期", "开城日期", "上线日期", "opened on", "open date"),
    "stock_date": ("库存日期", "盘点日期", "stock date", "inventory date"),
    "received": ("入库", "入库数量", "到货数量", "received qty", "receipts"),
    "sold": ("销量", "出库", "销售数量", "sold qty", "sales"),
    "wasted": ("损耗", "报损", "损耗数量", "waste", "spoiled"),
    "on_hand": ("库存", "期末库存", "现有库存", "结存", "on hand", "stock", "closing stock"),
    "in_transit": ("在途", "在途数量", "in transit qty"),
    "price_date": ("价格日期", "采价日期", "price date"),
    "competitor": ("竞品", "竞争对手", "竞品平台", "competitor"),
    "reference_price": ("参考价", "竞品价", "竞品价格", "reference price", "competitor price"),
}

# Sheet or file names hinting at a table, used when the headers alone are ambiguous.
TABLE_NAMES: dict[str, tuple[str, ...]] = {
    "orders": ("订单", "orders", "order"),
    "order_items": ("订单明细", "明细", "order_items", "items", "order lines", "lines"),
    "users": ("用户", "会员", "客户", "users", "customers", "members"),
    "skus": ("商品", "sku", "skus", "products", "catalogue", "catalog"),
    "communities": ("小区", "社区", "communities", "community"),
    "inventory": ("库存", "inventory", "stock"),
    "reference_prices": ("参考价", "竞品价格", "reference prices", "competitor prices"),
}


def normalise(header: object) -> str:
    """Return a header reduced to lower-case letters, digits and CJK characters."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    return re.sub(r"[\s_\-./:()（）\[\]【】#]+", "", text)


def _lookup() -> dict[str, str]:
    out: dict[str, str] = {}
    for column, words in SYNONYMS.items():
        for word in (column, *words):
            out.setdefault(normalise(word), column)
    return out


_LOOKUP = _lookup()


def guess_mapping(headers: Iterable[object], table: str) -> dict[str, str]:
    """Guess which header feeds which column of ``table``.

    Parameters
    ----------
    headers
        The file's column headers.
    table
        Target table (see :data:`connectors.tables.LOAD_ORDER`).

    Returns
    -------
    dict
        ``{header: column}`` for every header recognised as a column of ``table``; the first
        header wins when two mean the same column. Unrecognised headers are left out.
    """
    wanted = set(tables.spec(table).names)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        column = _LOOKUP.get(normalise(header))
        if column in wanted and column not in taken:
            mapping[str(header)] = column
            taken.add(column)
    return mapping


def guess_table(headers: Iterable[object], name: str | None = None) -> str:
    """Guess the target table of a file or sheet from its headers (and its name).

    Parameters
    ----------
    headers
        Column headers.
    name
        File stem or sheet name, used to break ties.

    Returns
    -------
    str
        The table whose required columns are best covered.

    Raises
    ------
    ValueError
        When no table's required columns are mostly present.
    """
    headers = list(headers)
    hint = normalise(name or "")
    best: tuple[float, int, str] | None = None
    for table in tables.LOAD_ORDER:
        spec = tables.spec(table)
        mapped = set(guess_mapping(headers, table).values())
        cover = len(mapped & set(spec.required)) / len(spec.required)
        named = int(any(hint == normalise(n) for n in TABLE_NAMES[table]))
        score = (cover, named, table)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None or best[0] < 0.5:
        raise ValueError(
            "Cannot tell which table these columns belong to "
            f"({', '.join(map(str, headers[:12]))}); choose the table explicitly."
        )
    return best[2]


def apply_mapping(
    headers: Iterable[object], table: str, mapping: Mapping[str, str] | None
) -> dict[str, str]:
    """Merge a user's mapping over the guess and check it.

    Parameters
    ----------
    headers
        The file's column headers.
    table
        Target table.
    mapping
        ``{header: column}`` overrides; a column of ``""`` or ``None`` ignores that header.

    Returns
    -------
    dict
        The final ``{header: column}`` mapping.

    Raises
    ------
    ValueError
        When an override names an unknown header or column. When an override feeds a column
        that a guessed header fed, the override wins.
    """
    headers = [str(h) for h in headers]
    spec = tables.spec(table)
    final = guess_mapping(headers, table)
    for header, column in (mapping or {}).items():
        if header not in headers:
            raise ValueError(f"The mapping names a column {header!r} that is not in the file.")
        if not column:
            final.pop(header, None)
            continue
        if column not in spec.names:
            raise ValueError(
                f"{column!r} is not a column of {table}; columns: {', '.join(spec.names)}."
            )
        for other, col in list(final.items()):
            if col == column and other != header:
                del final[other]
        final[header] = column
    return final
