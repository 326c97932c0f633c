"""Decoding: decord by default, an ``ffmpeg`` subprocess for what decord cannot read or gets wrong.

decord seeks frame-accurately with one reader per clip; ffmpeg covers variable-frame-rate files (decord
indexes them as if constant), rotation metadata (decord ignores it), raw streams and odd containers.
Every failure becomes a :class:`~videossr.errors.VideoError` with a short reason.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time
from pathlib import Path
from typing import Literal

import numpy as np

from videossr.errors import VideoError
from videossr.types import Clip
from videossr.video.files import (
    MAX_COUNTED_PACKETS,
    RAW_FORMATS,
    _check_file,
    _check_size,
    _count_packets,
    _ffmpeg_input_args,
    _live,
    check_container,
    probe,
    utf8_name,
)
from videossr.video.sampling import MIN_PIXELS, NUM_FRAMES, fit_size, resize_frames, sample_indices

Backend = Literal["auto", "decord", "ffmpeg"]


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
    exe = _live("_ffmpeg")()
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


def _try_decord(
    path: Path, backend: Backend, num_frames: int, max_pixels: int | None
) -> tuple[tuple[np.ndarray, np.ndarray, float, int] | None, tuple[int, int]]:
    """decord's frames (``None`` where ffmpeg must decode the file instead) and the container's
    ``(height, width)`` (zeros where unknown). With ``backend="decord"`` every failure is raised."""
    rotation, height, width = _container_hints(path)
    _check_size(path, height, width)  # before decord opens it (the quick check skipped ffprobe)
    source_hw = (int(height or 0), int(width or 0))
    result = None
    try:
        reader = _live("_open_decord")(path, _decode_size(height, width, max_pixels))
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
    return result, source_hw


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
        result, source_hw = _try_decord(path, backend, num_frames, max_pixels)
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
