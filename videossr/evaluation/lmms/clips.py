"""VIUBench clips as the video files lmms-eval's video models read: written once, losslessly (FFV1 in AVI),
named by their content, and read back into frames (OpenCV, imported inside the functions).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from videossr.evaluation.lmms.config import CACHE_ENV, LmmsEvalError
from videossr.rows import decode_frame


def _clip_frames(clip: Any) -> np.ndarray:
    if isinstance(clip, np.ndarray) and clip.ndim == 4:
        return clip.astype(np.uint8, copy=False)
    return np.stack([decode_frame(f) for f in clip])


def cache_dir() -> Path:
    """Where the clips are written as video files (``$VIUBENCH_VIDEO_CACHE``, else ``~/.cache/videossr``)."""
    root = os.environ.get(CACHE_ENV, "").strip()
    return Path(root) if root else Path.home() / ".cache" / "videossr" / "lmms_eval_clips"


def write_clip(frames: np.ndarray, fps: float, path: str | os.PathLike) -> Path:
    """Write ``(T, H, W, 3)`` RGB frames losslessly (FFV1 in AVI) at ``fps``.

    FFV1 keeps every pixel: decord and OpenCV read back exactly the frames written. It needs no
    ffmpeg binary (OpenCV's bundled FFmpeg writes it).
    """
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    _, h, w, _ = frames.shape
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"FFV1"), float(fps), (w, h))
    if not writer.isOpened():
        raise LmmsEvalError(f"OpenCV cannot write FFV1 video to {tmp}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, path)  # a reader never sees a half-written file
    return path


def read_clip(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video file as ``(T, H, W, 3)`` RGB uint8 (OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise LmmsEvalError(f"no frames could be read from {path}")
    return np.stack(frames)


def clip_paths(doc: dict[str, Any]) -> list[str]:
    """The clips of a VIUBench row as lossless video files (written once, named by their content)."""
    fps = float(doc["fps"])
    safe_id = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(doc["id"]))
    folder = cache_dir()
    out = []
    for k, clip in enumerate(doc["videos"]):
        frames = _clip_frames(clip)
        digest = hashlib.sha1(frames.tobytes())
        digest.update(repr((frames.shape, fps)).encode())
        path = folder / f"{safe_id}-{k}-{digest.hexdigest()[:12]}.avi"
        if not path.is_file():
            write_clip(frames, fps, path)
        out.append(str(path))
    return out
