"""Every video candidate of a folder is either usable or listed with a reason; none is ever opened."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from videossr.errors import VideoError
from videossr.video import file_problem, list_videos, load_clip, load_clip_isolated, scan_videos


@pytest.fixture
def messy_folder(tmp_path, real_videos) -> Path:
    """Two real videos plus every kind of entry that only looks like a video."""
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    small = sorted(real_videos, key=lambda p: p.stat().st_size)
    shutil.copy(small[1], folder / "good.mp4")
    (folder / "sub" / "linked.mp4").symlink_to(small[2])  # a link to a real file is a real video
    (folder / "dangling.mp4").symlink_to(folder / "nowhere.mp4")
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    os.mkfifo(folder / "fifo.mp4")
    (folder / "zero.mp4").symlink_to("/dev/zero")
    (folder / "dir.mp4").mkdir()
    (folder / "empty.webm").write_bytes(b"")
    (folder / "notes.txt").write_text("not a candidate")
    return folder


EXPECTED = {
    "dangling.mp4": "dangling_symlink",
    "loop.mp4": "symlink_loop",
    "fifo.mp4": "special_file",
    "zero.mp4": "special_file",
    "dir.mp4": "not_a_file",
    "empty.webm": "empty",
}


def test_scan_lists_every_candidate_with_a_reason(messy_folder):
    usable, rejected = scan_videos(messy_folder)
    assert [p.relative_to(messy_folder).as_posix() for p in usable] == ["good.mp4", "sub/linked.mp4"]
    assert {p.name: reason for p, (reason, _) in rejected.items()} == EXPECTED
    assert all(detail for _, detail in rejected.values())
    assert str(messy_folder) not in json.dumps([d for _, d in rejected.values()])  # no local paths
    assert list_videos(messy_folder) == usable


def test_a_fifo_or_device_is_never_opened(messy_folder):
    """Opening a FIFO for reading blocks until a writer comes: run the checks in a thread with a deadline."""
    results = {}

    def work():
        results["problems"] = {n: file_problem(messy_folder / n) for n in ("fifo.mp4", "zero.mp4")}
        for name in ("fifo.mp4", "zero.mp4"):
            for loader in (load_clip, load_clip_isolated):
                try:
                    loader(messy_folder / name)
                except VideoError as err:
                    results[(name, loader.__name__)] = err.reason

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "a FIFO or device was opened"
    assert {r for r, _ in results["problems"].values()} == {"special_file"}
    assert {v for k, v in results.items() if k != "problems"} == {"special_file"}


@pytest.mark.parametrize(("name", "reason"), sorted(EXPECTED.items()))
def test_load_clip_names_the_reason(messy_folder, name, reason):
    with pytest.raises(VideoError) as info:
        load_clip(messy_folder / name)
    assert info.value.reason == reason


def test_single_path_roots(messy_folder):
    assert scan_videos(messy_folder / "good.mp4") == ([messy_folder / "good.mp4"], {})
    usable, rejected = scan_videos(messy_folder / "fifo.mp4")
    assert usable == [] and rejected[messy_folder / "fifo.mp4"][0] == "special_file"
    with pytest.raises(FileNotFoundError):
        scan_videos(messy_folder / "absent")


def test_unlistable_subfolder_is_reported(messy_folder):
    if os.geteuid() == 0:
        pytest.skip("root reads every folder")
    locked = messy_folder / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        _, rejected = scan_videos(messy_folder)
    finally:
        locked.chmod(0o755)
    assert rejected[locked][0] == "unreadable_folder"


def test_num_frames_below_one_is_a_value_error(real_video):
    with pytest.raises(ValueError, match="num_frames"):
        load_clip(real_video, num_frames=0)


def test_build_report_lists_rejected_candidates(messy_folder, tmp_path):
    """A real (tiny) build over the folder: the bad entries are in build_report.json with their reasons."""
    from videossr.data.build import build_dataset, videossr30k_recipe

    recipe = videossr30k_recipe(size=2, mix="counting_easy=1")
    result = build_dataset(recipe, messy_folder, tmp_path / "out", progress=False, decode_timeout=60)
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    skipped = {s["id"]: s["reason"] for s in report["skipped"]}
    assert skipped == EXPECTED and {k: v["reason"] for k, v in result.skipped.items()} == EXPECTED
    assert {s["id"] for s in report["sources"]} == {"good.mp4", "sub/linked.mp4"}
    assert report["videos"]["skipped"] == len(EXPECTED)


def test_build_with_only_bad_candidates_says_why(messy_folder, tmp_path):
    from videossr.data.build import build_dataset, videossr30k_recipe

    (messy_folder / "good.mp4").unlink()
    (messy_folder / "sub" / "linked.mp4").unlink()
    with pytest.raises(ValueError, match=r"no usable video file .*6 candidates rejected"):
        build_dataset(videossr30k_recipe(size=1), messy_folder, tmp_path / "out", progress=False)
