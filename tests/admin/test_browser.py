"""The admin in a real browser: fix an invalid strategy configuration, then try the strategy.

Drives the system's Chromium through Playwright against pytest-django's live server.
Screenshots are kept in the test's temporary folder (the path is printed) to be looked at.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from semrec.tenants.models import TenantMembership

from .conftest import PASSWORD

CHROMIUM = Path(os.environ.get("SEMREC_CHROMIUM", "/usr/bin/chromium"))

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed; pip install -e '.[test]'.")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not shutil.which(str(CHROMIUM)),
    reason=f"Chromium is not installed at {CHROMIUM}; install it with 'apt-get install -y chromium' or set SEMREC_CHROMIUM.",
)


@pytest.fixture
def editor(strategy):
    """A staff user of the strategy's tenant with the permissions to edit and try strategies."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("editor", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["strategies", "catalog"]))
    TenantMembership.objects.create(tenant=strategy.tenant, user=user)
    return user


@contextmanager
def open_page(base_url: str, language: str = "en"):
    """Open a page in the system's Chromium. Database work must happen outside this block,
    because Playwright's synchronous API runs an event loop in this thread and Django
    refuses database access while one runs."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, base_url=base_url, extra_http_headers={"Accept-Language": language}
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def _shot(page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_fix_config_then_try_it(live_server, editor, strategy, tmp_path):
    print(f"Screenshots: {tmp_path}")
    with open_page(live_server.url) as page:
        _fix_config_then_try_it(page, strategy.pk, tmp_path)

    strategy.refresh_from_db()
    assert strategy.fallback_scorer_config == {"window_days": 30}


def _fix_config_then_try_it(page, strategy_pk: int, tmp_path: Path) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto("/admin/strategies/strategy/")
    page.click(f"a[href='/admin/strategies/strategy/{strategy_pk}/change/']")
    page.wait_for_selector("select[name=scorer_id]")
    _shot(page, tmp_path, "1-strategy")

    page.fill("textarea[name=fallback_scorer_config]", '{"window_days": -3}')
    page.click("input[name=_continue]")
    error = page.locator(".field-fallback_scorer_config .errorlist")
    sync_api.expect(error).to_contain_text("window_days: Input should be greater than 0")
    error.scroll_into_view_if_needed()
    _shot(page, tmp_path, "2-inline-error")

    page.fill("textarea[name=fallback_scorer_config]", '{"window_days": 30}')
    page.click("input[name=_continue]")
    sync_api.expect(page.locator(".messagelist .success")).to_be_visible()
    _shot(page, tmp_path, "3-saved")

    page.click("text=Try it")
    page.click(".field-user .select2-selection")
    page.fill(".select2-search__field", "space")
    page.click(".select2-results__option >> text=space-fan")
    page.fill("input[name=n]", "6")
    page.click("input[type=submit]")
    items = page.locator(".semrec-preview .recommended-item")
    sync_api.expect(items).to_have_count(6)
    sync_api.expect(page.locator(".semrec-history")).to_contain_text("Rocket to Mars")
    _shot(page, tmp_path, "4-try-it")

    page.goto("/admin/strategies/strategy/plugins/")
    sync_api.expect(page.locator("tr[data-plugin=popularity]")).to_contain_text("acme/hybrid")
    _shot(page, tmp_path, "5-installed-plugins")


#: English labels of the pages below with their Simplified Chinese translations.
CHINESE_LABELS = {
    "semrec administration": "semrec 管理后台",
    "Try it": "试一试",
    "Installed plugins": "已安装的插件",
    "Fallback scorer": "回退打分器",
    "Recent history of space-fan": "space-fan 的近期历史",
}


def test_admin_in_simplified_chinese(live_server, editor, strategy, tmp_path):
    print(f"Screenshots: {tmp_path}")
    with open_page(live_server.url, language="zh-Hans") as page:
        texts = _chinese_pages(page, strategy.pk, tmp_path)

    for english, chinese in CHINESE_LABELS.items():
        assert any(chinese in text for text in texts), chinese
        assert not any(english in text for text in texts), english


def _chinese_pages(page, strategy_pk: int, tmp_path: Path) -> list[str]:
    page.goto("/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    texts = [page.inner_text("body")]
    _shot(page, tmp_path, "zh-1-index")

    page.goto(f"/admin/strategies/strategy/{strategy_pk}/change/")
    page.wait_for_selector("select[name=scorer_id]")
    texts.append(page.inner_text("body"))
    _shot(page, tmp_path, "zh-2-strategy")

    page.goto("/admin/strategies/strategy/try/")
    page.click(".field-user .select2-selection")
    page.fill(".select2-search__field", "space")
    page.click(".select2-results__option >> text=space-fan")
    page.select_option("select[name=strategy]", index=1)
    page.fill("input[name=n]", "6")
    page.click("input[type=submit]")
    sync_api.expect(page.locator(".semrec-preview .recommended-item")).to_have_count(6)
    texts.append(page.inner_text("body"))
    _shot(page, tmp_path, "zh-3-try-it")

    page.goto("/admin/strategies/strategy/plugins/")
    texts.append(page.inner_text("body"))
    _shot(page, tmp_path, "zh-4-installed-plugins")
    return texts
