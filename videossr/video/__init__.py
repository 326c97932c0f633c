"""All video decoding and encoding of the package lives here, one module a concern.

- :mod:`~videossr.video.sampling`: the paper's frame sampling and frame sizes (pure arithmetic).
- :mod:`~videossr.video.files`: file safety and probing (what may be opened at all; ffprobe's facts).
- :mod:`~videossr.video.decode`: decord, with an ``ffmpeg`` fallback for rotated, variable-frame-rate
  and odd files; :func:`load_clip`.
- :mod:`~videossr.video.isolated`: :func:`load_clip_isolated`, the killable forked loader, and the
  fork hook that keeps forked children off the parent's decoders.
- :mod:`~videossr.video.encode`: :func:`write_mp4`.
- :mod:`~videossr.video.discover`: :func:`scan_videos`, :func:`list_videos`, :func:`sample_videos`.

Every failure becomes a :class:`~videossr.errors.VideoError` with a short reason, so callers can skip a
bad video and keep going. Import from here: every public name of the former single module ``videossr.video``
stays importable from the package (the private ones other modules and tests use are re-exported as
``_name as _name``), and the decoders and tools tests replace (``_ffmpeg``, ``_ffprobe``,
``_open_decord``, ``load_clip``) are looked up on the package when called, so
``monkeypatch.setattr(videossr.video, name, ...)`` reaches every caller.
"""

from __future__ import annotations

from videossr.video.decode import Backend, load_clip
from videossr.video.decode import _decode_size as _decode_size
from videossr.video.decode import _open_decord as _open_decord
from videossr.video.discover import VIDEO_EXTENSIONS, list_videos, sample_videos, scan_videos
from videossr.video.encode import _mp4_complete as _mp4_complete
from videossr.video.encode import write_mp4
from videossr.video.files import (
    MAX_ASPECT,
    MAX_COUNTED_PACKETS,
    MAX_SIDE,
    MIN_SIDE,
    RAW_FORMATS,
    SAFE_FORMATS,
    check_container,
    file_problem,
    measure_duration,
    printable_name,
    probe,
    utf8_name,
)
from videossr.video.files import _ffmpeg as _ffmpeg
from videossr.video.files import _ffmpeg_input_args as _ffmpeg_input_args
from videossr.video.files import _ffprobe as _ffprobe
from videossr.video.isolated import load_clip_isolated
from videossr.video.sampling import (
    BENCH_MAX_PIXELS,
    MIN_PIXELS,
    NUM_FRAMES,
    SPAN,
    TRAIN_MAX_PIXELS,
    fit_size,
    resize_frames,
    sample_indices,
)

__all__ = [
    "BENCH_MAX_PIXELS",
    "MAX_ASPECT",
    "MAX_COUNTED_PACKETS",
    "MAX_SIDE",
    "MIN_PIXELS",
    "MIN_SIDE",
    "NUM_FRAMES",
    "RAW_FORMATS",
    "SAFE_FORMATS",
    "SPAN",
    "TRAIN_MAX_PIXELS",
    "VIDEO_EXTENSIONS",
    "Backend",
    "check_container",
    "file_problem",
    "fit_size",
    "list_videos",
    "load_clip",
    "load_clip_isolated",
    "measure_duration",
    "printable_name",
    "probe",
    "resize_frames",
    "sample_indices",
    "sample_videos",
    "scan_videos",
    "utf8_name",
    "write_mp4",
]
