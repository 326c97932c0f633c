"""The dataset row schema and the core CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from videossr import get_task
from videossr.cli import main
from videossr.rows import row_parts, row_to_sample, sample_to_row


@pytest.mark.parametrize(
    ("name", "kw"),
    [("anomaly_grounding", {"perturbation": "zoom_out"}), ("object_counting", {}), ("temporal_jigsaw", {})],
)
def test_row_roundtrip(clip, name, kw):
    sample = get_task(name, **kw).generate(clip, seed=4)
    row = sample_to_row(sample, id="x-1", image_format="png")
    json.dumps({k: v for k, v in row.items() if k != "videos"})
    back = row_to_sample(row)
    assert back.answer == sample.answer and back.prompt == sample.prompt and back.params == sample.params
    assert back.fps == sample.fps and back.task == sample.task and back.subtype == sample.subtype
    assert len(back.videos) == len(sample.videos)
    for a, b in zip(back.videos, sample.videos):
        assert np.array_equal(a, b)  # PNG is lossless
    jpeg = row_to_sample(sample_to_row(sample, image_format="jpeg"))
    assert np.abs(jpeg.videos[0].astype(int) - sample.videos[0].astype(int)).mean() < 4
    assert row_parts(row) == sample.parts


def test_row_accepts_array_videos(clip):
    sample = get_task("temporal_jigsaw").generate(clip, seed=0)
    row = sample_to_row(sample)
    row["videos"] = list(sample.videos)
    assert all(np.array_equal(a, b) for a, b in zip(row_to_sample(row).videos, sample.videos))


def test_cli_generate_writes_playable_clips(tmp_path, real_video):
    out = tmp_path / "jig"
    rc = main(
        [
            "generate",
            "--task",
            "temporal_jigsaw",
            "--difficulty",
            "hard",
            "--video",
            str(real_video),
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    record = json.loads((out / "sample.json").read_text())
    assert record["subtype"] == "jigsaw_hard" and len(record["videos"]) == 8
    import decord

    reader = decord.VideoReader(str(out / "clip_1.mp4"))
    assert len(reader) == 6 and reader.get_avg_fps() == pytest.approx(record["fps"], rel=0.01)


def test_cli_generate_swap_and_errors(tmp_path, real_videos, capsys):
    rc = main(
        [
            "generate",
            "--task",
            "grounding",
            "--perturbation",
            "swap",
            "--video",
            str(real_videos[0]),
            "--other-video",
            str(real_videos[1]),
            "--seed",
            "1",
            "--out",
            str(tmp_path / "s"),
            "--quiet",
        ]
    )
    assert rc == 0 and (tmp_path / "s" / "clip.mp4").exists()
    rc = main(
        [
            "generate",
            "--task",
            "grounding",
            "--video",
            str(tmp_path / "missing.mp4"),
            "--out",
            str(tmp_path / "m"),
            "--quiet",
        ]
    )
    assert rc == 1
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_cli_score(capsys):
    assert main(["score", "--task", "counting", "--answer", "3,1,4", "--completion", "3,1,5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reward"] == pytest.approx(2.75 / 3) and result["score"] == pytest.approx(2 / 3)
    assert result["strict01"] == 0.0


def test_console_script_runs():
    res = subprocess.run(
        [sys.executable, "-m", "videossr.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and "generate" in res.stdout and "score" in res.stdout


def test_cli_space_serves_the_app(tmp_path):
    """`videossr space` starts space/app.py on the given port; the page answers over loopback."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "videossr.cli", "space", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not answer within 120 s")
    finally:
        proc.terminate()
        proc.wait(30)


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), beyond the list:
# a dataset row that names its frame by path is read with the same limits
# --------------------------------------------------------------------------------------------------
def test_frame_paths_in_rows_are_read_with_limits(tmp_path):
    from videossr.rows import decode_frame

    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(ValueError, match="regular file"):
            decode_frame({"bytes": None, "path": path})
