"""Encoding: frames to a browser-playable H.264 mp4, never leaving a half-written file behind."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np

from videossr.video.files import _live, utf8_name


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
    exe = _live("_ffmpeg")()
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
