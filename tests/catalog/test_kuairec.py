"""The KuaiRec captions importer: videos as Chinese items, records cut by a line break, bad files."""

import pytest

from semrec.catalog.importers.kuairec import (
    CAPTIONS_FILE,
    TITLE_LIMIT,
    KuaiRecFormatError,
    import_kuairec,
    item_row,
    read_videos,
    video_text,
)
from semrec.catalog.models import Item

from ..conftest import DATASETS

HEADER = (
    "video_id,manual_cover_text,caption,topic_tag,first_level_category_id,first_level_category_name,"
    "second_level_category_id,second_level_category_name,third_level_category_id,third_level_category_name\n"
)
ROWS = (
    "0,UNKNOWN,精神小伙路难走,[],8,颜值,673,颜值随拍,-124,UNKNOWN\n"
    "1,UNKNOWN,,[],27,高新数码,-124,UNKNOWN,-124,UNKNOWN\n"
    "2,晚饭后的运动,跳绳十分钟，,\"[运动,健身]\",9,运动,727,健身教学,2434,跳绳\n"
    # A caption with a bare line break, which cuts the record into two lines.
    "3,UNKNOWN,张凯教练：我希望我们能开启一段王朝\n！,[],6,明星娱乐,-124,UNKNOWN,-124,UNKNOWN\n"
    "4,番茄炒蛋,,[美食],-124,UNKNOWN,-124,UNKNOWN,-124,UNKNOWN\n"
)


def write_captions(folder, rows=ROWS, header=HEADER):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CAPTIONS_FILE).write_text(header + rows, encoding="utf-8")
    return folder


def test_videos_parsed(tmp_path):
    videos = {video.video_id: video for video in read_videos(write_captions(tmp_path / "kuairec"))}

    assert sorted(videos) == [0, 1, 2, 3, 4]
    assert videos[0].caption == "精神小伙路难走"
    assert videos[0].cover_text == ""
    assert videos[0].categories == ("颜值", "颜值随拍", "")
    assert videos[2].topic_tags == ("运动", "健身")
    assert videos[4].category == ""


def test_record_cut_by_line_break_joined(tmp_path):
    videos = {video.video_id: video for video in read_videos(write_captions(tmp_path / "kuairec"))}

    assert videos[3].caption == "张凯教练：我希望我们能开启一段王朝\n！"
    assert videos[3].category == "明星娱乐"


def test_video_text_leaves_out_categories(tmp_path):
    video = {video.video_id: video for video in read_videos(write_captions(tmp_path / "kuairec"))}[2]

    assert video_text(video) == "跳绳十分钟，\n晚饭后的运动"
    assert video_text(video, with_topic_tags=True) == "跳绳十分钟，\n晚饭后的运动\n运动\n健身"
    assert "健身教学" not in video_text(video, with_topic_tags=True)


def test_item_rows(tmp_path):
    rows = {video.video_id: item_row(video) for video in read_videos(write_captions(tmp_path / "kuairec"))}

    assert rows[1] is None
    assert rows[2]["title"] == "跳绳十分钟，"
    assert rows[2]["description"] == "晚饭后的运动"
    assert rows[2]["categories"] == ["运动"]
    assert rows[2]["tags"] == ["运动", "健身"]
    assert rows[2]["attributes"] == {"kuairec_second_level": "健身教学", "kuairec_third_level": "跳绳"}
    assert rows[2]["language"] == "zh-Hans"
    assert rows[4]["title"] == "番茄炒蛋"
    assert rows[4]["categories"] == []


def test_long_caption_kept_in_description(tmp_path):
    caption = "长" * (TITLE_LIMIT + 5)
    folder = write_captions(tmp_path / "kuairec", rows=f"7,UNKNOWN,{caption},[],8,颜值,-124,UNKNOWN,-124,UNKNOWN\n")

    row = item_row(read_videos(folder)[0])

    assert len(row["title"]) == TITLE_LIMIT
    assert row["description"] == caption


def test_import_writes_items(tenant, tmp_path):
    stats = import_kuairec(tenant, write_captions(tmp_path / "kuairec"), show_progress=False)

    assert stats.items == 4
    assert stats.videos_without_text == 1
    item = Item.objects.get(tenant=tenant, external_id="2")
    assert item.language == "zh-Hans"
    assert item.categories == ["运动"]
    assert not Item.objects.filter(tenant=tenant, external_id="1").exists()


def test_reimport_writes_nothing_twice(tenant, tmp_path):
    folder = write_captions(tmp_path / "kuairec")
    import_kuairec(tenant, folder, show_progress=False)

    import_kuairec(tenant, folder, show_progress=False)

    assert Item.objects.filter(tenant=tenant).count() == 4


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (ROWS, "video,caption\n", "the header is"),
        ("x1,UNKNOWN,a,[],8,颜值,-124,UNKNOWN,-124,UNKNOWN\n", HEADER, "video id 'x1' is not a non-negative whole number"),
        ("5,UNKNOWN,a,[],8,颜值,-124,UNKNOWN,-124,UNKNOWN\n5,UNKNOWN,b,[],8,颜值,-124,UNKNOWN,-124,UNKNOWN\n", HEADER, "video id 5 repeats"),
        ("5,UNKNOWN,a,no tags,8,颜值,-124,UNKNOWN,-124,UNKNOWN\n", HEADER, "are not a bracketed list"),
        ("5,UNKNOWN,a,[],8,颜值\n", HEADER, "expected 10 comma-separated columns, found 6"),
        ("5,UNKNOWN,a\nb,[],8\n", HEADER, "expected 10 comma-separated columns, found 3"),
        ("5,UNKNOWN,a\n", HEADER, "expected 10 comma-separated columns, found 3"),
    ],
)
def test_malformed_file_rejected_before_writing(tenant, tmp_path, rows, header, message):
    folder = write_captions(tmp_path / "kuairec", rows=rows, header=header)

    with pytest.raises(KuaiRecFormatError, match=message) as raised:
        import_kuairec(tenant, folder, show_progress=False)

    assert CAPTIONS_FILE in str(raised.value)
    assert not Item.objects.filter(tenant=tenant).exists()


def test_missing_folder_rejected(tmp_path):
    with pytest.raises(KuaiRecFormatError, match="was not found"):
        read_videos(tmp_path / "nowhere")


def test_folder_without_captions_rejected(tmp_path):
    (tmp_path / "other").mkdir()

    with pytest.raises(KuaiRecFormatError, match=f"has no {CAPTIONS_FILE}"):
        read_videos(tmp_path / "other")


@pytest.mark.dataset
def test_real_captions_file():
    folder = DATASETS / "kuairec-captions"
    if not (folder / CAPTIONS_FILE).is_file():
        pytest.skip(f"{folder / CAPTIONS_FILE} is missing")

    videos = read_videos(folder)

    assert len(videos) == len({video.video_id for video in videos}) > 10_000
    assert sum(bool(video.caption) for video in videos) > 9_000
    assert len({video.category for video in videos if video.category}) > 30


def test_import_command_reads_captions_folder(tenant, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    output = StringIO()
    call_command("semrec_import", "--tenant", tenant.slug, "--path", str(write_captions(tmp_path / "kuairec")), stdout=output, verbosity=0)

    assert "Imported 4 videos as items" in output.getvalue()
    assert Item.objects.filter(tenant=tenant).count() == 4


def test_import_command_rejects_malformed_file(tenant, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    folder = write_captions(tmp_path / "kuairec", rows="5,UNKNOWN,a\n")

    with pytest.raises(CommandError, match="expected 10 comma-separated columns"):
        call_command("semrec_import", "--tenant", tenant.slug, "--dataset", "kuairec", "--path", str(folder), verbosity=0)
    assert not Item.objects.filter(tenant=tenant).exists()


def test_import_command_without_kuairec_folder(tenant, tmp_path, settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.SEMREC_DATA_DIR = str(tmp_path)

    with pytest.raises(CommandError, match="No KuaiRec folder was found.*--path DIR"):
        call_command("semrec_import", "--tenant", tenant.slug, "--dataset", "kuairec", verbosity=0)
