"""Messages leave the app: channels set on the admin page, a plan approved, receivers get it."""

from __future__ import annotations

import io
import time

import openpyxl

from connectors.channels import KEY_HEADER
from tests.e2e.conftest import assert_clean, shot, wait_for_app
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_files, mail_text

LONG = 240_000


def _set_channel(page, role_label: str | None, url: str) -> None:
    form = page.locator('[data-testid="stForm"]').filter(has_text="渠道地址")
    if role_label is not None:
        form.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=role_label).click()
    form.get_by_label("渠道地址").fill(url)
    form.get_by_role("button", name="保存渠道").click()
    page.get_by_text("渠道已保存。").first.wait_for(timeout=LONG)
    wait_for_app(page)


def test_approving_a_plan_sends_leader_lists_and_supplier_orders(server, page):
    """Admin sets webhook and mail channels; approving a plan delivers lists and Excel POs."""
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    try:
        page.goto(f"{server}/admin")
        wait_for_app(page)
        _set_channel(page, None, hook.url("/leaders"))  # 团长 is the default role
        _set_channel(page, "供应商", smtp.url())
        assert_clean(page)
        shot(page, "action-admin-channels")

        page.goto(f"{server}/plan")
        wait_for_app(page)
        page.get_by_role("button", name="生成计划").click()
        page.locator('[data-testid="stMetric"]').first.wait_for(timeout=LONG)
        wait_for_app(page)
        communities = int(
            page.locator('[data-testid="stMetricValue"]').first.inner_text().replace(",", "")
        )
        suppliers = int(
            page.locator('[data-testid="stMetricValue"]').nth(6).inner_text().replace(",", "")
        )
        page.get_by_role("button", name="审批通过").click()
        page.get_by_text("计划已发布").first.wait_for(timeout=LONG)
        wait_for_app(page)
        assert_clean(page)
        shot(page, "action-plan-published")

        leaders = hook.wait(communities, timeout=120)
        assert len(leaders) == communities and len({h.key for h in leaders}) == communities
        assert all("团购清单" in h.title and "截单时间" in h.message for h in leaders)
        # This plan's supplier orders only: the server is shared with other e2e tests, whose
        # earlier plans' orders may still be queued and reach the channel set here.
        (plan_id,) = {h.key.split(":")[1] for h in leaders}
        deadline = time.time() + 120
        while True:
            mails = [
                m for m in smtp.mails if str(m[KEY_HEADER]).startswith(f"plan:{plan_id}:supplier")
            ]
            if len(mails) >= suppliers or time.time() > deadline:
                break
            time.sleep(0.1)
        assert len(mails) == suppliers and len({m[KEY_HEADER] for m in mails}) == suppliers
        for mail in mails:
            assert mail["Subject"].startswith("采购单 PO-") and "合计 ¥" in mail_text(mail)
            ((name, content),) = mail_files(mail).items()
            book = openpyxl.load_workbook(io.BytesIO(content))
            assert name.endswith(".xlsx") and book.sheetnames == ["采购单", "汇总"]

        page.goto(f"{server}/admin")
        wait_for_app(page)
        page.get_by_text("已送达").first.wait_for(timeout=LONG)
        assert_clean(page)
        shot(page, "action-admin-outbox")
    finally:
        hook.close()
        smtp.close()
