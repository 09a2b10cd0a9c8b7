"""Import MovieLens datasets: latest-small (CSV), 100K (``u.*``) and 1M (``::``-separated).

Ratings become ``rating`` events; titles, genres and the most frequent user
tags become item text. Each rating carries the idempotency key
``ml:<user>:<movie>``, so importing the same files again writes nothing twice.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from semrec.catalog import ingest
from semrec.tenants.models import Tenant

from .download import DownloadError, fetch_archive, unpack

logger = logging.getLogger(__name__)

EVENT_CHUNK = 10_000
TAGS_PER_MOVIE = 10
NO_GENRE = "(no genres listed)"


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    #: Files whose presence identifies the format.
    marker_files: tuple[str, ...]
    #: SHA-256 of the official GroupLens zip.
    sha256: str


FORMATS = {
    "ml-latest-small": DatasetFormat(
        "ml-latest-small", ("ratings.csv", "movies.csv"), "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
    ),
    "ml-100k": DatasetFormat("ml-100k", ("u.data", "u.item"), "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
    "ml-1m": DatasetFormat("ml-1m", ("ratings.dat", "movies.dat"), "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
}


class DatasetNotFound(RuntimeError):
    """No usable copy of the dataset exists and it could not be downloaded."""


@dataclass
class ImportStats:
    items: int = 0
    #: Existing items whose title the import changed: a sign of a different dataset.
    items_retitled: int = 0
    users: int = 0
    events_created: int = 0
    events_duplicate: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        total = self.events_created + self.events_duplicate
        return total / self.seconds if self.seconds else 0.0


def detect_format(folder: Path) -> DatasetFormat:
    for dataset in FORMATS.values():
        if all((folder / marker).is_file() for marker in dataset.marker_files):
            return dataset
    expected = "; ".join(f"{d.name}: {', '.join(d.marker_files)}" for d in FORMATS.values())
    raise DatasetNotFound(f"{folder} does not contain a MovieLens dataset. Expected one of these file sets: {expected}.")


def locate_dataset(name: str, path: str | None, data_dir: str, base_url: str, download: bool = True) -> Path:
    """Return the folder of dataset ``name``: ``path``, the data folder, or a fresh download."""
    if path:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise DatasetNotFound(f"The dataset folder {folder} was not found. Pass the folder that contains the MovieLens files.")
        detect_format(folder)
        return folder

    if name not in FORMATS:
        raise DatasetNotFound(f"Unknown MovieLens dataset {name!r}. Choose one of: {', '.join(FORMATS)}.")
    cached = Path(data_dir).expanduser() / name
    if cached.is_dir():
        detect_format(cached)
        return cached
    if not download:
        raise DatasetNotFound(_missing_message(name, cached))

    dataset = FORMATS[name]
    url = f"{base_url.rstrip('/')}/{name}.zip"
    try:
        archive = fetch_archive(url, dataset.sha256, Path(data_dir).expanduser() / f"{name}.zip")
    except DownloadError as err:
        raise DatasetNotFound(f"{err}\n{_missing_message(name, cached)}") from err
    return unpack(archive, Path(data_dir).expanduser())


def _missing_message(name: str, cached: Path) -> str:
    return (
        f"No local copy of {name} was found at {cached}. Either pass --path DIR with the unpacked "
        f"dataset, set SEMREC_DATA_DIR to a folder that contains {name}/, or allow the download from GroupLens."
    )


def import_movielens(tenant: Tenant, folder: Path, show_progress: bool = True) -> ImportStats:
    """Import the dataset in ``folder`` into ``tenant``."""
    dataset = detect_format(folder)
    started = time.perf_counter()
    stats = ImportStats()

    items = list(_read_items(folder, dataset))
    stats.items_retitled = _count_retitled(tenant, items)
    if stats.items_retitled:
        logger.warning(
            "Tenant %s: %d existing items get a different title from %s; the tenant may hold another dataset",
            tenant.slug, stats.items_retitled, folder,
        )
    for start in tqdm(range(0, len(items), 5000), desc="items", unit="batch", disable=not show_progress):
        ingest.upsert_items(tenant, items[start : start + 5000])
    stats.items = len(items)

    known_items = {row["id"] for row in items}
    events = [row for row in _read_ratings(folder, dataset) if row["item_id"] in known_items]
    item_pks = dict(tenant.items.values_list("external_id", "id"))
    with tqdm(total=len(events), desc="events", unit="event", unit_scale=True, disable=not show_progress) as bar:
        for start in range(0, len(events), EVENT_CHUNK):
            chunk = events[start : start + EVENT_CHUNK]
            result = ingest.insert_events(tenant, chunk, item_pks)
            stats.events_created += result.created
            stats.events_duplicate += result.duplicates
            bar.update(len(chunk))

    stats.users = len({row["user_id"] for row in events})
    stats.seconds = time.perf_counter() - started
    logger.info("Imported %s into tenant %s: %s", dataset.name, tenant.slug, stats)
    return stats


def _count_retitled(tenant: Tenant, items: list[dict]) -> int:
    titles = dict(tenant.items.filter(external_id__in=[row["id"] for row in items]).values_list("external_id", "title"))
    return sum(1 for row in items if row["id"] in titles and titles[row["id"]] != row["title"])


def _item_row(movie_id: str, title: str, genres: list[str], tags: list[str]) -> dict:
    return {
        "id": movie_id,
        "title": title.strip(),
        "description": "",
        "tags": tags,
        "categories": [genre for genre in genres if genre and genre != NO_GENRE],
        "attributes": {},
        "available": True,
    }


def _event_row(user_id: str, movie_id: str, rating: str, timestamp: str) -> dict:
    return {
        "user_id": user_id,
        "item_id": movie_id,
        "kind": "rating",
        "value": float(rating),
        "timestamp": datetime.fromtimestamp(int(timestamp), tz=timezone.utc),
        "query": "",
        "idempotency_key": f"ml:{user_id}:{movie_id}",
        "recommendation_id": None,
    }


def _read_items(folder: Path, dataset: DatasetFormat) -> Iterator[dict]:
    if dataset.name == "ml-latest-small":
        tags = _top_tags(folder / "tags.csv")
        with open(folder / "movies.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield _item_row(row["movieId"], row["title"], row["genres"].split("|"), tags.get(row["movieId"], []))
    elif dataset.name == "ml-100k":
        genre_names = _read_100k_genres(folder / "u.genre")
        with open(folder / "u.item", encoding="latin-1") as handle:
            for line in handle:
                fields = line.rstrip("\n").split("|")
                if len(fields) < 6:
                    continue
                flags = fields[5:]
                genres = [genre_names[i] for i, flag in enumerate(flags) if flag == "1" and i in genre_names]
                yield _item_row(fields[0], fields[1], genres, [])
    else:
        with open(folder / "movies.dat", encoding="latin-1") as handle:
            for line in handle:
                movie_id, title, genres = line.rstrip("\n").split("::")
                yield _item_row(movie_id, title, genres.split("|"), [])


def _read_ratings(folder: Path, dataset: DatasetFormat) -> Iterator[dict]:
    if dataset.name == "ml-latest-small":
        with open(folder / "ratings.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield _event_row(row["userId"], row["movieId"], row["rating"], row["timestamp"])
    elif dataset.name == "ml-100k":
        with open(folder / "u.data", encoding="latin-1") as handle:
            for line in handle:
                user_id, movie_id, rating, timestamp = line.split()
                yield _event_row(user_id, movie_id, rating, timestamp)
    else:
        with open(folder / "ratings.dat", encoding="latin-1") as handle:
            for line in handle:
                user_id, movie_id, rating, timestamp = line.strip().split("::")
                yield _event_row(user_id, movie_id, rating, timestamp)


def _top_tags(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    counts: dict[str, Counter] = defaultdict(Counter)
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tag = row["tag"].strip().lower()
            if tag:
                counts[row["movieId"]][tag] += 1
    return {movie_id: [tag for tag, _ in counter.most_common(TAGS_PER_MOVIE)] for movie_id, counter in counts.items()}


def _read_100k_genres(path: Path) -> dict[int, str]:
    names = {}
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if "|" in line:
                name, index = line.strip().split("|")
                names[int(index)] = name
    return names
