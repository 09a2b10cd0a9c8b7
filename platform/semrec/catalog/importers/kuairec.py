"""Import KuaiRec's short-video captions and categories as items.

``kuairec_caption_category.csv`` has one row per video: video id, manual
cover text, caption, topic tags (``[]`` or ``"[tag1,tag2]"``), and the id and
name of three levels of categories. ``UNKNOWN`` and the id ``-124`` mark a
missing value. The text is Simplified Chinese. In the published file a few
captions contain a bare line break, which cuts their record into two lines;
:func:`read_videos` joins them again.

Videos become items with the language ``zh-Hans``: the caption as title
(the cover text when there is no caption), the first-level category as the
item's category, topic tags as tags, and the lower levels as attributes.
The file has no interactions, so no events are imported.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from semrec.catalog import ingest
from semrec.catalog.validation import validate_items
from semrec.tenants.models import Tenant

logger = logging.getLogger(__name__)

CAPTIONS_FILE = "kuairec_caption_category.csv"
COLUMNS = (
    "video_id",
    "manual_cover_text",
    "caption",
    "topic_tag",
    "first_level_category_id",
    "first_level_category_name",
    "second_level_category_id",
    "second_level_category_name",
    "third_level_category_id",
    "third_level_category_name",
)
#: KuaiRec's markers of a missing name and of a missing category id.
UNKNOWN_NAME = "UNKNOWN"
UNKNOWN_ID = "-124"
LANGUAGE = "zh-Hans"
#: The item API's limit on titles; a longer caption is cut in the title and kept whole in the description.
TITLE_LIMIT = 1000
WRITE_CHUNK = 5000


class KuaiRecFormatError(ValueError):
    """The KuaiRec captions file is missing or has a malformed line; nothing was imported."""


@dataclass(frozen=True)
class Video:
    """One video of the captions file; empty strings and tuples stand for KuaiRec's UNKNOWN."""

    video_id: int
    cover_text: str
    caption: str
    topic_tags: tuple[str, ...]
    #: Category names from the first level to the third, "" where unknown.
    categories: tuple[str, str, str]

    @property
    def category(self) -> str:
        """The first-level category name, or "" when unknown."""
        return self.categories[0]


@dataclass
class KuaiRecImportStats:
    items: int = 0
    #: Videos with neither a caption nor a cover text: skipped, because every item needs a title.
    videos_without_text: int = 0
    seconds: float = 0.0


def check_folder(folder: Path) -> Path:
    """Return the captions file of ``folder``; raise :class:`KuaiRecFormatError` when it is missing."""
    if not folder.is_dir():
        raise KuaiRecFormatError(f"The KuaiRec folder {folder} was not found. Pass the folder that contains {CAPTIONS_FILE}.")
    path = folder / CAPTIONS_FILE
    if not path.is_file():
        raise KuaiRecFormatError(f"{folder} has no {CAPTIONS_FILE}; it is not a KuaiRec captions folder.")
    return path


def read_videos(folder: Path) -> list[Video]:
    """Parse every video of the captions file, in file order."""
    path = check_folder(folder)
    videos: list[Video] = []
    seen: dict[int, int] = {}
    for line_number, fields in _records(path):
        video = _parse_video(path, line_number, fields)
        if video.video_id in seen:
            raise KuaiRecFormatError(
                f"{path}:{line_number}: video id {video.video_id} repeats the one on line {seen[video.video_id]}. "
                "Each video must appear once; check that the file is an unmodified KuaiRec file."
            )
        seen[video.video_id] = line_number
        videos.append(video)
    return videos


def video_text(video: Video, with_topic_tags: bool = False) -> str:
    """Return the caption and the cover text, and the topic tags when asked; never the categories."""
    parts = [part for part in (video.caption, video.cover_text) if part]
    if with_topic_tags:
        parts += video.topic_tags
    return "\n".join(parts)


def item_row(video: Video) -> dict | None:
    """Return the item row of a video, in the shape :func:`ingest.upsert_items` takes; None when it has no text."""
    if not (video.caption or video.cover_text):
        return None
    if video.caption and len(video.caption) <= TITLE_LIMIT:
        title, description = video.caption, video.cover_text
    elif video.cover_text:
        # No caption, or one too long for a title.
        title, description = video.cover_text, video.caption
    else:
        # A caption too long for a title and no cover text: the title is its start, the description all of it.
        title, description = video.caption[:TITLE_LIMIT], video.caption
    attributes = {
        key: name for key, name in (("kuairec_second_level", video.categories[1]), ("kuairec_third_level", video.categories[2])) if name
    }
    return {
        "id": str(video.video_id),
        "title": title,
        "description": description,
        "tags": list(video.topic_tags),
        "categories": [video.category] if video.category else [],
        "attributes": attributes,
        "available": True,
        "language": LANGUAGE,
    }


def import_kuairec(tenant: Tenant, folder: Path, show_progress: bool = True) -> KuaiRecImportStats:
    """Import the videos of the KuaiRec captions file in ``folder`` into ``tenant`` as items; safe to repeat."""
    started = time.perf_counter()
    videos = read_videos(folder)
    rows = [row for row in map(item_row, videos) if row is not None]
    clean, errors = validate_items(rows, max_rows=len(rows) or 1)
    if errors:
        first = errors.errors[0]
        raise KuaiRecFormatError(
            f"{len(errors.errors)} video row(s) are invalid, e.g. video {rows[first['index']]['id']}: "
            f"{first['field']}: {first['reason']}. Nothing was imported."
        )

    for start in tqdm(range(0, len(clean), WRITE_CHUNK), desc="videos", unit="batch", disable=not show_progress):
        ingest.upsert_items(tenant, clean[start : start + WRITE_CHUNK])

    stats = KuaiRecImportStats(items=len(clean), videos_without_text=len(videos) - len(rows), seconds=time.perf_counter() - started)
    logger.info("Imported KuaiRec captions from %s into tenant %s: %s", folder, tenant.slug, stats)
    return stats


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` per record after the header, joining records cut by a line break in the caption."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(column.strip().lstrip("\ufeff") for column in header) != COLUMNS:
            raise KuaiRecFormatError(
                f"{path}:1: the header is {header!r}; expected the columns {', '.join(COLUMNS)}. "
                "Check that the file is an unmodified KuaiRec kuairec_caption_category.csv."
            )
        pending: tuple[int, list[str]] | None = None
        for fields in reader:
            line_number = reader.line_num
            if pending is not None:
                start, head = pending
                pending = None
                if len(head) + len(fields) - 1 != len(COLUMNS):
                    raise _column_error(path, start, head)
                # The caption went on after a bare line break: glue its two halves together again.
                yield start, head[:-1] + [head[-1] + "\n" + fields[0]] + fields[1:]
                continue
            if not any(field.strip() for field in fields):
                continue
            if len(fields) == len(COLUMNS):
                yield line_number, fields
            elif len(fields) == 3:
                pending = (line_number, fields)
            else:
                raise _column_error(path, line_number, fields)
        if pending is not None:
            raise _column_error(path, *pending)


def _column_error(path: Path, line_number: int, fields: list[str]) -> KuaiRecFormatError:
    return KuaiRecFormatError(
        f"{path}:{line_number}: expected {len(COLUMNS)} comma-separated columns, found {len(fields)}. "
        "Check that the file is an unmodified KuaiRec file."
    )


def _parse_video(path: Path, line_number: int, fields: list[str]) -> Video:
    raw_id = fields[0].strip()
    if not raw_id.isdigit():
        raise KuaiRecFormatError(f"{path}:{line_number}: video id {raw_id!r} is not a non-negative whole number.")
    return Video(
        video_id=int(raw_id),
        cover_text=_known(fields[1]),
        caption=_known(fields[2]),
        topic_tags=_topic_tags(path, line_number, fields[3]),
        categories=(_category(fields[4], fields[5]), _category(fields[6], fields[7]), _category(fields[8], fields[9])),
    )


def _known(value: str) -> str:
    value = value.strip()
    return "" if value == UNKNOWN_NAME else value


def _category(category_id: str, name: str) -> str:
    return "" if category_id.strip() == UNKNOWN_ID else _known(name)


def _topic_tags(path: Path, line_number: int, value: str) -> tuple[str, ...]:
    value = value.strip()
    if not (value.startswith("[") and value.endswith("]")):
        raise KuaiRecFormatError(
            f"{path}:{line_number}: topic tags {value!r} are not a bracketed list such as [] or [tag1,tag2]."
        )
    return tuple(tag.strip() for tag in value[1:-1].split(",") if tag.strip())
