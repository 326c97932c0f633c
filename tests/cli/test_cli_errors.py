"""The CLI refuses bad arguments at parse time and reports run-time failures in one line, no traceback."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from _video_files import fake_ffmpeg, needs_ffmpeg, playlists

from videossr.cli import build_parser, float_in, int_in, main, max_pixels_int


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videossr.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def generate_args(real_video) -> list[str]:
    return ["generate", "--task", "object_counting", "--video", str(real_video), "--quiet"]


def build_args(tmp_path, real_video) -> list[str]:
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    link = videos / "v.mp4"
    if not link.exists():
        link.symlink_to(real_video)
    return ["build", "videossr-30k", "--videos", str(videos), "--size", "1", "--quiet"]


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``videossr ARGV`` in this process: its exit code, stdout and stderr."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--num-frames", "0", "at least 1"),
        ("--num-frames", "-5", "at least 1"),
        ("--num-frames", "abc", "not a whole number"),
        ("--max-pixels", "-1", "at least 0"),
        ("--max-pixels", "100", "0 (full size) or at least 16384"),
        ("--clips", "0", "between 2 and 9"),
        ("--clips", "10", "between 2 and 9"),
        ("--seed", "-1", "between 0 and"),
        ("--seed", "1.5", "not a whole number"),
    ],
)
def test_generate_refuses_bad_numbers_at_parse_time(generate_args, tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*generate_args, "--out", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--decode-timeout", "-5", "at least 0"),
        ("--decode-timeout", "nan", "finite"),
        ("--decode-timeout", "inf", "finite"),
        ("--quality", "500", "between 1 and 100"),
        ("--quality", "0", "between 1 and 100"),
        ("--num-proc", "0", "at least 1"),
        ("--num-shards", "0", "at least 1"),
        ("--shard-index", "-1", "at least 0"),
        ("--size", "-3", "at least 1"),
        ("--seed", "x", "not a whole number"),
    ],
)
def test_build_refuses_bad_numbers_at_parse_time(tmp_path, real_video, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*build_args(tmp_path, real_video), "--out", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["build", "viubench", "--videos", "default", "--out", "x", "--per-subtype", "0"],
        ["space", "--port", "99999"],
        ["space", "--port", "0"],
        ["bench", "--data", "x", "--model", "random", "--limit", "0"],
        ["bench", "--data", "x", "--model", "random", "--max-new-tokens", "-1"],
    ],
)
def test_other_numeric_options_are_validated(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and "argument --" in capsys.readouterr().err


def test_every_numeric_option_has_a_validator():
    """No sub-command option takes a bare int/float: each one states its valid range."""
    parser = build_parser()
    bare = []
    for sub_action in parser._subparsers._group_actions:  # noqa: SLF001 - walking argparse's tree
        todo = list(sub_action.choices.items())
        while todo:
            name, sub = todo.pop()
            for action in sub._actions:  # noqa: SLF001
                if action.type in (int, float):
                    bare.append(f"{name} {action.option_strings}")
                if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                    todo += [(f"{name} {k}", v) for k, v in action.choices.items()]
    assert not bare, bare


@pytest.mark.parametrize(
    ("out", "message"),
    [("/etc/passwd", "exists and is not a folder"), ("/etc/passwd/sub", "not a directory")],
)
def test_generate_into_an_impossible_folder_is_one_line(generate_args, out, message):
    res = run_cli(*generate_args, "--out", out)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in res.stderr


def test_build_into_a_file_is_one_line(tmp_path, real_video):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    res = run_cli(*build_args(tmp_path, real_video), "--out", str(target))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1] == f"error: --out {target} exists and is not a folder"
    assert target.read_text() == "keep me"


def test_os_errors_are_one_line(capsys, tmp_path):
    # A failure the options cannot foresee (here a folder that cannot be created) is one line too.
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = main(
        [
            "generate",
            "--task",
            "object_counting",
            "--video",
            str(blocker / "v.mp4"),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert res == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1


def test_validators_directly():
    assert int_in(1, 3)("2") == 2 and float_in(0.0)("0.5") == 0.5 and max_pixels_int("0") == 0
    for bad in ("4", "x", "1.0"):
        with pytest.raises(argparse.ArgumentTypeError):
            int_in(1, 3)(bad)
    for bad in ("-0.1", "nan", "-inf", "1e400", "y"):
        with pytest.raises(argparse.ArgumentTypeError):
            float_in(0.0)(bad)


def test_import_errors_are_not_swallowed(monkeypatch):
    """A command module that fails to import makes the CLI fail loudly, not lose its commands."""
    import videossr.cli as cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "videossr.no_such_module"))
    with pytest.raises(ModuleNotFoundError, match="videossr.no_such_module"):
        cli.build_parser()


def test_an_option_of_another_task_is_one_line(generate_args, tmp_path, capsys):
    rc = main([*generate_args, "--out", str(tmp_path / "o"), "--perturbation", "mirror"])
    err = capsys.readouterr().err.strip()
    assert (
        rc == 1 and err == "error: --perturbation does not apply to object_counting (it takes --difficulty)"
    )


def test_generate_flags_come_from_the_tasks_options(monkeypatch):
    """A task's options become `generate` flags, with their choices, without touching the CLI."""
    from videossr.tasks import TASKS, ObjectCounting

    class Toy(ObjectCounting):
        name = "toy_counting"
        short = "toy"
        options = {"speed": (("slow", "fast"), "how fast the shapes blink"), "blinks": ((1, 2, 3), "blinks")}

    monkeypatch.setitem(TASKS, Toy.name, Toy)
    parser = build_parser()
    args = parser.parse_args(
        [
            "generate",
            "--task",
            "toy_counting",
            "--video",
            "v",
            "--out",
            "o",
            "--speed",
            "fast",
            "--blinks",
            "2",
        ]
    )
    assert (args.speed, args.blinks) == ("fast", 2)
    for bad in (["--speed", "warp"], ["--blinks", "4"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["generate", "--task", "toy_counting", "--video", "v", "--out", "o", *bad])


def test_regenerating_into_a_sample_folder_on_a_full_disk_keeps_the_old_sample(
    real_video, tmp_path, monkeypatch, capsys
):
    """A jigsaw regenerated into a folder holding a sample, with the disk filling at its last clip, left
    new clip_1..3.mp4 beside the old sample.json, whose answer no longer matched them."""
    import errno
    import json

    import videossr.export

    out = tmp_path / "g"
    args = ["generate", "--task", "jigsaw", "--video", str(real_video), "--out", str(out), "--quiet"]
    args += ["--max-pixels", "16384"]
    assert main([*args, "--seed", "1"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    clips = json.loads((out / "sample.json").read_text())["videos"]
    assert len(clips) >= 2 and set(clips) <= set(before)

    real_write = videossr.export.write_mp4
    calls = []

    def full_disk_at_last_clip(frames, fps, path, *a, **kw):
        calls.append(path)
        if len(calls) == len(clips):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(frames, fps, path, *a, **kw)

    monkeypatch.setattr(videossr.export, "write_mp4", full_disk_at_last_clip)
    assert main([*args, "--seed", "2"]) == 1
    assert "no space left on device" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == before  # the old sample, whole
    monkeypatch.setattr(videossr.export, "write_mp4", real_write)
    assert main([*args, "--seed", "2"]) == 0
    capsys.readouterr()
    record = json.loads((out / "sample.json").read_text())
    assert record["seed"] == 2 and sorted(p.name for p in out.iterdir()) == sorted(
        [*record["videos"], "sample.json"]
    )


def test_sigterm_ends_a_command_with_one_error_line(real_video, tmp_path, monkeypatch, capsys):
    """SIGTERM used to end the process at once (no finally blocks: a local Ray cluster's agents were left
    running) with no error line, or with Ray's stack dump. Now every finally runs and one line says why."""
    import os
    import signal
    import time

    import videossr

    class OldBehaviour(RuntimeError):
        pass

    def outside_handler(signum, frame):  # stands in for the default action, without killing pytest
        raise OldBehaviour("SIGTERM reached the handler that was installed before main()")

    cleaned = []

    def terminated_while_decoding(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler interrupts this at once
        finally:
            cleaned.append(True)
        raise AssertionError("SIGTERM did not stop the command")

    monkeypatch.setattr(videossr, "load_clip", terminated_while_decoding)
    previous = signal.signal(signal.SIGTERM, outside_handler)
    try:
        code = main(
            [
                "generate",
                "--task",
                "jigsaw",
                "--video",
                str(real_video),
                "--out",
                str(tmp_path / "g"),
                "--quiet",
            ]
        )
        assert signal.getsignal(signal.SIGTERM) is outside_handler  # main() puts the caller's handler back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 143 and cleaned == [True]
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("error:")] == [
        "error: terminated (SIGTERM); a build re-run with the same command resumes"
    ], err


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 1:
# reference-following demuxers (hls, concat, ...) are refused before decoding
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
def test_cli_refuses_a_playlist(tmp_path, real_video, capsys):
    path = playlists(tmp_path, real_video)["hls"]
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


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 4:
# write_mp4 verifies what was written and leaves no partial files
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
def test_generate_fails_in_one_line_when_the_clip_is_truncated(tmp_path, monkeypatch, real_video, capsys):
    from videossr import video

    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    good = video.write_mp4(frames, 6.0, tmp_path / "good.mp4")
    fake = str(fake_ffmpeg(tmp_path, good, good.stat().st_size - 100, 0, ""))
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
# Issue 19 (Reliability II), item 6:
# a lone surrogate never breaks the lenient parsers
# --------------------------------------------------------------------------------------------------
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
# Issue 19 (Reliability II), item 8:
# impossible sizes are refused by the parser, before anything is planned or written
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
# Issue 19 (Reliability II), item 13 (smaller points)
# --------------------------------------------------------------------------------------------------
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
