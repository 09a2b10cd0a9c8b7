"""Import MIND (Microsoft News) click logs, with news text in Chinese or English.

A MIND folder contains ``behaviors.tsv`` and a news file. Each line of
``behaviors.tsv`` is one impression: impression id, user id, time, click
history, and the displayed candidates, marked ``-1`` when clicked and ``-0``
when not. The news file is ``news.tsv`` in the MIND format (nid, category,
subcategory, title, abstract, url, entities) or xMIND's ``news_zh.tsv`` (nid,
title, abstract, with a header line).

News with text become items. Clicks become ``click`` events: history clicks
and clicked impression candidates. Shown-but-not-clicked candidates are not
stored, because no event kind means "shown and ignored" and a ``view``
would count as interest. :func:`read_behaviors` returns whole impressions,
clicked and not, for evaluation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from semrec.catalog import ingest
from semrec.catalog.validation import validate_items
from semrec.tenants.models import Tenant

logger = logging.getLogger(__name__)

BEHAVIORS_FILE = "behaviors.tsv"
#: News files in the order they are looked for, with the language of their text.
NEWS_FILES = (("news_zh.tsv", "zh-Hant"), ("news.tsv", "en"))
#: English news in the MIND format that comes with xMIND subsets; read for categories only.
ENGLISH_CATEGORY_FILE = "news_en_partial.tsv"
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
WRITE_CHUNK = 5000
EVENT_CHUNK = 10_000


class MindFormatError(ValueError):
    """A MIND file is missing or has a malformed line; nothing was imported."""


@dataclass(frozen=True)
class Impression:
    """One MIND impression: the user's click history and the news shown, with clicks."""

    impression_id: str
    user_id: str
    time: datetime
    history: tuple[str, ...]
    candidates: tuple[str, ...]
    clicked: tuple[bool, ...]


@dataclass
class MindImportStats:
    items: int = 0
    users: int = 0
    impressions: int = 0
    events_created: int = 0
    events_duplicate: int = 0
    #: Clicks on news that has no text in the news file, so no item: skipped.
    clicks_without_text: int = 0
    seconds: float = 0.0
    languages: dict[str, int] = field(default_factory=dict)


def find_news_file(folder: Path) -> tuple[Path, str]:
    """Return the news file of a MIND folder and the language of its text."""
    for name, language in NEWS_FILES:
        if (folder / name).is_file():
            return folder / name, language
    names = " or ".join(name for name, _ in NEWS_FILES)
    raise MindFormatError(f"{folder} has no MIND news file. Expected {names} beside {BEHAVIORS_FILE}.")


def check_folder(folder: Path) -> None:
    """Raise :class:`MindFormatError` unless ``folder`` contains a behaviours file and a news file."""
    if not folder.is_dir():
        raise MindFormatError(f"The MIND folder {folder} was not found. Pass the folder that contains {BEHAVIORS_FILE}.")
    if not (folder / BEHAVIORS_FILE).is_file():
        raise MindFormatError(f"{folder} has no {BEHAVIORS_FILE}; it is not a MIND dataset folder.")
    find_news_file(folder)


def read_news(folder: Path) -> list[dict]:
    """Return item rows for every news with a title, in the shape that :func:`ingest.upsert_items` takes."""
    path, language = find_news_file(folder)
    categories = _read_categories(folder / ENGLISH_CATEGORY_FILE) if path.name == "news_zh.tsv" else {}
    rows = []
    for line_number, fields in _tsv_lines(path):
        if path.name == "news_zh.tsv":
            if line_number == 1 and fields[0] == "nid":
                continue
            _expect_columns(path, line_number, fields, 3)
            news_id, title, abstract = fields[:3]
        else:
            _expect_columns(path, line_number, fields, 5)
            news_id, category, subcategory, title, abstract = fields[:5]
            categories[news_id] = (category, subcategory)
        row = _news_row(news_id, title, abstract, language, categories.get(news_id))
        if row is not None:
            rows.append(row)
    return rows


def read_behaviors(folder: Path) -> list[Impression]:
    """Parse ``behaviors.tsv`` into impressions, oldest first."""
    path = folder / BEHAVIORS_FILE
    impressions = [_parse_impression(path, line_number, fields) for line_number, fields in _tsv_lines(path)]
    return sorted(impressions, key=lambda impression: (impression.time, impression.impression_id))


def import_mind(tenant: Tenant, folder: Path, show_progress: bool = True) -> MindImportStats:
    """Import the MIND dataset in ``folder`` into ``tenant``; safe to repeat."""
    check_folder(folder)
    started = time.perf_counter()
    stats = MindImportStats()

    # Everything is read and checked before the first write.
    items = read_news(folder)
    clean, errors = validate_items(items, max_rows=len(items) or 1)
    if errors:
        first = errors.errors[0]
        raise MindFormatError(
            f"{len(errors.errors)} news row(s) are invalid, e.g. news {items[first['index']]['id']!r}: "
            f"{first['field']}: {first['reason']}. Nothing was imported."
        )
    impressions = read_behaviors(folder)
    known = {row["id"] for row in clean}
    events, stats.clicks_without_text = _click_events(impressions, known)

    _write_items(tenant, clean, show_progress)
    item_pks = dict(tenant.items.filter(external_id__in=known).values_list("external_id", "id"))
    _write_events(tenant, events, item_pks, stats, show_progress)

    stats.items = len(clean)
    stats.impressions = len(impressions)
    stats.users = len({impression.user_id for impression in impressions})
    for row in clean:
        stats.languages[row["language"]] = stats.languages.get(row["language"], 0) + 1
    stats.seconds = time.perf_counter() - started
    logger.info("Imported MIND from %s into tenant %s: %s", folder, tenant.slug, stats)
    return stats


def _write_items(tenant: Tenant, rows: list[dict], show_progress: bool) -> None:
    for start in tqdm(range(0, len(rows), WRITE_CHUNK), desc="news", unit="batch", disable=not show_progress):
        ingest.upsert_items(tenant, rows[start : start + WRITE_CHUNK])


def _write_events(tenant: Tenant, events: list[dict], item_pks: dict[str, int], stats: MindImportStats, show_progress: bool) -> None:
    with tqdm(total=len(events), desc="clicks", unit="event", unit_scale=True, disable=not show_progress) as bar:
        for start in range(0, len(events), EVENT_CHUNK):
            chunk = events[start : start + EVENT_CHUNK]
            result = ingest.insert_events(tenant, chunk, item_pks)
            stats.events_created += result.created
            stats.events_duplicate += result.duplicates
            bar.update(len(chunk))


def _click_events(impressions: list[Impression], known: set[str]) -> tuple[list[dict], int]:
    """Return click event rows for news with text, and how many clicks had none.

    MIND gives no time for history clicks. Each is stamped with the time of
    the user's first impression that lists it, which is an upper bound.
    """
    events: dict[str, dict] = {}
    without_text = 0
    for impression in impressions:
        clicks = [("h", news_id) for news_id in impression.history]
        clicks += [("c", news_id) for news_id, clicked in zip(impression.candidates, impression.clicked, strict=True) if clicked]
        for source, news_id in clicks:
            if news_id not in known:
                without_text += 1
                continue
            scope = impression.user_id if source == "h" else impression.impression_id
            key = f"mind:{source}:{scope}:{news_id}"
            # Impressions are oldest first, so the first stamp of a history click is its earliest.
            events.setdefault(key, _click_row(impression, news_id, key))
    return list(events.values()), without_text


def _click_row(impression: Impression, news_id: str, key: str) -> dict:
    return {
        "user_id": impression.user_id,
        "item_id": news_id,
        "kind": "click",
        "value": None,
        "timestamp": impression.time,
        "query": "",
        "idempotency_key": key,
        "recommendation_id": None,
    }


def _news_row(news_id: str, title: str, abstract: str, language: str, category: tuple[str, str] | None) -> dict | None:
    title, abstract = title.strip(), abstract.strip()
    if not news_id or not (title or abstract):
        return None
    attributes = {"mind_category": category[0], "mind_subcategory": category[1]} if category else {}
    return {
        "id": news_id,
        # A news with an abstract but no title keeps the abstract as its title.
        "title": title or abstract,
        "description": abstract if title else "",
        "tags": [],
        "categories": [],
        "attributes": attributes,
        "available": True,
        "language": language,
    }


def _read_categories(path: Path) -> dict[str, tuple[str, str]]:
    if not path.is_file():
        return {}
    categories = {}
    for line_number, fields in _tsv_lines(path):
        _expect_columns(path, line_number, fields, 3)
        categories[fields[0]] = (fields[1], fields[2])
    return categories


def _parse_impression(path: Path, line_number: int, fields: list[str]) -> Impression:
    _expect_columns(path, line_number, fields, 5)
    impression_id, user_id, stamp, history, shown = fields[:5]
    try:
        moment = datetime.strptime(stamp.strip(), TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as err:
        raise MindFormatError(f"{path}:{line_number}: time {stamp!r} is not in the MIND format, such as '11/12/2019 2:14:46 PM'.") from err
    candidates, clicked = [], []
    for token in shown.split():
        news_id, _, label = token.rpartition("-")
        if not news_id or label not in ("0", "1"):
            raise MindFormatError(
                f"{path}:{line_number}: impression entry {token!r} is invalid; expected a news id, '-', then 1 (clicked) or 0 (not clicked)."
            )
        candidates.append(news_id)
        clicked.append(label == "1")
    return Impression(impression_id, user_id, moment, tuple(history.split()), tuple(candidates), tuple(clicked))


def _tsv_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield line_number, line.split("\t")


def _expect_columns(path: Path, line_number: int, fields: list[str], count: int) -> None:
    if len(fields) < count:
        raise MindFormatError(
            f"{path}:{line_number}: expected at least {count} tab-separated columns, found {len(fields)}. "
            "Check that the file is an unmodified MIND file."
        )
