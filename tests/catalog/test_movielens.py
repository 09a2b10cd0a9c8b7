"""MovieLens importers for the three formats, and locating or downloading the files."""

import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import pytest

from semrec.catalog.importers import movielens
from semrec.catalog.importers.movielens import DatasetNotFound, detect_format, import_movielens, locate_dataset
from semrec.catalog.models import Event, Item

LATEST_MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,"Heat, The (1995)",Action|Crime\n3,Nothing (2000),(no genres listed)\n'
LATEST_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,1,5.0,964982224\n2,99,1.0,964982224\n"
LATEST_TAGS = "userId,movieId,tag,timestamp\n1,1,pixar,1\n2,1,Pixar,2\n2,1,toys,3\n"


def write_latest(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(LATEST_MOVIES)
    (folder / "ratings.csv").write_text(LATEST_RATINGS)
    (folder / "tags.csv").write_text(LATEST_TAGS)
    return folder


def write_100k(folder):
    folder.mkdir()
    (folder / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n")
    (folder / "u.item").write_bytes("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|Café (1996)|01-Jan-1996||http://y|0|1|0\n".encode("latin-1"))
    (folder / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t2\t4\t881250951\n")
    return folder


def write_1m(folder):
    folder.mkdir()
    (folder / "movies.dat").write_bytes("1::Toy Story (1995)::Animation|Comedy\n2::Amélie (2001)::Romance\n".encode("latin-1"))
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::2::4::978300761\n")
    return folder


def test_latest_small_import(tenant, tmp_path):
    stats = import_movielens(tenant, write_latest(tmp_path / "ml"), show_progress=False)
    assert stats.items == 3
    assert stats.events_created == 3
    toy = Item.objects.get(tenant=tenant, external_id="1")
    assert toy.categories == ["Adventure", "Animation"]
    assert toy.tags == ["pixar", "toys"]
    assert Item.objects.get(tenant=tenant, external_id="2").title == "Heat, The (1995)"
    assert Item.objects.get(tenant=tenant, external_id="3").categories == []


def test_ratings_of_unknown_movies_skipped(tenant, tmp_path):
    import_movielens(tenant, write_latest(tmp_path / "ml"), show_progress=False)
    assert not Event.objects.filter(tenant=tenant, item__external_id="99").exists()


def test_reimport_writes_nothing_twice(tenant, tmp_path):
    folder = write_latest(tmp_path / "ml")
    import_movielens(tenant, folder, show_progress=False)
    again = import_movielens(tenant, folder, show_progress=False)
    assert again.events_created == 0
    assert again.events_duplicate == 3
    assert Event.objects.filter(tenant=tenant).count() == 3


def test_100k_import(tenant, tmp_path):
    stats = import_movielens(tenant, write_100k(tmp_path / "ml"), show_progress=False)
    assert (stats.items, stats.events_created, stats.users) == (2, 3, 2)
    assert Item.objects.get(tenant=tenant, external_id="1").categories == ["Comedy"]
    assert Item.objects.get(tenant=tenant, external_id="2").title == "Café (1996)"


def test_1m_import(tenant, tmp_path):
    stats = import_movielens(tenant, write_1m(tmp_path / "ml"), show_progress=False)
    assert (stats.items, stats.events_created) == (2, 2)
    rating = Event.objects.get(tenant=tenant, item__external_id="2")
    assert rating.kind == "rating"
    assert rating.value == 4.0


def test_unknown_folder_layout_rejected(tmp_path):
    (tmp_path / "random.txt").write_text("x")
    with pytest.raises(DatasetNotFound) as raised:
        detect_format(tmp_path)
    assert "ratings.csv" in str(raised.value)


def test_missing_path_rejected(tmp_path):
    with pytest.raises(DatasetNotFound) as raised:
        locate_dataset("ml-latest-small", str(tmp_path / "absent"), str(tmp_path), "http://127.0.0.1:9/")
    assert "was not found" in str(raised.value)


def test_data_folder_used_before_download(tmp_path):
    write_latest(tmp_path / "ml-latest-small")
    assert locate_dataset("ml-latest-small", None, str(tmp_path), "http://127.0.0.1:9/") == tmp_path / "ml-latest-small"


def test_no_download_says_how_to_provide(tmp_path):
    with pytest.raises(DatasetNotFound) as raised:
        locate_dataset("ml-latest-small", None, str(tmp_path), "http://127.0.0.1:9/", download=False)
    assert "--path" in str(raised.value)


def test_unreachable_server_says_how_to_provide(tmp_path, unused_port):
    with pytest.raises(DatasetNotFound) as raised:
        locate_dataset("ml-latest-small", None, str(tmp_path), f"http://127.0.0.1:{unused_port}/")
    message = str(raised.value)
    assert "Could not download" in message
    assert "--path" in message


def _zip_of_latest(tmp_path) -> bytes:
    source = write_latest(tmp_path / "source" / "ml-latest-small")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in source.iterdir():
            archive.write(file, f"ml-latest-small/{file.name}")
    return buffer.getvalue()


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def archive_server(tmp_path):
    """Serve a zip of a tiny ml-latest-small on 127.0.0.1, as GroupLens would."""
    served = tmp_path / "served"
    served.mkdir()
    payload = _zip_of_latest(tmp_path)
    (served / "ml-latest-small.zip").write_bytes(payload)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hashlib.sha256(payload).hexdigest()
    server.shutdown()
    server.server_close()


def test_download_verified_and_unpacked(tmp_path, archive_server, monkeypatch):
    url, digest = archive_server
    monkeypatch.setitem(movielens.FORMATS, "ml-latest-small", movielens.DatasetFormat("ml-latest-small", ("ratings.csv", "movies.csv"), digest))
    data_dir = tmp_path / "data"
    folder = locate_dataset("ml-latest-small", None, str(data_dir), url)
    assert folder == data_dir / "ml-latest-small"
    assert (folder / "ratings.csv").read_text() == LATEST_RATINGS


def test_download_with_wrong_checksum_rejected(tmp_path, archive_server):
    url, _digest = archive_server
    data_dir = tmp_path / "data"
    with pytest.raises(DatasetNotFound) as raised:
        locate_dataset("ml-latest-small", None, str(data_dir), url)
    assert "SHA-256" in str(raised.value)
    assert not (data_dir / "ml-latest-small").exists()
    assert not list(data_dir.glob("*.zip"))


def test_official_checksums_pinned():
    assert movielens.FORMATS["ml-latest-small"].sha256 == "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
    assert all(len(dataset.sha256) == 64 for dataset in movielens.FORMATS.values())
