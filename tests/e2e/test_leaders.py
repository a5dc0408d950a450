"""团长工作台 in a real browser: tomorrow's pickup list, groups near threshold, commission, tiers."""

from __future__ import annotations

from tests.e2e.conftest import assert_clean, grid_rows, shot, wait_for_app

LONG = 240_000  # ms


def test_leader_workbench_shows_lists(server, page):
    """The page lists tomorrow's customers for a pickup point, masked, printable; tabs render."""
    page.goto(f"{server}/leaders")
    wait_for_app(page)
    assert_clean(page)
    assert page.locator('[data-testid="stMain"] h1').first.inner_text() == "团长工作台"
    metrics = dict(
        zip(
            page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
            page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
            strict=False,
        )
    )
    assert int(metrics["客户数"]) > 0 and int(metrics["件数"]) > 0
    customers = page.locator('[data-testid="stDataFrame"]:visible').first
    assert grid_rows(customers) == int(metrics["客户数"])
    # Demo mode is not a role that may see phone numbers.
    assert page.get_by_text("手机号已部分隐藏", exact=False).count() == 1
    assert page.get_by_role("button", name="打印清单（HTML）").count() == 1
    shot(page, "action-leaders-pickup")

    # Another pickup point: its own list.
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.locator('[role="option"]').nth(1).click()
    wait_for_app(page)
    assert_clean(page)
    assert grid_rows(page.locator('[data-testid="stDataFrame"]:visible').first) > 0

    page.get_by_role("tab", name="佣金结算").click()
    wait_for_app(page)
    assert grid_rows(page.locator('[data-testid="stDataFrame"]:visible').first) == 20
    page.get_by_role("tab", name="团长排行与等级").click()
    wait_for_app(page)
    tables = page.locator('[data-testid="stDataFrame"]:visible')
    assert grid_rows(tables.first) == 20  # every leader of the small world, ranked
    assert grid_rows(tables.nth(1)) == 4  # the tier rules
    assert_clean(page)
    shot(page, "action-leaders-ranking")


def test_approved_plan_reaches_the_workbench(server, page):
    """Build and approve tomorrow's plan; the workbench then lists the point's groups."""
    page.goto(f"{server}/plan")
    wait_for_app(page)
    page.get_by_role("button", name="生成计划").click()
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=LONG)
    wait_for_app(page)
    page.get_by_role("button", name="审批通过").click()
    page.get_by_text("已审批", exact=False).first.wait_for(timeout=LONG)
    assert_clean(page)

    page.goto(f"{server}/leaders")
    wait_for_app(page)
    assert_clean(page)
    assert page.get_by_text("这一天还没有已批准的计划", exact=False).count() == 0
    heading = page.get_by_text("明日开团（已批准的计划）", exact=True)
    assert heading.count() == 1
    # The customers' list comes first, the approved plan's groups second.
    groups = page.locator('[data-testid="stDataFrame"]:visible').nth(1)
    assert grid_rows(groups) > 0
    shot(page, "action-leaders-plan")
