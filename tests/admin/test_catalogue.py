"""The catalogue browser: item, end user and event pages, their filters, search and count-free pagination."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from semrec.catalog.models import Event, Item, User
from semrec.vectors.models import EmbeddingSpace, ItemVector, UserVector

EVENTS = "/admin/catalog/event/"
ITEMS = "/admin/catalog/item/"
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
#: Events in the fixture, more than two pages of 100.
EVENT_COUNT = 250


@pytest.fixture
def events(tenant, other_tenant):
    """250 events of tenant acme, one per hour from 2026-03-01, and two of tenant globex."""
    users = [User.objects.create(tenant=tenant, external_id=f"user-{index}") for index in range(5)]
    items = [Item.objects.create(tenant=tenant, external_id=f"item-{index}", title=f"Title {index}") for index in range(5)]
    kinds = ["view", "click", "purchase", "view", "search"]
    Event.objects.bulk_create(
        Event(
            tenant=tenant,
            user=users[index % 5],
            item=None if kinds[index % 5] == "search" else items[index % 5],
            query="moon rockets" if kinds[index % 5] == "search" else "",
            kind=kinds[index % 5],
            timestamp=START + timedelta(hours=index),
        )
        for index in range(EVENT_COUNT)
    )
    theirs = User.objects.create(tenant=other_tenant, external_id="user-0")
    their_item = Item.objects.create(tenant=other_tenant, external_id="item-0", title="Globex secret")
    for hour in range(2):
        Event.objects.create(tenant=other_tenant, user=theirs, item=their_item, kind="view", timestamp=START + timedelta(hours=hour))
    return users, items


def _listed_event_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/admin/catalog/event/(\d+)/change/', page)]


def _counts_over_events(queries) -> list[str]:
    return [query["sql"] for query in queries if "COUNT(" in query["sql"].upper() and '"catalog_event"' in query["sql"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind__exact": "click"},
        {"timestamp__gte": "2026-03-02", "timestamp__lt": "2026-03-04"},
        {"q": "user-1"},
        {"p": "2"},
        {"p": "50"},
        {"o": "2"},
    ],
    ids=["plain", "kind", "dates", "search", "page-2", "past-the-end", "sorted-by-kind"],
)
def test_event_list_runs_no_count(staff, superuser_client, events, params):
    for client in (staff, superuser_client):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(EVENTS, params)
        assert response.status_code == 200
        assert _counts_over_events(queries.captured_queries) == []


def _analyze_events():
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_event")


def test_event_list_pages_with_estimate(staff, events):
    _analyze_events()
    first = staff.get(EVENTS).content.decode()
    assert len(_listed_event_ids(first)) == 100
    assert "about 250 events" in first
    third = staff.get(EVENTS, {"p": "3"}).content.decode()
    assert len(_listed_event_ids(third)) == 50
    assert "250 events" in third, "the last page knows the exact count"
    assert not set(_listed_event_ids(first)) & set(_listed_event_ids(third))


def test_stale_statistics_give_lower_bound(staff, tenant):
    _analyze_events()  # while the tenant has no events, so the estimate is far too low
    user = User.objects.create(tenant=tenant, external_id="user-0")
    Event.objects.bulk_create(Event(tenant=tenant, user=user, kind="search", query="q", timestamp=START) for _ in range(150))
    first = staff.get(EVENTS).content.decode()
    assert "more than 100 events" in first
    second = staff.get(EVENTS, {"p": "2"}).content.decode()
    assert "150 events" in second
    assert len(_listed_event_ids(second)) == 50


def test_event_list_past_the_end_is_empty(staff, events):
    response = staff.get(EVENTS, {"p": "50"})
    assert response.status_code == 200
    assert _listed_event_ids(response.content.decode()) == []


def test_event_list_newest_first(staff, events):
    page = staff.get(EVENTS).content.decode()
    ids = _listed_event_ids(page)
    timestamps = list(Event.objects.filter(pk__in=ids).order_by("-timestamp").values_list("pk", flat=True))
    assert ids == timestamps
    newest = Event.objects.filter(tenant__slug="acme").order_by("-timestamp").first()
    assert ids[0] == newest.pk


def test_event_list_hides_other_tenant(staff, events, other_tenant):
    page = staff.get(EVENTS, {"p": "3"}).content.decode()
    theirs = set(Event.objects.filter(tenant=other_tenant).values_list("pk", flat=True))
    assert not theirs & set(_listed_event_ids(page))
    assert "Globex secret" not in page
    search = staff.get(EVENTS, {"q": "user-0"}).content.decode()
    assert not theirs & set(_listed_event_ids(search))
    assert len(_listed_event_ids(search)) == 50


def test_event_filter_by_kind(staff, events):
    page = staff.get(EVENTS, {"kind__exact": "purchase"}).content.decode()
    ids = _listed_event_ids(page)
    assert len(ids) == 50
    assert set(Event.objects.filter(pk__in=ids).values_list("kind", flat=True)) == {"purchase"}


def test_event_filter_by_date_range(staff, events):
    page = staff.get(EVENTS, {"timestamp__gte": "2026-03-02", "timestamp__lt": "2026-03-03"}).content.decode()
    ids = _listed_event_ids(page)
    assert len(ids) == 24
    stamps = Event.objects.filter(pk__in=ids).values_list("timestamp", flat=True)
    assert min(stamps) == datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert max(stamps) == datetime(2026, 3, 2, 23, tzinfo=timezone.utc)
    assert 'value="2026-03-02"' in page, "the form shows the chosen range"


def test_event_filter_invalid_date_reported(staff, events):
    response = staff.get(EVENTS, {"timestamp__gte": "2026-02-30"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ignored the date filter timestamp__gte=2026-02-30: it is not a date. Use the form YYYY-MM-DD" in page
    assert len(_listed_event_ids(page)) == 100


def test_event_search_by_item_id(staff, events):
    page = staff.get(EVENTS, {"q": "item-2"}).content.decode()
    ids = _listed_event_ids(page)
    assert len(ids) == 50
    assert set(Event.objects.filter(pk__in=ids).values_list("item__external_id", flat=True)) == {"item-2"}


def test_event_search_is_exact(staff, events):
    page = staff.get(EVENTS, {"q": "user"}).content.decode()
    assert _listed_event_ids(page) == []
    assert "0 events" in page


def test_event_list_has_no_facet_counts(staff, events):
    page = staff.get(EVENTS, {"_facets": "True"}).content.decode()
    assert not re.search(r">\s*view \(\d+\)", page)


@pytest.fixture
def space(tenant):
    return EmbeddingSpace.objects.create(tenant=tenant, encoder_id="lexical", fingerprint="lex", model_name="tf-idf", dimension=3)


def test_item_list_shows_catalogue_fields(staff, tenant, space):
    fresh = Item.objects.create(tenant=tenant, external_id="fresh", title="Rocket", description="To Mars", categories=["Sci-Fi", "Space"])
    stale = Item.objects.create(tenant=tenant, external_id="stale", title="Bread", available=False)
    Item.objects.create(tenant=tenant, external_id="missing", title="Jazz")
    ItemVector.objects.create(space=space, item=fresh, embedding=[1, 0, 0], text_hash=fresh.text_hash)
    ItemVector.objects.create(space=space, item=stale, embedding=[0, 1, 0], text_hash="old")
    page = staff.get(ITEMS).content.decode()
    rows = {external_id: row for external_id, row in re.findall(r'<tr>.*?>(fresh|stale|missing)</a>(.*?)</tr>', page, re.S)}
    assert "To Mars" in rows["fresh"]
    assert "Sci-Fi, Space" in rows["fresh"]
    assert "semrec-vector-fresh" in rows["fresh"]
    assert "semrec-vector-stale" in rows["stale"]
    assert 'alt="False"' in rows["stale"]
    assert "semrec-vector-missing" in rows["missing"]


def test_item_page_shows_vector_status(staff, tenant, space):
    item = Item.objects.create(tenant=tenant, external_id="fresh", title="Rocket", categories=["Sci-Fi"])
    ItemVector.objects.create(space=space, item=item, embedding=[1, 0, 0], text_hash=item.text_hash)
    page = staff.get(f"{ITEMS}{item.pk}/change/").content.decode()
    status = re.search(r'<table class="semrec-vector-status">(.*?)</table>', page, re.S).group(1)
    assert "<code>lexical</code>" in status
    assert "tf-idf" in status
    assert "semrec-vector-fresh" in status
    assert "Rocket. Sci-Fi" in page, "the page shows the text encoders receive"


def test_item_list_queries_do_not_grow_with_rows(staff, tenant, space):
    for index in range(3):
        Item.objects.create(tenant=tenant, external_id=f"item-{index}", title="x")
    with CaptureQueriesContext(connection) as few:
        staff.get(ITEMS)
    for index in range(3, 30):
        item = Item.objects.create(tenant=tenant, external_id=f"item-{index}", title="x")
        ItemVector.objects.create(space=space, item=item, embedding=[1, 0, 0], text_hash=item.text_hash)
    with CaptureQueriesContext(connection) as many:
        staff.get(ITEMS)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_user_page_shows_history_and_vectors(staff, events, space):
    users, items = events
    UserVector.objects.create(space=space, user=users[1], embedding=[0, 0, 1])
    page = staff.get(f"/admin/catalog/user/{users[1].pk}/change/").content.decode()
    history = re.search(r'<table class="semrec-history">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr>\s*<td>", history)
    assert len(rows) == 20
    newest = Event.objects.filter(user=users[1]).order_by("-timestamp")[:20]
    links = [int(pk) for pk in re.findall(r'/admin/catalog/event/(\d+)/change/', history)]
    assert links == [event.pk for event in newest]
    assert "item-1</a>: Title 1" in history
    assert f"?user__id__exact={users[1].pk}" in page
    status = re.search(r'<table class="semrec-vector-status">(.*?)</table>', page, re.S).group(1)
    assert "semrec-vector-fresh" in status


def test_user_history_link_filters_events(staff, events):
    users, _items = events
    page = staff.get(EVENTS, {"user__id__exact": users[4].pk}).content.decode()
    ids = _listed_event_ids(page)
    assert len(ids) == 50
    assert set(Event.objects.filter(pk__in=ids).values_list("user_id", flat=True)) == {users[4].pk}
    assert "moon rockets" in page


def test_user_page_of_other_tenant_hidden(staff, events, other_tenant):
    theirs = User.objects.get(tenant=other_tenant)
    response = staff.get(f"/admin/catalog/user/{theirs.pk}/change/")
    assert response.status_code in (302, 404)
    assert "Globex secret" not in response.content.decode()


def test_user_without_space_says_how_to_encode(staff, events):
    users, _items = events
    page = staff.get(f"/admin/catalog/user/{users[0].pk}/change/").content.decode()
    assert "The tenant has no embedding space yet" in page


def test_event_indexes_exist(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_event'")
        names = {row[0] for row in cursor.fetchall()}
    expected = {"catalog_event_tenant_time", "catalog_event_tenant_kind_time", "catalog_event_time", "catalog_event_recommendation"}
    assert expected <= names


def test_catalogue_pages_in_browser(live_server, tenant, events, space, tmp_path):
    """Screenshots of the event list, the item list and an end user's page (path printed), to look at."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed; pip install -e '.[test]'.")
    from .conftest import PASSWORD, make_staff
    from .test_browser import CHROMIUM, open_page

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; set SEMREC_CHROMIUM.")
    users, items = events
    for item in items[:3]:
        ItemVector.objects.create(space=space, item=item, embedding=[1, 0, 0], text_hash=item.text_hash if item != items[2] else "old")
    UserVector.objects.create(space=space, user=users[1], embedding=[0, 1, 0])
    make_staff("browser", [tenant])
    _analyze_events()
    print(f"Screenshots: {tmp_path}")
    with open_page(live_server.url) as page:
        page.goto("/admin/login/")
        page.fill("#id_username", "browser")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.goto(EVENTS)
        sync_api.expect(page.locator(".paginator")).to_contain_text("events")
        page.screenshot(path=str(tmp_path / "events.png"), full_page=False)
        page.fill("#timestamp__gte", "2026-03-02")
        page.fill("#timestamp__lt", "2026-03-03")
        page.click(".semrec-date-range input[type=submit]")
        page.click("#changelist-filter a:text-is('click')")
        sync_api.expect(page.locator(".paginator")).to_contain_text("5 events")
        page.screenshot(path=str(tmp_path / "events-filtered.png"), full_page=False)
        page.goto(ITEMS)
        page.screenshot(path=str(tmp_path / "items.png"), full_page=False)
        page.goto(f"/admin/catalog/user/{users[1].pk}/change/")
        page.screenshot(path=str(tmp_path / "user.png"), full_page=True)
