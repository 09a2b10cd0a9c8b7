"""The MIND importer: news and clicks from behaviours, repeat imports, bad files and the command."""

from datetime import datetime, timezone
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from semrec.catalog.importers.mind import MindFormatError, import_mind, read_behaviors, read_news
from semrec.catalog.models import Event, Item, User
from semrec.tenants.models import Tenant

NEWS_ZH = (
    "nid\ttitle\tabstract\n"
    "N1\t火箭發射升空\t宇航員進入軌道。\n"
    "N2\t番茄炒蛋的做法\t\n"
    "N3\t\t只有摘要的新聞\n"
    "N4\t太空站的一天\t宇航員的生活。\n"
)
NEWS_EN = "N1\tnews\tnewsscience\tRocket lifts off\tAstronauts reach orbit.\thttps://example.com/1\t[]\t[]\n"
BEHAVIORS = (
    "2\tU1\t11/12/2019 2:14:46 PM\tN1 N2\tN4-1 N2-0 N9-1\n"
    "1\tU1\t11/11/2019 9:00:00 AM\tN1\tN4-0 N3-0\n"
    "3\tU2\t11/13/2019 5:53:12 AM\t\tN1-1 N4-0\n"
)


def write_mind(folder, behaviors=BEHAVIORS, news=NEWS_ZH, english=NEWS_EN):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "behaviors.tsv").write_text(behaviors, encoding="utf-8")
    (folder / "news_zh.tsv").write_text(news, encoding="utf-8")
    if english is not None:
        (folder / "news_en_partial.tsv").write_text(english, encoding="utf-8")
    return folder


def test_news_with_text_become_items(tenant, tmp_path):
    stats = import_mind(tenant, write_mind(tmp_path / "mind"), show_progress=False)
    assert stats.items == 4
    assert stats.languages == {"zh-Hant": 4}
    rocket = Item.objects.get(tenant=tenant, external_id="N1")
    assert rocket.title == "火箭發射升空"
    assert rocket.description == "宇航員進入軌道。"
    assert rocket.language == "zh-Hant"
    assert rocket.attributes == {"mind_category": "news", "mind_subcategory": "newsscience"}


def test_abstract_only_news_uses_abstract_as_title(tenant, tmp_path):
    import_mind(tenant, write_mind(tmp_path / "mind"), show_progress=False)
    item = Item.objects.get(tenant=tenant, external_id="N3")
    assert item.title == "只有摘要的新聞"
    assert item.description == ""


def test_clicks_become_events(tenant, tmp_path):
    stats = import_mind(tenant, write_mind(tmp_path / "mind"), show_progress=False)
    clicks = set(Event.objects.filter(tenant=tenant).values_list("user__external_id", "item__external_id", "kind"))
    # U1's history (N1, N2), U1's click on N4 and U2's click on N1; N9 has no text.
    assert clicks == {("U1", "N1", "click"), ("U1", "N2", "click"), ("U1", "N4", "click"), ("U2", "N1", "click")}
    assert stats.events_created == 4
    assert stats.clicks_without_text == 1
    assert stats.impressions == 3
    assert stats.users == 2


def test_not_clicked_candidates_not_stored(tenant, tmp_path):
    import_mind(tenant, write_mind(tmp_path / "mind"), show_progress=False)
    assert not Event.objects.filter(tenant=tenant, user__external_id="U2", item__external_id="N4").exists()
    assert not Event.objects.filter(tenant=tenant, item__external_id="N3").exists()


def test_history_click_stamped_with_first_impression(tenant, tmp_path):
    import_mind(tenant, write_mind(tmp_path / "mind"), show_progress=False)
    event = Event.objects.get(tenant=tenant, user__external_id="U1", item__external_id="N1")
    assert event.timestamp == datetime(2019, 11, 11, 9, 0, tzinfo=timezone.utc)


def test_reimport_writes_nothing_twice(tenant, tmp_path):
    folder = write_mind(tmp_path / "mind")
    import_mind(tenant, folder, show_progress=False)
    again = import_mind(tenant, folder, show_progress=False)
    assert again.events_created == 0
    assert again.events_duplicate == 4
    assert Event.objects.filter(tenant=tenant).count() == 4
    assert Item.objects.filter(tenant=tenant).count() == 4


def test_behaviors_parsed_oldest_first(tmp_path):
    impressions = read_behaviors(write_mind(tmp_path / "mind"))
    assert [impression.impression_id for impression in impressions] == ["1", "2", "3"]
    second = impressions[1]
    assert second.user_id == "U1"
    assert second.history == ("N1", "N2")
    assert second.candidates == ("N4", "N2", "N9")
    assert second.clicked == (True, False, True)
    assert impressions[2].history == ()


def test_english_mind_news_file(tmp_path):
    folder = tmp_path / "mind-en"
    folder.mkdir()
    (folder / "behaviors.tsv").write_text(BEHAVIORS)
    (folder / "news.tsv").write_text(NEWS_EN)
    rows = read_news(folder)
    assert rows[0]["language"] == "en"
    assert rows[0]["title"] == "Rocket lifts off"
    assert rows[0]["attributes"]["mind_category"] == "news"


@pytest.mark.parametrize(
    ("behaviors", "message"),
    [
        ("1\tU1\t11/11/2019 9:00:00 AM\tN1\tN4-2\n", "'N4-2' is invalid"),
        ("1\tU1\t11/11/2019 9:00:00 AM\tN1\tN4\n", "'N4' is invalid"),
        ("1\tU1\tyesterday\tN1\tN4-1\n", "time 'yesterday'"),
        ("1\tU1\t11/11/2019 9:00:00 AM\n", "expected at least 5 tab-separated columns, found 3"),
    ],
)
def test_malformed_behaviors_rejected_before_writing(tenant, tmp_path, behaviors, message):
    folder = write_mind(tmp_path / "mind", behaviors=BEHAVIORS + behaviors)
    with pytest.raises(MindFormatError, match=message) as raised:
        import_mind(tenant, folder, show_progress=False)
    assert "behaviors.tsv:4" in str(raised.value)
    assert not Item.objects.filter(tenant=tenant).exists()
    assert not Event.objects.filter(tenant=tenant).exists()


def test_invalid_news_rejected_before_writing(tenant, tmp_path):
    folder = write_mind(tmp_path / "mind", news=NEWS_ZH + "N5\t" + "長" * 1001 + "\t\n")
    with pytest.raises(MindFormatError, match="'N5'.*title"):
        import_mind(tenant, folder, show_progress=False)
    assert not Item.objects.filter(tenant=tenant).exists()


def test_folder_without_news_file_rejected(tenant, tmp_path):
    folder = tmp_path / "mind"
    folder.mkdir()
    (folder / "behaviors.tsv").write_text(BEHAVIORS)
    with pytest.raises(MindFormatError, match="news_zh.tsv or news.tsv"):
        import_mind(tenant, folder, show_progress=False)


def test_command_detects_mind_folder(db, tmp_path):
    out = StringIO()
    call_command("semrec_import", "--tenant", "news", "--create-tenant", "--path", str(write_mind(tmp_path / "mind")), "-v", "0", stdout=out, stderr=StringIO())
    assert "Imported 4 news (zh-Hant: 4), 2 users, 3 impressions, 4 new click events" in out.getvalue()
    assert User.objects.filter(tenant=Tenant.objects.get(slug="news")).count() == 2


def test_command_reports_skipped_clicks(db, tmp_path):
    err = StringIO()
    call_command("semrec_import", "--tenant", "news", "--create-tenant", "--dataset", "mind", "--path", str(write_mind(tmp_path / "mind")), "-v", "0", stdout=StringIO(), stderr=err)
    assert "1 click(s) on news without text" in err.getvalue()


def test_command_finds_mind_in_data_dir(db, tmp_path, settings):
    write_mind(tmp_path / "data" / "mind-zh")
    settings.SEMREC_DATA_DIR = str(tmp_path / "data")
    out = StringIO()
    call_command("semrec_import", "--tenant", "news", "--create-tenant", "--dataset", "mind", "-v", "0", stdout=out, stderr=StringIO())
    assert "Imported 4 news" in out.getvalue()


def test_command_without_mind_folder_explains(db, tmp_path, settings):
    settings.SEMREC_DATA_DIR = str(tmp_path / "empty")
    with pytest.raises(CommandError, match="No MIND folder was found.*--path DIR"):
        call_command("semrec_import", "--tenant", "news", "--create-tenant", "--dataset", "mind", "-v", "0", stdout=StringIO())


def test_command_rejects_malformed_file(db, tmp_path):
    folder = write_mind(tmp_path / "mind", behaviors="1\tU1\tnot a time\tN1\tN4-1\n")
    with pytest.raises(CommandError, match="behaviors.tsv:1"):
        call_command("semrec_import", "--tenant", "news", "--create-tenant", "--path", str(folder), "-v", "0", stdout=StringIO())
