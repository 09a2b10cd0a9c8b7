"""Download a dataset archive once, verify its SHA-256, and unpack it."""

from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

logger = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """The archive could not be fetched or did not match its checksum."""


def fetch_archive(url: str, sha256: str, target: Path, show_progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target`` unless a file with the right checksum is there."""
    if target.exists() and file_sha256(target) == sha256:
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    logger.info("Downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not show_progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"Could not download {url}: {err}") from err

    actual = file_sha256(partial)
    if actual != sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"The file downloaded from {url} has SHA-256 {actual}, expected {sha256}. "
            "The download is corrupt or the file changed upstream; nothing was imported."
        )
    partial.replace(target)
    return target


def unpack(archive: Path, destination: Path) -> Path:
    """Extract ``archive`` into ``destination`` and return the folder it created."""
    with zipfile.ZipFile(archive) as zipped:
        top_level = {Path(name).parts[0] for name in zipped.namelist() if name.strip("/")}
        for member in zipped.namelist():
            resolved = (destination / member).resolve()
            if not resolved.is_relative_to(destination.resolve()):
                raise DownloadError(f"Archive {archive} has an unsafe path {member!r}; refusing to extract it.")
        staging = destination / f".{archive.stem}.extracting"
        shutil.rmtree(staging, ignore_errors=True)
        zipped.extractall(staging)
    for name in top_level:
        final = destination / name
        shutil.rmtree(final, ignore_errors=True)
        (staging / name).replace(final)
    shutil.rmtree(staging, ignore_errors=True)
    return destination / sorted(top_level)[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
