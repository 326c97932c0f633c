"""Synthetic source videos for the learning bed: deterministic, cached, distinct, decodable."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import cv2
import numpy as np
import pytest

from videossr.synthetic import (
    LAVFI_SOURCES,
    _read_all_frames,
    available_families,
    contact_sheet,
    file_frames,
    find_photos,
    make_videos,
)
from videossr.synthetic_families import make_fractal
from videossr.video import _ffmpeg, load_clip

# About 30 s alone on 2 cores (0.33 CPU-s a video); the long timeout is for a machine shared with others.
pytestmark = [
    pytest.mark.skipif(_ffmpeg() is None, reason="needs the ffmpeg binary"),
    pytest.mark.timeout(1800),
]

COUNT = 60  # the near-duplicate check's size; the other tests reuse this set or a prefix of it


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    return folder, make_videos(folder, COUNT, seed=0, progress=False)


def test_file_frames_leave_room_for_the_sampling_span():
    assert file_frames(48) == 53
    assert all(file_frames(n) >= n for n in (1, 8, 16, 32, 48, 64))


def test_same_seed_same_files_and_a_prefix_of_larger_sets(made, tmp_path):
    folder, videos = made
    again = make_videos(tmp_path / "again", 6, seed=0, progress=False)
    assert [(v.name, v.family, v.group, v.seed) for v in again] == [
        (v.name, v.family, v.group, v.seed) for v in videos[:6]
    ]
    assert [_sha(v.path) for v in again] == [_sha(v.path) for v in videos[:6]]


@pytest.mark.parametrize("source", LAVFI_SOURCES)
def test_every_lavfi_source_is_the_same_twice(source):
    """ffmpeg's own random defaults (the gradients source's colours and line) ignore its `seed`: every
    parameter must come from the video's seed, or two makes of one video differ (8 of 160 did)."""
    first, second = (make_fractal(1234, source, 48, 48, 12, 10.0) for _ in range(2))
    assert np.array_equal(first, second)


def test_other_seed_other_videos(made, tmp_path):
    _, videos = made
    other = make_videos(tmp_path / "other", 4, seed=1, progress=False)
    assert [v.name for v in other] == [v.name for v in videos[:4]]  # names follow family and index
    assert all(a.seed != b.seed for a, b in zip(other, videos))
    assert all(_sha(a.path) != _sha(b.path) for a, b in zip(other, videos))


def test_every_family_in_the_first_eight(made):
    _, videos = made
    assert {v.family for v in videos[:8]} == set(available_families())
    assert {"shapes", "blobs", "fractal"} <= set(available_families())


def test_decodes_to_48_frames_at_10_fps(made):
    _, videos = made
    for video in videos[:8]:
        clip = load_clip(video.path, num_frames=48, max_pixels=64 * 64)
        assert clip.frames.shape[0] == 48, video.name
        assert clip.num_source_frames == file_frames(48)
        assert clip.source_fps == pytest.approx(10.0)
        assert clip.duration == pytest.approx(file_frames(48) / 10.0)


def test_every_video_moves(made):
    _, videos = made
    for video in videos[:8]:
        frames = _read_all_frames(video.path).astype(np.float32)
        assert frames.shape == (file_frames(48), 96, 96, 3)
        assert np.abs(frames[-1] - frames[0]).mean() > 3.0, video.name


def test_second_call_rewrites_nothing(made):
    folder, videos = made
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = make_videos(folder, COUNT, seed=0, progress=False)
    assert again == videos
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix == ".mp4"}
    assert after == {k: v for k, v in before.items() if k.endswith(".mp4")}


def test_changed_parameters_remake_the_files(tmp_path):
    first = make_videos(tmp_path, 1, seed=0, num_frames=8, progress=False)
    sha = _sha(first[0].path)
    second = make_videos(tmp_path, 1, seed=0, num_frames=8, fps=12.0, progress=False)
    assert second[0].path == first[0].path and _sha(second[0].path) != sha
    assert load_clip(second[0].path, num_frames=8).source_fps == pytest.approx(12.0)


def test_pan_groups_follow_the_photograph(made):
    _, videos = made
    photos = find_photos()
    if not photos:
        pytest.skip("no photograph in the installed packages")
    pans = [v for v in videos if v.family == "pan"]
    by_group = defaultdict(list)
    for video in pans:
        by_group[video.group].append(video)
    assert set(by_group) <= {p.name for p in photos} | {f"{p.parent.name}/{p.name}" for p in photos}
    assert len(by_group) == min(len(photos), len(pans))
    if len(pans) > len(photos):
        assert max(len(g) for g in by_group.values()) >= 2  # several views of one picture share it
    for video in videos:
        if video.family != "pan":
            assert video.group == video.name


def test_no_two_first_frames_nearly_identical(made):
    _, videos = made
    thumbs = np.stack(
        [
            cv2.resize(_read_all_frames(v.path)[0], (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
            for v in videos
        ]
    )
    diff = np.abs(thumbs[:, None] - thumbs[None]).mean(axis=(2, 3, 4))
    np.fill_diagonal(diff, np.inf)
    i, j = np.unravel_index(np.argmin(diff), diff.shape)
    assert diff[i, j] > 6.0, (videos[i].name, videos[j].name, float(diff[i, j]))


def test_contact_sheet(made, tmp_path):
    from PIL import Image

    _, videos = made
    path = contact_sheet(videos, tmp_path / "sheet.png", per_row=4, max_videos=8)
    with Image.open(path) as img:
        assert img.width > 4 * 3 * 96 and img.height > 2 * 96


def test_two_beds_sharing_the_cache_at_once(made):
    # Two tasks' beds started together read and rewrite the same cached set's manifest: each writer has its
    # own temporary file, so neither renames the other's away (a FileNotFoundError on the second bed).
    from concurrent.futures import ThreadPoolExecutor

    folder, videos = made

    def again(_):
        return make_videos(folder, COUNT, seed=0, progress=False)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(again, range(24)))
    assert all(r == videos for r in results)
    assert not list(folder.glob("*.tmp"))
