"""The charts page: tenant scope, numbers against a hand-computed fixture, and invalid input."""

import uuid
from datetime import datetime, timezone

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from semrec.catalog.models import Event, Item, User
from semrec.evaluation.models import EvaluationResult
from semrec.insights import data
from semrec.recommend.models import Recommendation
from semrec.strategies.models import Strategy

from .conftest import PASSWORD, make_staff

CHARTS = "/admin/insights/chart/"
RANGE = {"start": "2026-03-01", "end": "2026-03-03"}


def _at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def _event(tenant, kind, when, recommendation=None, item="item-1"):
    user = User.objects.get_or_create(tenant=tenant, external_id="user-1")[0]
    item = Item.objects.get_or_create(tenant=tenant, external_id=item, defaults={"title": f"{tenant.slug} item"})[0]
    return Event.objects.create(
        tenant=tenant, user=user, item=item, kind=kind, timestamp=when, recommendation_id=recommendation.pk if recommendation else None
    )


def _served(strategy, when) -> Recommendation:
    recommendation = Recommendation.objects.create(tenant=strategy.tenant, strategy=strategy, items=["item-1"])
    Recommendation.objects.filter(pk=recommendation.pk).update(created_at=when)
    recommendation.created_at = when
    return recommendation


def _result(strategy, when, ndcg, k=10, validation=False, version="v1"):
    result = EvaluationResult.objects.create(
        tenant=strategy.tenant, strategy=strategy, model_version=version, protocol="random_by_user", seed=1, k=k,
        validation=validation, users=50, precision=0.1, recall=0.2, ndcg=ndcg, map=0.1, mrr=0.1, hit_rate=0.1, coverage=0.1,
    )
    EvaluationResult.objects.filter(pk=result.pk).update(created_at=when)
    return result


@pytest.fixture
def history(tenant, other_tenant):
    """Events, served lists, clicks and evaluations of tenant acme in March 2026, and noise of tenant globex.

    Hand-computed for 2026-03-01 to 2026-03-03 (UTC):
    events: 03-01 view 2, click 1; 03-02 purchase 1; 03-03 none.
    alpha: 03-01 served 3, clicked 2 (r1 by two clicks, r2 by a purchase; r3 only viewed);
           03-02 served 2, clicked 1 (r5). beta: 03-01 served 1, clicked 0 (a globex click cites it).
    offline nDCG@10 of alpha: 0.30 on 03-01, 0.35 on 03-02.
    """
    alpha = Strategy.objects.create(tenant=tenant, name="alpha", scorer_id="popularity", intent_model_id="")
    beta = Strategy.objects.create(tenant=tenant, name="beta", scorer_id="popularity", intent_model_id="")
    theirs = Strategy.objects.create(tenant=other_tenant, name="theirs", scorer_id="popularity", intent_model_id="")

    _event(tenant, "view", _at(1, 8))
    _event(tenant, "view", _at(1, 23))
    _event(tenant, "click", _at(1, 0))
    _event(tenant, "purchase", _at(2))
    _event(tenant, "view", datetime(2026, 2, 28, 23, 59, 59, tzinfo=timezone.utc))  # before the range
    _event(tenant, "view", _at(4, 0))  # after the range
    for day in (1, 2, 3):
        _event(other_tenant, "like", _at(day))

    r1, r2, r3 = (_served(alpha, _at(1, hour)) for hour in (9, 10, 11))
    r4 = _served(beta, _at(1, 12))
    r5, _r6 = (_served(alpha, _at(2, hour)) for hour in (9, 10))
    _served(theirs, _at(1))
    # Attributed events happen after the range: they count for the day the list was served.
    _event(tenant, "click", _at(10), r1)
    _event(tenant, "click", _at(10, 13), r1)
    _event(tenant, "purchase", _at(10), r2)
    _event(tenant, "view", _at(10), r3)
    _event(other_tenant, "click", _at(10), r4)
    _event(tenant, "add_to_cart", _at(10), r5)
    _event(tenant, "click", _at(10), None)

    _result(alpha, _at(1), 0.30)
    _result(alpha, _at(2), 0.35, version="v2")
    _result(alpha, _at(2), 0.90, k=5)
    _result(alpha, _at(2), 0.99, validation=True)
    _result(theirs, _at(2), 0.77)
    return alpha, beta


def _charts(client, tenant, **params):
    response = client.get(CHARTS, {"tenant": tenant.pk, **RANGE, **params})
    assert response.status_code == 200, response.content.decode()[:2000]
    return {chart.slug: chart for chart in response.context["charts"]}, response.content.decode()


def _cells(chart) -> list[list[str]]:
    return [[text for text, _is_number in row] for row in chart.table_rows]


def test_events_per_day_numbers(staff, tenant, history):
    charts, page = _charts(staff, tenant)
    events = charts["events"]
    assert events.table_headers == ["day", "view", "click", "purchase", "total"]
    assert _cells(events) == [
        ["March 1, 2026", "2", "1", "0", "3"],
        ["March 2, 2026", "0", "0", "1", "1"],
        ["March 3, 2026", "0", "0", "0", "0"],
    ]
    assert 'id="chart-events"' in page
    assert "<title id=\"chart-events-title\">Events per day by kind</title>" in page


def test_served_and_click_through_numbers(staff, tenant, history):
    served = {(row.strategy_id, row.day.isoformat()): (row.served, row.clicked) for row in data.served_per_day(tenant, data.DateRange(*_days()))}
    alpha, beta = history
    assert served == {(alpha.pk, "2026-03-01"): (3, 2), (alpha.pk, "2026-03-02"): (2, 1), (beta.pk, "2026-03-01"): (1, 0)}

    charts, _page = _charts(staff, tenant)
    assert _cells(charts["click-through"]) == [
        ["March 1, 2026", "alpha", "3", "2", "66.7%"],
        ["March 1, 2026", "beta", "1", "0", "0.0%"],
        ["March 2, 2026", "alpha", "2", "1", "50.0%"],
    ]
    legend = [series.label for series in charts["served"].layout.series]
    assert legend == ["alpha", "beta"]
    served_alpha = [point[2] for point in charts["served"].layout.series[0].markers]
    assert served_alpha == ["March 1, 2026: alpha 3", "March 2, 2026: alpha 2", "March 3, 2026: alpha 0"]
    assert "recommendation_id" in charts["click-through"].definition


def _days():
    return datetime(2026, 3, 1).date(), datetime(2026, 3, 3).date()


def test_offline_metric_numbers(staff, tenant, history):
    charts, _page = _charts(staff, tenant)
    offline = charts["offline"]
    assert [row[1:] for row in _cells(offline)] == [
        ["alpha", "random, stratified by user", "v1", "50", "0.3000"],
        ["alpha", "random, stratified by user", "v2", "50", "0.3500"],
    ]
    charts, _page = _charts(staff, tenant, k=5, metric="recall")
    assert [row[-1] for row in _cells(charts["offline"])] == ["0.2000"]
    assert charts["offline"].title == "Offline recall@5 per model version"


def test_chart_y_axis_covers_maximum(staff, tenant, history):
    charts, _page = _charts(staff, tenant)
    ticks = [tick.label for tick in charts["events"].layout.y_ticks]
    # The highest daily count of one kind is 2 views on March 1.
    assert ticks == ["0", "1", "2"]
    percent_ticks = [tick.label for tick in charts["click-through"].layout.y_ticks]
    assert percent_ticks == ["0%", "20%", "40%", "60%", "80%"]


def test_empty_states_say_what_to_do(staff, tenant):
    charts, page = _charts(staff, tenant)
    assert "POST /api/v1/events" in charts["events"].empty_message
    assert "/api/v1/users/<id>/recommendations" in charts["served"].empty_message
    assert "Evaluate strategies" in charts["offline"].empty_message
    assert 'role="img"' not in page


def test_no_clicks_note(staff, tenant):
    strategy = Strategy.objects.create(tenant=tenant, name="alpha", scorer_id="popularity", intent_model_id="")
    _served(strategy, _at(1))
    charts, _page = _charts(staff, tenant)
    assert "recommendation_id" in charts["click-through"].note


def test_default_range_is_last_30_days(staff, tenant):
    response = staff.get(CHARTS)
    assert response.status_code == 200
    date_range = response.context["date_range"]
    assert (date_range.last - date_range.first).days == 29
    assert response.context["tenant"] == tenant


def test_staff_cannot_chart_other_tenant(staff, tenant, other_tenant, history):
    response = staff.get(CHARTS, {"tenant": other_tenant.pk, **RANGE})
    page = response.content.decode()
    assert response.status_code == 400
    assert f"Tenant {other_tenant.pk} does not exist or you are not a member of it" in page
    assert response.context["charts"] == []
    assert "globex" not in page.lower()
    assert "theirs" not in page


def test_picker_offers_only_member_tenants(staff, tenant, other_tenant):
    page = staff.get(CHARTS).content.decode()
    assert f'<option value="{tenant.pk}" selected>Acme (acme)</option>' in page
    assert "Globex" not in page


def test_staff_charts_show_no_other_tenant_data(staff, tenant, history):
    charts, page = _charts(staff, tenant)
    assert "like" not in charts["events"].table_headers
    assert "theirs" not in page
    assert "0.7700" not in page


def test_superuser_charts_any_tenant(superuser_client, other_tenant, history):
    charts, _page = _charts(superuser_client, other_tenant)
    assert _cells(charts["events"])[0] == ["March 1, 2026", "1", "1"]
    assert _cells(charts["served"]) == [["March 1, 2026", "theirs", "1", "0", "0.0%"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-13-01"}, "2026-13-01 is not a date. Use the form YYYY-MM-DD"),
        ({"end": "yesterday"}, "yesterday is not a date. Use the form YYYY-MM-DD"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "The end date 2026-03-01 is before the start date 2026-03-05"),
        ({"start": "2025-01-01", "end": "2026-03-01"}, "spans 425 days, more than the maximum of 366"),
        ({"tenant": "999999"}, "Tenant 999999 does not exist or you are not a member of it"),
        ({"tenant": "acme"}, "Tenant acme does not exist or you are not a member of it"),
        ({"metric": "speed"}, "Select a valid choice. speed is not one of the available choices."),
        ({"k": "0"}, "greater than or equal to 1"),
    ],
)
def test_invalid_input_rejected(staff, tenant, params, message):
    response = staff.get(CHARTS, {"tenant": tenant.pk, **RANGE, **params})
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert response.context["charts"] == []


def test_charts_need_event_permission(tenant):
    user = get_user_model().objects.create_user("no-perms", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(CHARTS).status_code == 403


def test_staff_without_tenant_told_what_to_do(db):
    client = make_staff("lonely", [])
    page = client.get(CHARTS).content.decode()
    assert "You are not a member of any tenant" in page


def test_admin_index_links_charts(staff):
    page = staff.get("/admin/").content.decode()
    assert f'href="{CHARTS}"' in page


def test_chart_page_escapes_names(staff, tenant):
    strategy = Strategy.objects.create(tenant=tenant, name="<b>bold</b>", scorer_id="popularity", intent_model_id="")
    _served(strategy, _at(1))
    _charts_page = staff.get(CHARTS, {"tenant": tenant.pk, **RANGE}).content.decode()
    assert "<b>bold</b>" not in _charts_page
    assert "&lt;b&gt;bold&lt;/b&gt;" in _charts_page


def test_unused_uuid_is_not_attributed(tenant):
    strategy = Strategy.objects.create(tenant=tenant, name="alpha", scorer_id="popularity", intent_model_id="")
    _served(strategy, _at(1))
    user = User.objects.create(tenant=tenant, external_id="u")
    Event.objects.create(tenant=tenant, user=user, kind="click", timestamp=_at(2), recommendation_id=uuid.uuid4())
    rows = data.served_per_day(tenant, data.DateRange(*_days()))
    assert [(row.served, row.clicked) for row in rows] == [(1, 0)]


def _busy_month(tenant):
    """A month of traffic with a weekly rhythm, two strategies and four evaluations, for the browser test."""
    alpha = Strategy.objects.create(tenant=tenant, name="hybrid", scorer_id="popularity", intent_model_id="")
    beta = Strategy.objects.create(tenant=tenant, name="popular", scorer_id="popularity", intent_model_id="")
    user = User.objects.create(tenant=tenant, external_id="user-1")
    item = Item.objects.create(tenant=tenant, external_id="item-1", title="Rocket to Mars")
    events = []
    for day in range(1, 31):
        weekly = 1.0 + 0.4 * ((day % 7) in (5, 6))
        for kind, base in (("view", 40), ("click", 12), ("add_to_cart", 5), ("purchase", 3), ("search", 8)):
            events += [
                Event(tenant=tenant, user=user, item=None if kind == "search" else item, kind=kind, timestamp=_at(day, hour % 24))
                for hour in range(int(base * weekly + day / 3))
            ]
        for strategy, lists, clicked in ((alpha, 20, 5 + day % 4), (beta, 12, 2 + day % 3)):
            for index in range(lists):
                served = _served(strategy, _at(day, index % 24))
                if index < clicked:
                    events.append(Event(tenant=tenant, user=user, item=item, kind="click", timestamp=_at(day, 23), recommendation_id=served.pk))
    Event.objects.bulk_create(events)
    for day, (hybrid, popular) in zip((3, 10, 17, 24), ((0.41, 0.36), (0.44, 0.36), (0.47, 0.37), (0.49, 0.37)), strict=True):
        _result(alpha, _at(day), hybrid, version=f"hybrid-v{day}")
        _result(beta, _at(day), popular, version="popular-v1")


def test_charts_page_in_browser(live_server, tenant, tmp_path):
    """Screenshots of the charts page (path printed) to look at; checks that the SVG charts render."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed; pip install -e '.[test]'.")
    from .test_browser import CHROMIUM, open_page

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; set SEMREC_CHROMIUM.")
    _busy_month(tenant)
    make_staff("analyst", [tenant])
    print(f"Screenshots: {tmp_path}")
    with open_page(live_server.url) as page:
        page.goto("/admin/login/")
        page.fill("#id_username", "analyst")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.click(f"a[href='{CHARTS}']")
        page.fill("input[name=start]", "2026-03-01")
        page.fill("input[name=end]", "2026-03-30")
        page.click("input[type=submit][value=Show]")
        sync_api.expect(page.locator("svg[role=img]")).to_have_count(4)
        sync_api.expect(page.locator("#chart-served .legend")).to_contain_text("hybrid")
        page.screenshot(path=str(tmp_path / "charts.png"), full_page=True)
        page.click("#chart-click-through summary")
        page.locator("#chart-click-through table").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "charts-table.png"), full_page=False)
        page.goto(f"{CHARTS}?start=2026-04-01&end=2026-03-01")
        sync_api.expect(page.locator("#chart-errors")).to_contain_text("before the start date")
        page.screenshot(path=str(tmp_path / "charts-error.png"), full_page=False)
