"""File safety and probing: what may be opened at all, and what ffprobe says of it.

Every user-named file passes here before any decoder sees it: :func:`file_problem` from metadata alone
(never opening a FIFO or a device), :func:`check_container` from the first bytes and ffprobe under a
format and protocol whitelist (playlists and other reference-following inputs are refused).
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
import sys
from collections.abc import Sequence
from pathlib import Path

from videossr.errors import VideoError


def _live(name: str):
    """``videossr.video.<name>`` as it is now. The package's modules call the decoders and tools that
    tests replace (``monkeypatch.setattr(videossr.video, "_ffmpeg", ...)``, ``"_open_decord"``,
    ``"load_clip"``) through this, so a replacement on the package reaches every caller, as it did when
    the package was one module."""
    return getattr(sys.modules[__package__], name)


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
    exe = _live("_ffprobe")()
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
    if _live("_ffprobe")() is None:
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
