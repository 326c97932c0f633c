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


def local_path_of(url: str) -> Path | None:
    """The local folder behind a ``file://`` URL (so the build can refuse to write into it); else ``None``."""
    return Path(url[len("file://") :]) if url.startswith("file://") else None


def resolve_url_videos(
    url: str, rejected: dict[str, dict[str, str]] | None = None
) -> tuple[list[VideoSource], str]:
    """The videos under an fsspec URL, sorted by id, and where they came from.

    The counterpart of :func:`videossr.data.sources.resolve_videos` for a remote folder: ids are paths
    relative to the URL, candidates are files with a video extension, and empty ones are rejected with
    the same reason a local scan gives. Nothing is downloaded.

    Args:
        url: a folder (or one video) as an fsspec URL.
        rejected: filled with candidates that cannot be videos, id -> ``{"reason", "detail"}``.

    Raises:
        FileNotFoundError: nothing exists at ``url``.
        ValueError: no video file under it.
    """
    import fsspec

    from videossr.video import VIDEO_EXTENSIONS

    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    if not fs.exists(root):
        raise FileNotFoundError(f"video folder {url} does not exist")
    if fs.isfile(root):
        entries = {root: fs.info(root)}
    else:
        entries = fs.find(root, detail=True)
    found: list[VideoSource] = []
    skipped: dict[str, dict[str, str]] = {}
    for path, info in sorted(entries.items()):
        if PurePosixPath(path).suffix.lower() not in VIDEO_EXTENSIONS or info.get("type") != "file":
            continue
        rel = PurePosixPath(path).relative_to(root).as_posix() if path != root else PurePosixPath(path).name
        if not info.get("size"):
            # The same reason and wording as a local scan (videossr.video.file_problem), so reports agree.
            skipped[rel] = {"reason": "empty", "detail": "zero-length file"}
            continue
        found.append(VideoSource(rel, fs.unstrip_protocol(path)))
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
        except OSError:
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
