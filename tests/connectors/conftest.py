"""Fixtures for connector tests: a fresh Linli database with a few reference rows."""

import os
import socket

import pytest

from engine import db


def seed(con):
    """Fill the parent tables an import refers to (2 communities, 3 users, 3 SKUs)."""
    con.execute("INSERT INTO regions VALUES (1, '岳麓区', '长沙')")
    con.execute("INSERT INTO warehouses VALUES (1, '岳麓前置仓', 1, 28.2, 112.9)")
    con.execute(
        "INSERT INTO communities VALUES "
        "(1, '云顶华府', 1, 1, 'high_end', 800, 2015, 21000, 28.21, 112.91, '2024-01-01'), "
        "(2, '幸福里', 1, 1, 'young_family', 1200, 2019, 14000, 28.22, 112.92, '2024-02-01')"
    )
    con.execute(
        "INSERT INTO pickup_points VALUES (11, 1, 1, '云顶华府自提点', 28.21, 112.91, 480, 600, 5), "
        "(12, 2, 2, '幸福里自提点', 28.22, 112.92, 480, 600, 5)"
    )
    con.execute(
        "INSERT INTO users (user_id, community_id, building, signup_date, channel, gender, "
        "age_band, has_children, has_pet) "
        "VALUES (1, 1, '1栋', '2024-03-01', 'app', 'F', '30-44', true, false), "
        "(2, 1, '2栋', '2024-03-02', 'poster', NULL, NULL, NULL, NULL), "
        "(3, 2, '5栋', '2024-04-01', 'wechat_group', 'M', '60+', false, true)"
    )
    con.execute(
        "INSERT INTO skus VALUES "
        "(10, '澳洲牛排', '肉禽蛋', 'frozen', 180, 39.9, 22.0, '盒', 0.3, 0.4, 1, 1, ['imported'], '2024-01-01'), "
        "(11, '黑椒酱', '粮油调味', 'ambient', 365, 9.9, 4.0, '瓶', 0.25, 0.25, 1, 1, [], '2024-01-01'), "
        "(12, '低糖苹果', '水果', 'chilled', 20, 19.9, 11.0, '斤', 0.5, 0.6, 1, 1, ['low_sugar'], '2024-01-01')"
    )


@pytest.fixture
def linli():
    """A fresh in-memory Linli database with reference rows."""
    con = db.connect(":memory:")
    seed(con)
    yield con
    con.close()


def mosquitto_up() -> bool:
    """True when a broker answers on 127.0.0.1:1883 and LINLI_TEST_BROKER is not 'embedded'."""
    if os.environ.get("LINLI_TEST_BROKER") == "embedded":  # as on a machine without Mosquitto
        return False
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False
