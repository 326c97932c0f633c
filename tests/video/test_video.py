"""Frame sampling and decoding on real and synthesized videos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _video_files import fake_ffmpeg, ffmpeg, needs_ffmpeg, playlists

from videossr import VideoError, load_clip
from videossr.video import fit_size, sample_indices, write_mp4


def test_sample_indices_follow_the_paper():
    idx = sample_indices(200)
    assert len(idx) == 48
    assert idx[0] == 10  # the 5% mark
    assert np.all(np.diff(idx) == 3)  # (190 - 10) // 48 = 3
    assert idx[-1] < 190  # never past the 95% mark
    idx = sample_indices(1000)
    assert idx[0] == 50 and np.all(np.diff(idx) == 18) and idx[-1] < 950


def test_sample_indices_rejects_short_spans():
    with pytest.raises(ValueError, match="need 48"):
        sample_indices(52)  # frames 2..48 (5% = 2.6, 95% = 49.4): 47 eligible
    assert len(sample_indices(53)) == 48  # frames 2..49: exactly 48


def test_fit_size_bounds_and_aspect():
    h, w = fit_size(1080, 1920, 256 * 256)
    assert h * w <= 256 * 256 and h % 2 == 0 and w % 2 == 0
    assert abs(w / h - 1920 / 1080) < 0.03
    h, w = fit_size(60, 80, 256 * 256)  # tiny videos are upscaled to at least 128x128 pixels
    assert h * w >= 128 * 128 and h * w <= 256 * 256
    assert fit_size(240, 320, None) == (240, 320)


def test_real_video_clip(real_video):
    clip = load_clip(real_video, max_pixels=256 * 256)
    assert clip.frames.shape[0] == 48 and clip.frames.dtype == np.uint8 and clip.frames.shape[-1] == 3
    assert clip.frames.shape[1] * clip.frames.shape[2] <= 256 * 256
    assert clip.fps == pytest.approx(48 / clip.duration)
    assert clip.duration == pytest.approx(clip.num_source_frames / clip.source_fps)
    assert list(clip.frame_indices) == list(sample_indices(clip.num_source_frames))
    meta = clip.video_metadata()
    assert meta["total_num_frames"] == 48 and meta["fps"] == pytest.approx(clip.fps)


def test_decoding_is_frame_accurate(real_video):
    """The frames are exactly the sampled source frames (checked against a sequential decode)."""
    import cv2

    clip = load_clip(real_video)
    cap = cv2.VideoCapture(str(real_video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    cap.release()
    for k in (0, 17, 47):
        ref = frames[int(clip.frame_indices[k])].astype(int)
        assert np.abs(clip.frames[k].astype(int) - ref).mean() < 3.0  # same frame, decoder rounding only
    assert np.abs(clip.frames[1].astype(int) - frames[int(clip.frame_indices[1]) + 2].astype(int)).mean() > 0


@pytest.mark.parametrize(
    "name", ["base.mp4", "base.webm", "base.mkv", "base.avi", "base.mov", "odd.mp4", "gray.mkv"]
)
def test_containers_and_odd_inputs(synthetic_videos, name):
    clip = load_clip(synthetic_videos[name], max_pixels=256 * 256)
    assert clip.frames.shape[0] == 48 and clip.frames.shape[-1] == 3
    assert clip.frames.shape[1] % 2 == 0 and clip.frames.shape[2] % 2 == 0
    assert clip.fps == pytest.approx(12.0, rel=0.02)  # 48 frames over 4 seconds


def test_vertical_video_keeps_its_orientation(synthetic_videos):
    clip = load_clip(synthetic_videos["vertical.mp4"])
    assert clip.frames.shape[1] > clip.frames.shape[2]


def test_rotation_metadata_is_applied(synthetic_videos):
    clip = load_clip(synthetic_videos["rotated.mp4"])
    assert clip.frames.shape[1:3] == (320, 240)  # a 320x240 stream shown a quarter turn rotated


def test_variable_frame_rate_uses_real_timestamps(synthetic_videos):
    clip = load_clip(synthetic_videos["vfr.mp4"])
    # 4 s of content: 20 frames in the first half, 80 in the second. A decoder that trusted the frame
    # count would sample mostly the second half; the constant-rate resampling keeps time uniform.
    assert clip.duration == pytest.approx(4.0, abs=0.2)
    assert clip.fps == pytest.approx(12.0, rel=0.05)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.mp4", "empty"),
        ("garbage.mp4", "unreadable"),
        ("short.mp4", "too_short"),
        ("audio_only.mp4", "no_video_stream"),
        ("truncated.mp4", "truncated"),
    ],
)
def test_bad_videos_raise_clear_errors(synthetic_videos, name, reason):
    with pytest.raises(VideoError) as info:
        load_clip(synthetic_videos[name])
    assert info.value.reason == reason
    assert str(synthetic_videos[name]) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="missing"):
        load_clip(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="not_a_file"):
        load_clip(tmp_path)


def test_write_mp4_roundtrip(tmp_path, clip):
    path = write_mp4(clip.frames, clip.fps, tmp_path / "x.mp4")
    back = load_clip(path, num_frames=40)
    assert back.source_fps == pytest.approx(clip.fps, rel=0.01)
    assert back.num_source_frames == 48
    assert not list(tmp_path.glob("*.part*"))


def test_write_mp4_pads_odd_sizes(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, size=(60, 33, 47, 3), dtype=np.uint8)
    path = write_mp4(frames, 10.0, tmp_path / "odd.mp4")
    back = load_clip(path, max_pixels=None, min_pixels=None)
    assert back.frames.shape[1:3] == (34, 48)


def test_isolated_loading_matches_and_survives_crashes(real_video, synthetic_videos, monkeypatch):
    import os

    from videossr import video as video_mod

    a = video_mod.load_clip_isolated(real_video, max_pixels=256 * 256)
    b = load_clip(real_video, max_pixels=256 * 256)
    assert np.array_equal(a.frames, b.frames) and a.fps == b.fps
    with pytest.raises(VideoError) as info:
        video_mod.load_clip_isolated(synthetic_videos["short.mp4"])
    assert info.value.reason == "too_short"

    # A decoder that kills its process (as a native crash would) costs one video, not the caller.
    monkeypatch.setattr(video_mod, "_open_decord", lambda path, size=None: os._exit(11))
    with pytest.raises(VideoError) as info:
        video_mod.load_clip_isolated(real_video)
    assert info.value.reason == "crashed"

    import time as _time

    monkeypatch.setattr(video_mod, "_open_decord", lambda path, size=None: _time.sleep(30))
    t0 = _time.perf_counter()
    with pytest.raises(VideoError) as info:
        video_mod.load_clip_isolated(real_video, timeout=1.0)
    assert info.value.reason == "timeout" and _time.perf_counter() - t0 < 10


def test_decoder_side_scaling_matches_a_full_resolution_resize(real_videos):
    """HD sources are scaled by the decoder to 2x the target side, then area-averaged: the result
    stays within about a grey level of resizing full-resolution frames."""
    from videossr.video import _decode_size, resize_frames

    hd = next(p for p in real_videos if load_clip(p, num_frames=2, max_pixels=None).size[0] >= 720)
    fast = load_clip(hd, max_pixels=256 * 256)
    full = load_clip(hd)
    assert _decode_size(*full.size, 256 * 256) is not None
    ref = resize_frames(full.frames, fast.size)
    assert np.abs(fast.frames.astype(int) - ref.astype(int)).mean() < 2.0
    assert _decode_size(270, 480, 256 * 256) is None  # small sources decode at their own size


def test_forked_children_never_collect_a_parents_decord_reader(real_video):
    """A reader left in a reference cycle used to crash forked DataLoader workers when they ran the GC."""
    import gc
    import os

    decord = pytest.importorskip("decord")
    import videossr.video  # noqa: F401 - registers the fork hook

    class Holder:
        pass

    holder = Holder()
    holder.cycle, holder.reader = holder, decord.VideoReader(str(real_video))
    del holder  # garbage now, but only the cyclic collector can free it
    pid = os.fork()
    if pid == 0:  # the child: collect, then leave without running any parent clean-up
        gc.collect()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    gc.collect()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child died with status {status}"


def test_any_file_name_decodes_in_generate_and_never_crashes(real_video, tmp_path):
    """A name that is not UTF-8 crashed OpenCV's VideoCapture (SIGSEGV, exit 139, no output) in
    ``generate``; newlines and leading dashes must not confuse anything either. Run as a subprocess: on
    the old code the crash would take the test process with it."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    name = tmp_path / os.fsdecode(b"--bad\xff\xfe\nname.mp4")  # not UTF-8, a newline, leading dashes
    shutil.copyfile(real_video, name)
    out = tmp_path / "g"
    cmd = [sys.executable, "-m", "videossr.cli", "generate", "--task", "object_counting", "--quiet"]
    cmd += [f"--video={os.fsencode(name).decode('utf-8', 'surrogateescape')}", "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, timeout=300, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert res.returncode == 0, (res.returncode, res.stderr.decode(errors="replace")[-2000:])
    record = json.loads((out / "sample.json").read_text())
    assert record["answer"] and (out / "clip.mp4").is_file()


def test_a_non_utf8_name_gives_the_ffmpeg_clip(real_video, tmp_path):
    import os
    import shutil

    from videossr.video import utf8_name

    bad = tmp_path / os.fsdecode(b"bad\xff\xfe.mp4")
    shutil.copyfile(real_video, bad)
    assert not utf8_name(bad)
    clip = load_clip(bad, max_pixels=128 * 128)
    same = load_clip(real_video, max_pixels=128 * 128, backend="ffmpeg")
    assert np.array_equal(clip.frames, same.frames) and clip.fps == same.fps
    with pytest.raises(VideoError, match="not UTF-8"):
        load_clip(bad, backend="decord")


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 1:
# reference-following demuxers (hls, concat, ...) are refused before decoding
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
@pytest.mark.parametrize("kind", ["hls", "concat", "hls_file_url"])
@pytest.mark.parametrize("backend", ["auto", "ffmpeg", "decord"])
def test_reference_following_files_are_refused(tmp_path, real_video, kind, backend):
    from videossr.video import load_clip

    path = playlists(tmp_path, real_video)[kind]
    with pytest.raises(VideoError) as info:
        load_clip(path, backend=backend)
    assert info.value.reason == "unsupported_container"


@needs_ffmpeg
def test_ffmpeg_decoding_reads_plain_files_only(real_video):
    from videossr import video

    cmd = video._ffmpeg_input_args(real_video)
    assert "-protocol_whitelist" in cmd and "-format_whitelist" in cmd
    assert cmd[-1] == "file:" + str(Path(real_video).resolve())


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 2:
# a stream without a container duration is measured (bounded), never read as 0 s
# --------------------------------------------------------------------------------------------------
def test_unknown_duration_is_measured(raw_h264):
    from videossr.video import measure_duration, probe

    assert probe(raw_h264)["duration"] == 0.0  # no container duration: the probe alone says nothing
    assert measure_duration(raw_h264, limit_s=600) == pytest.approx(12.0, abs=0.5)
    assert measure_duration(raw_h264, limit_s=5) > 5  # stops counting past the limit


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 3:
# the ffmpeg fallback keeps only the frames it samples: peak memory does not grow with duration
# --------------------------------------------------------------------------------------------------
_PEAK = """
import resource, sys
from videossr.video import load_clip
clip = load_clip(sys.argv[1], max_pixels=256 * 256)
assert clip.frames.shape[0] == 48, clip.frames.shape
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _peak_mb(path: Path) -> float:
    res = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    return float(res.stdout.strip().splitlines()[-1])


@needs_ffmpeg
def test_ffmpeg_fallback_memory_does_not_depend_on_duration(tmp_path):
    peaks = {}
    for seconds in (10, 40):
        plain = tmp_path / f"plain{seconds}.mp4"
        rotated = tmp_path / f"rotated{seconds}.mp4"
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate=30:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(plain),
        )
        ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
        peaks[seconds] = _peak_mb(rotated)
    # Before the fix: every decoded frame was held (about +270 MB from 10 s to 40 s at 320x240).
    assert peaks[40] - peaks[10] < 40, peaks


@needs_ffmpeg
def test_ffmpeg_fallback_picks_the_same_frames(synthetic_videos):
    from videossr.video import load_clip, sample_indices

    clip = load_clip(synthetic_videos["rotated.mp4"], max_pixels=None, min_pixels=None, backend="ffmpeg")
    assert clip.frames.shape == (48, 320, 240, 3) and clip.num_source_frames == 100
    assert clip.frame_indices.tolist() == sample_indices(100).tolist()
    vfr = load_clip(synthetic_videos["vfr.mp4"], max_pixels=None, backend="ffmpeg")
    assert vfr.frames.shape[0] == 48


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 4:
# write_mp4 verifies what was written and leaves no partial files
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
@pytest.mark.parametrize(("code", "message"), [(0, "error writing trailer"), (1, "No space left on device")])
def test_write_mp4_never_keeps_a_truncated_file(tmp_path, monkeypatch, code, message):
    from videossr import video

    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    good = video.write_mp4(frames, 6.0, tmp_path / "good.mp4")
    monkeypatch.setattr(
        video, "_ffmpeg", lambda: str(fake_ffmpeg(tmp_path, good, good.stat().st_size // 2, code, message))
    )
    out = tmp_path / "out"
    with pytest.raises(OSError) as info:
        video.write_mp4(frames, 6.0, out / "clip_4.mp4")
    assert "clip_4.mp4" in str(info.value.filename)
    assert list(out.iterdir()) == []  # neither the clip nor its .part file


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 13 (smaller points)
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
@pytest.mark.parametrize("size", ["2x2", "4000x16"])
def test_absurd_frame_sizes_are_refused(tmp_path, size):
    from videossr.video import load_clip

    path = tmp_path / f"{size}.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=red:size={size}:rate=25:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
        str(path),
    )
    with pytest.raises(VideoError) as info:
        load_clip(path)
    assert info.value.reason == "bad_size" and "px" in info.value.detail
