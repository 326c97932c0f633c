"""Helpers of the tests that make odd video files with the ffmpeg binary (the video, CLI and Space tests):
playlists that point at another file, and a fake ffmpeg that leaves a truncated file behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg binary not installed")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


def playlists(folder: Path, target: Path) -> dict[str, Path]:
    """Files named ``.mp4`` that are really playlists (hls, concat) naming ``target``."""
    out = {
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXTINF:7.0,\n{target}\n#EXT-X-ENDLIST\n",
        "concat": f"ffconcat version 1.0\nfile '{target}'\n",
        "hls_file_url": f"#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXTINF:7.0,\nfile:{target}\n#EXT-X-ENDLIST\n",
    }
    paths = {}
    for name, text in out.items():
        paths[name] = folder / f"{name}.mp4"
        paths[name].write_text(text)
    return paths


def fake_ffmpeg(tmp_path: Path, good: Path, keep_bytes: int, code: int, message: str) -> Path:
    """An ffmpeg that writes the first ``keep_bytes`` of ``good`` as its output, says ``message`` and
    exits with ``code``."""
    script = tmp_path / "fake-ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"
        'last="${last#file:}"\n'
        f'head -c {keep_bytes} "{good}" > "$last"\n'
        f'echo "{message}" >&2\n'
        f"exit {code}\n"
    )
    script.chmod(0o755)
    return script
