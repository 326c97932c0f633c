"""Helpers of the dataset-builder tests: small synthetic video folders (good and bad files)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

# lavfi sources with visibly different content, so rows from different videos differ.
_SOURCES = ("testsrc", "testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "cellauto", "life", "yuvtestsrc")


def make_video(path: Path, index: int = 0, frames: int = 64, size: str = "96x72", rate: int = 16) -> Path:
    """A short H.264 clip from an ffmpeg test source (fast to decode)."""
    src = _SOURCES[index % len(_SOURCES)]
    hue = (index // len(_SOURCES)) * 47
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{src}=size={size}:rate={rate}",
        "-frames:v",
        str(frames),
        "-vf",
        f"hue=h={hue}",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


def make_folder(root: Path, count: int, bad: bool = False) -> Path:
    """``count`` good videos under ``root`` (some in a sub-folder), plus bad files when ``bad``."""
    for i in range(count):
        sub = "more/" if i % 3 == 2 else ""
        make_video(root / f"{sub}clip_{i:02d}.mp4", i)
    if bad:
        (root / "empty.mp4").write_bytes(b"")
        (root / "garbage.mp4").write_bytes(os.urandom(4096))
        make_video(root / "short.mp4", 1, frames=20)
        good = root / "clip_00.mp4"
        data = good.read_bytes()
        (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
        (root / "notes.txt").write_text("not a video")
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under a folder: to prove a build never touched it."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def same_tree(a: Path, b: Path) -> list[str]:
    """Relative paths that differ (by content or presence) between two folders; empty when identical."""
    fa = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    diff = sorted(fa ^ fb)
    diff += [f for f in sorted(fa & fb) if not filecmp.cmp(a / f, b / f, shallow=False)]
    return diff


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None
