"""Source videos behind an fsspec URL (``s3://bucket/videos``, ``gs://...``, ``file:///data/videos``).

Large corpora live in object storage. A build lists such a folder through `fsspec
<https://filesystem-spec.readthedocs.io>`_ (as ``datasets`` does), names every video by its path
relative to the URL, exactly as a local folder's videos are named, and copies each video to local
temporary disk right before decoding it: the decoders need a seekable local file, and a worker never
holds more than one job's videos. A folder built from a URL is therefore byte-identical to the same
folder built from a local copy of the videos.

Credentials and options of the remote file system are fsspec's (environment variables, config files).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from videossr.data.sources import VideoSource


def is_url(videos: Any) -> bool:
    """Whether ``--videos`` names an fsspec URL (``protocol://...``) rather than a local path."""
    return isinstance(videos, str) and "://" in videos and not videos.startswith(("/", "."))


def _url_to_fs(url: str) -> tuple[Any, str]:
    """fsspec's file system and root path of ``url``, with a one-line ``ValueError`` for a URL fsspec
    cannot open (an unknown protocol, a missing driver, a corrupt archive: ``zipfile.BadZipFile``)."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except FileNotFoundError:
        raise FileNotFoundError(f"video folder {url} does not exist") from None
    except Exception as err:  # noqa: BLE001 - drivers raise their own types; the user gets one line
        raise ValueError(f"cannot open {url}: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _storage_fs(fs: Any) -> Any:
    """The file system that holds the files, under any chained layers (``simplecache::``, ``filecache::``)."""
    try:
        from fsspec.implementations.chained import ChainedFileSystem
    except ImportError:  # pragma: no cover - an fsspec before chained file systems
        from fsspec.implementations.cached import CachingFileSystem as ChainedFileSystem
    while isinstance(fs, ChainedFileSystem) and getattr(fs, "fs", None) is not None:
        fs = fs.fs
    return fs


def local_path_of(url: str) -> Path | None:
    """The local folder behind a URL whose files are on this machine's disk, else ``None``.

    ``file://``, ``local://`` and caches over them (``simplecache::file://``) all name a local folder. A
    build given one builds that folder exactly as a local build does: the same scan (links followed,
    FIFOs and loops reported), the same refusal to write into it, so the same bytes. An archive on local
    disk (``zip://...::file://``) is not a folder and stays a URL.
    """
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, root = _url_to_fs(url)
    except (ValueError, FileNotFoundError):
        return None
    return Path(root) if isinstance(_storage_fs(fs), LocalFileSystem) else None


def member_url(url: str, root: str, member: str) -> str:
    """The URL of ``member``, a path of the file system ``url`` opens (under its ``root``), with every link
    of a chained URL kept: ``zip://inner::file:///v.zip`` gives ``zip://inner/a.mp4::file:///v.zip``.

    fsspec's ``unstrip_protocol`` keeps only the first link (``zip://inner/a.mp4``), which then opened the
    working directory as the archive. Raises ``ValueError`` when no link of ``url`` holds ``root``.
    """
    import fsspec

    links = url.split("::")
    for i, link in enumerate(links):
        protocol, sep, _ = link.partition("://")
        if not sep:
            continue
        try:
            cls = fsspec.get_filesystem_class(protocol)
        except (ValueError, ImportError):
            continue
        if str(cls._strip_protocol(link)).rstrip("/") == root:
            links[i] = member if "://" in member else f"{protocol}://{member}"
            return "::".join(links)
    if len(links) == 1:
        fs, _ = _url_to_fs(url)
        return fs.unstrip_protocol(member)
    raise ValueError(f"cannot address the files of {url}: no link of the URL names {root!r}")


def resolve_url_videos(
    url: str, rejected: dict[str, dict[str, str]] | None = None
) -> tuple[list[VideoSource], str]:
    """The videos under an fsspec URL, sorted by id, and where they came from.

    The counterpart of :func:`videossr.data.sources.resolve_videos` for a remote folder or an archive:
    ids are paths relative to the URL, candidates are files with a video extension, and empty ones or
    entries that are no file are rejected with the reasons a local scan gives. Nothing is downloaded.

    Args:
        url: a folder (or one video) as an fsspec URL, chained ones included (``zip://dir::s3://b/v.zip``).
        rejected: filled with candidates that cannot be videos, id -> ``{"reason", "detail"}``.

    Raises:
        FileNotFoundError: nothing exists at ``url``.
        ValueError: no video file under it, or a URL fsspec cannot list (one line).
    """
    from videossr.video import VIDEO_EXTENSIONS, printable_name

    fs, root = _url_to_fs(url)
    root = root.rstrip("/")
    try:
        if not fs.exists(root):
            raise FileNotFoundError(f"video folder {url} does not exist")
        if fs.isfile(root):
            entries = {root: fs.info(root)}
        else:
            entries = fs.find(root, detail=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - a driver's own error type; one line for the user
        raise ValueError(f"cannot list {url}: {_first_line(err)}") from None
    found: list[VideoSource] = []
    skipped: dict[str, dict[str, str]] = {}
    for path, info in sorted(entries.items()):
        if PurePosixPath(path).suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        rel = PurePosixPath(path).relative_to(root).as_posix() if path != root else PurePosixPath(path).name
        rel = printable_name(rel)  # the same id a local scan gives a name that is not UTF-8
        # The same reasons and wording as a local scan (videossr.video.file_problem), so reports agree.
        kind = info.get("type")
        if kind == "directory":
            skipped[rel] = {"reason": "not_a_file", "detail": "is a directory"}
            continue
        if kind != "file":
            skipped[rel] = {"reason": "special_file", "detail": "is not a regular file; never read"}
            continue
        if not info.get("size"):
            skipped[rel] = {"reason": "empty", "detail": "zero-length file"}
            continue
        found.append(VideoSource(rel, member_url(url, root, path)))
    if rejected is not None:
        rejected.update(skipped)
    if not found:
        raise ValueError(f"no video files found in {url} (looked for common video extensions, recursively)")
    # Named like a local folder's origin ("folder <name>"): the bucket and its path are local detail,
    # and a build from a URL must give the same report as one from a local copy.
    return sorted(found, key=lambda v: v.id), f"folder {PurePosixPath(root).name}"


def fetch(video: VideoSource, folder: Path) -> VideoSource:
    """A copy of ``video`` on local disk under ``folder`` (the video itself when already local).

    The copy keeps the id, so rows and reports do not change; only ``path`` points to the local file.
    A video that cannot be fetched keeps pointing at a missing local file, so decoding reports it
    (reason ``missing``) like any other unusable video instead of failing the job.
    """
    if not is_url(video.path):
        return video
    import fsspec

    local = folder / (hashlib.sha256(video.id.encode()).hexdigest()[:16] + PurePosixPath(video.id).suffix)
    if not local.exists():
        try:
            with fsspec.open(video.path, "rb") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except Exception:  # noqa: BLE001 - any driver error (a damaged archive member too) costs this video
            local.unlink(missing_ok=True)
    return dataclasses.replace(video, path=str(local))


def run_job_fetching(
    job: Any, recipe: dict[str, Any], jobs_dir: str, decode_timeout: float | None = None, schema: Any = None
) -> dict[str, Any]:
    """:func:`videossr.data.jobs.run_job` for a job whose videos may be URLs: they are copied to a
    temporary folder first and deleted when the job is done."""
    from videossr.data.jobs import Job, run_job

    with tempfile.TemporaryDirectory(prefix="videossr-fetch-") as tmp:
        items = [
            (slot, fetch(video, Path(tmp)), fetch(other, Path(tmp)) if other is not None else None)
            for slot, video, other in job.items
        ]
        return run_job(Job(job.name, items), recipe, jobs_dir, decode_timeout, schema)
