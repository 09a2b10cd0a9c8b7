"""A new tenant set up end to end in a real browser, with no shell: the admin, the REST API and a Celery worker.

A superuser creates a tenant, an API key and a strategy, fixing an invalid
configuration value on the way. It imports a catalogue and events through the
REST API with that key and presses Retrain. Then it watches the run page
follow a real Celery worker to success without reloading, and tries the
strategy.

The worker is started only after the run page shows the run queued, so the
page is seen to change on its own. Skipped when Chromium or the Redis broker
is missing. Screenshots are kept in the test's temporary folder (the path is
printed) to be looked at.
"""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from django.contrib.auth import get_user_model

from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun

from ..catalogue import COOK_HISTORY, ITEMS, SPACE_FAN_HISTORY
from ..training.conftest import broker, start_worker  # noqa: F401 (fixtures)
from .conftest import PASSWORD
from .test_browser import _shot, open_page, pytestmark, sync_api  # noqa: F401 (pytestmark skips without Chromium)

API_KEY = re.compile(r"sr_[0-9a-f]+_[A-Za-z0-9_-]+")


def _api_items() -> list[dict]:
    return [{"id": item_id, "title": title, "description": text, "categories": categories} for item_id, title, text, categories in ITEMS]


def _api_events() -> list[dict]:
    """Purchases with clear themes: a space fan, a cook, a cooking crowd and a few space watchers."""
    histories = {"space-fan": SPACE_FAN_HISTORY, "cook": COOK_HISTORY}
    histories.update({f"crowd-{index}": ["cook-5", "cook-6", "cook-1", "jazz-1"] for index in range(6)})
    histories.update({f"astro-{index}": ["space-1", "space-2", "space-4", "space-5"] for index in range(3)})
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return [
        {
            "user_id": user,
            "item_id": item,
            "kind": "purchase",
            "timestamp": (start + timedelta(days=offset)).isoformat(),
            "idempotency_key": f"{user}:{item}",
        }
        for user, items in histories.items()
        for offset, item in enumerate(items)
    ]


def test_new_tenant_end_to_end(live_server, start_worker, tmp_path):  # noqa: F811
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    print(f"Screenshots: {tmp_path}")

    with open_page(live_server.url) as page:
        seen = _new_tenant_flow(page, tmp_path, start_worker)

    strategy = Strategy.objects.get(tenant__slug="shop", name="shop-ease")
    assert strategy.scorer_config == {"max_items": 100}
    run = TrainingRun.objects.get(strategy=strategy, kind=TrainingRun.Kind.TRAIN)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert ModelVersion.objects.filter(strategy=strategy, is_active=True, plugin_id="ease").exists()
    assert seen["first_status"] == "Queued"
    assert seen["waited_before"] != seen["waited_after"], "the queued time counts up without a reload"
    assert seen["marker"] == "still the same page", "the run page reloaded"
    assert seen["polls"] >= 3, "the page polls the progress view about once a second"
    assert seen["polls_after_finish"] == 0, "polling stops when the run finishes"


def _log_in(page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def _create_tenant_and_key(page) -> str:
    page.goto("/admin/tenants/tenant/add/")
    page.fill("input[name=slug]", "shop")
    page.fill("input[name=name]", "Shop")
    page.click("input[name=_save]")
    sync_api.expect(page.locator(".messagelist .success")).to_be_visible()

    page.goto("/admin/tenants/apikey/add/")
    page.select_option("select[name=tenant]", label="shop")
    page.fill("input[name=name]", "catalogue import")
    page.click("input[name=_save]")
    shown_once = page.locator(".messagelist .warning").inner_text()
    found = API_KEY.search(shown_once)
    assert found, f"no API key in the message: {shown_once!r}"
    return found.group(0)


def _create_strategy(page, tmp_path: Path) -> int:
    page.goto("/admin/strategies/strategy/add/")
    page.select_option("select[name=tenant]", label="shop")
    page.fill("input[name=name]", "shop-ease")
    page.select_option("select[name=encoder_id]", "lexical")
    page.select_option("select[name=intent_model_id]", "")
    page.select_option("select[name=scorer_id]", "ease")
    page.fill("textarea[name=scorer_config]", '{"max_items": 1}')
    page.check("input[name=make_default]")
    page.click("input[name=_continue]")
    error = page.locator(".field-scorer_config .errorlist")
    sync_api.expect(error).to_contain_text("max_items: Input should be greater than or equal to 2")
    error.scroll_into_view_if_needed()
    _shot(page, tmp_path, "flow-1-invalid-config")

    page.fill("textarea[name=scorer_config]", '{"max_items": 100}')
    page.click("input[name=_continue]")
    sync_api.expect(page.locator(".messagelist .success")).to_be_visible()
    return int(re.search(r"/strategy/(\d+)/change/", page.url).group(1))


def _import_through_api(page, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    users = sorted({event["user_id"] for event in _api_events()})
    batches = [
        ("/api/v1/items", _api_items()),
        ("/api/v1/users", [{"id": user} for user in users]),
        ("/api/v1/events", _api_events()),
    ]
    for path, rows in batches:
        response = page.request.post(path, data=rows, headers=headers)
        assert response.ok, f"{path}: {response.status} {response.text()}"
        assert response.json()["created"] == len(rows), f"{path}: {response.text()}"


def _watch_retrain(page, tmp_path: Path, strategy_pk: int, start_worker) -> dict:
    page.goto(f"/admin/strategies/strategy/{strategy_pk}/change/")
    sync_api.expect(page.locator("#semrec-jobs")).to_contain_text("No runs yet")
    _shot(page, tmp_path, "flow-2-strategy-buttons")

    polls = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/progress/") else None)
    page.click("button.semrec-tool >> text=Retrain")
    page.wait_for_selector("#semrec-run")
    sync_api.expect(page.locator(".messagelist .success")).to_contain_text("in the background")
    page.evaluate("window.semrecMarker = 'still the same page'")
    status = page.locator("#semrec-run [data-field=status_label]")
    seen = {"first_status": status.inner_text()}

    # With no worker yet, the run waits in the queue and the page counts the wait.
    waited = page.locator("#semrec-run [data-field=queued_display]")
    seen["waited_before"] = waited.inner_text()
    page.wait_for_timeout(2500)
    seen["waited_after"] = waited.inner_text()
    _shot(page, tmp_path, "flow-3-run-queued")

    start_worker()
    sync_api.expect(status).to_have_text("Succeeded", timeout=120_000)
    sync_api.expect(page.locator("#semrec-run [data-field=percent_display]")).to_have_text("100.0 %")
    sync_api.expect(page.locator("#semrec-run [data-live]")).to_be_hidden()
    sync_api.expect(page.locator("#semrec-run-result .semrec-version").first).to_contain_text("ease")
    seen["marker"] = page.evaluate("window.semrecMarker")
    seen["polls"] = len(polls)
    page.wait_for_timeout(2500)
    seen["polls_after_finish"] = len(polls) - seen["polls"]
    _shot(page, tmp_path, "flow-4-run-succeeded")
    return seen


def _versions_and_try_it(page, tmp_path: Path, strategy_pk: int) -> None:
    page.click("#semrec-run-result .semrec-version a")
    sync_api.expect(page.locator(".field-metrics_table")).to_contain_text("train_seconds")
    sync_api.expect(page.locator("button.semrec-tool")).to_have_text("Roll back")
    page.goto(f"/admin/training/modelversion/?strategy__id__exact={strategy_pk}")
    sync_api.expect(page.locator("#result_list tbody tr").first).to_contain_text("shop/shop-ease")
    _shot(page, tmp_path, "flow-5-versions")

    page.goto("/admin/training/trainingrun/")
    sync_api.expect(page.locator("#result_list .semrec-progress-succeeded")).to_have_count(1)
    _shot(page, tmp_path, "flow-6-run-list")

    page.goto(f"/admin/strategies/strategy/{strategy_pk}/change/")
    sync_api.expect(page.locator("#semrec-jobs .semrec-status-succeeded")).to_have_count(1)
    _shot(page, tmp_path, "flow-7-strategy-with-run")
    page.click("text=Try it")
    page.click(".field-user .select2-selection")
    page.fill(".select2-search__field", "space")
    page.click(".select2-results__option >> text=space-fan")
    page.fill("input[name=n]", "5")
    page.click("input[type=submit]")
    items = page.locator(".semrec-preview .recommended-item")
    sync_api.expect(items).to_have_count(5)
    sync_api.expect(page.locator(".semrec-preview")).to_contain_text("Galaxy Explorers")  # unseen, and astro users bought it
    sync_api.expect(page.locator(".semrec-preview")).not_to_contain_text("fallback scorer served")
    sync_api.expect(page.locator(".semrec-history")).to_contain_text("Rocket to Mars")
    _shot(page, tmp_path, "flow-8-try-it")


def _new_tenant_flow(page, tmp_path: Path, start_worker) -> dict:
    _log_in(page)
    key = _create_tenant_and_key(page)
    strategy_pk = _create_strategy(page, tmp_path)
    _import_through_api(page, key)
    seen = _watch_retrain(page, tmp_path, strategy_pk, start_worker)
    _versions_and_try_it(page, tmp_path, strategy_pk)
    return seen
