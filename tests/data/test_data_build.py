"""The dataset builders: layout, schema, determinism, bad videos, resume, shards, provenance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _data_helpers import have_ffmpeg, make_folder, make_video, same_tree, snapshot

from videossr.data import (
    BuildError,
    build_dataset,
    merge,
    regenerate_row,
    row_features,
    videossr30k_recipe,
    viubench_recipe,
)
from videossr.data.plan import VIUBENCH_SUBTYPES, split_counts

pytestmark = pytest.mark.skipif(not have_ffmpeg(), reason="needs the ffmpeg binary to make test videos")

SMALL = 128 * 128  # small frames keep the synthetic builds fast; the engine does not care


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """12 good synthetic videos, and 5 bad files (empty, garbage, too short, truncated, not a video)."""
    return make_folder(tmp_path_factory.mktemp("videos"), 12, bad=True)


@pytest.fixture(scope="module")
def good_videos(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("good"), 6)


def _load(folder: Path, config: str | None, split: str, cache: Path):
    from datasets import load_dataset

    return load_dataset(str(folder), config, split=split, cache_dir=str(cache))


def _parquet_rows(folder: Path, name: str) -> list[dict]:
    """Rows of a data folder (``data/<name>/``) read straight from its Parquet files."""
    rows = []
    for f in sorted((folder / "data" / name).glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def _config_rows(folder: Path, config: str) -> list[dict]:
    """Rows of a config, from the files the build report gives it, in order (no ``datasets``)."""
    report = json.loads((folder / "build_report.json").read_text())
    rows = []
    for f in report["configs"][config]["files"]:
        rows += pq.read_table(folder / f).to_pylist()
    return rows


def _stored(folder: Path) -> tuple[int, int, int]:
    """(Parquet files, rows, bytes) under ``data/``: what the repo stores, however configs view it."""
    files = sorted((folder / "data").rglob("*.parquet"))
    return len(files), sum(pq.read_metadata(f).num_rows for f in files), sum(f.stat().st_size for f in files)


# --------------------------------------------------------------------------------------------------
# VIUBench from the real sample videos
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def viubench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("repo") / "viubench"
    # --videos default: the real sample videos of installed packages (8 clips, so they are reused)
    result = build_dataset(viubench_recipe(per_subtype=2, seed=3), "default", out, progress=False)
    assert result.complete and result.rows == 18
    return out


def test_viubench_repo_layout_and_load(viubench, tmp_path):
    from videossr.rows import row_to_sample
    from videossr.video import BENCH_MAX_PIXELS

    assert sorted(p.name for p in viubench.iterdir()) == [
        "README.md",
        "build_report.json",
        "data",
        "preview.jpg",
    ]
    assert sorted(p.name for p in (viubench / "data").iterdir()) == sorted(VIUBENCH_SUBTYPES)
    card = (viubench / "README.md").read_text()
    for sub in VIUBENCH_SUBTYPES:
        assert f"config_name: {sub}" in card and f"path: data/{sub}/test-*.parquet" in card
        ds = _load(viubench, sub, "test", tmp_path)
        assert ds.num_rows == 2
        assert ds.features == row_features()
        row = ds[0]
        assert row["subtype"] == sub and row["id"] == f"{sub}-000000"
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        sample = row_to_sample(row)
        for clip in sample.videos:
            assert clip.shape[1] * clip.shape[2] <= BENCH_MAX_PIXELS
        assert sample.prompt.count("<video>") == len(sample.videos)
        n_clips = {"jigsaw_easy": 6, "jigsaw_hard": 8}.get(sub, 1)
        assert len(row["videos"]) == n_clips
    report = json.loads((viubench / "build_report.json").read_text())
    assert report["recipe"]["seed"] == 3 and report["generator_version"]
    assert report["videos"]["used"] == 8 and report["skipped"] == []
    assert (
        "fewer usable videos than questions" in card
    )  # the 8 sample videos are reused, and the card says so
    # `default` reads every subtype folder, in config order, without a copy of any row
    everything = _load(viubench, None, "test", tmp_path)
    assert everything["id"] == [f"{sub}-{i:06d}" for sub in VIUBENCH_SUBTYPES for i in range(2)]
    assert _stored(viubench)[:2] == (9, 18)
    assert report["configs"]["default"]["rows"] == 18
    assert sorted(report["files"]) == sorted(
        f for s in VIUBENCH_SUBTYPES for f in report["configs"][s]["files"]
    )


def test_viubench_benchmark_loads_each_item_once(viubench):
    from videossr.evaluation.data import load_benchmark

    bench = load_benchmark(viubench)
    assert bench.info["configs"] == list(VIUBENCH_SUBTYPES)  # not `default` on top of them
    assert bench.info["num_items"] == 18 and len({it.id for it in bench.items}) == 18
    assert {it.config for it in bench.items} == set(VIUBENCH_SUBTYPES)
    assert load_benchmark(viubench, configs=["default"]).info["num_items"] == 18


def test_viubench_uses_distinct_videos_when_possible(videos, tmp_path):
    out = tmp_path / "vb"
    build_dataset(viubench_recipe(per_subtype=1, max_pixels=SMALL), videos, out, progress=False)
    sources = [r["source"] for sub in VIUBENCH_SUBTYPES for r in _parquet_rows(out, sub)]
    assert len(sources) == 9 and len(set(sources)) == 9  # 12 good videos for 9 questions: all distinct
    card = (out / "README.md").read_text()
    assert "Every question comes from a different source video." in card


# --------------------------------------------------------------------------------------------------
# VideoSSR-30K
# --------------------------------------------------------------------------------------------------
def test_30k_mix_configs_and_shuffle(good_videos, tmp_path):
    out = tmp_path / "t"
    build_dataset(videossr30k_recipe(size=20, seed=1, max_pixels=SMALL), good_videos, out, progress=False)
    # every row is stored once, in its task's folder; `default` is a view over the three folders
    assert sorted(p.name for p in (out / "data").iterdir()) == ["counting", "grounding", "jigsaw"]
    assert _stored(out)[:2] == (3, 20)
    rows = _config_rows(out, "default")
    assert len({r["id"] for r in rows}) == 20
    want = split_counts(
        20,
        {
            "grounding_channel_swap": 0.1,
            "grounding_rotate180": 0.1,
            "grounding_zoom_out": 0.1,
            "grounding_mirror": 0.1,
            "jigsaw_easy": 0.4,
            "counting_easy": 0.2,
        },
    )
    assert Counter(r["subtype"] for r in rows) == want
    # within a task the rows are in the shuffled mix order, the same whatever config reads them
    mixed = [r["id"] for r in _config_rows(_no_task_configs_twin(good_videos, tmp_path, 20, 1), "default")]
    assert [r["id"] for r in rows] == [
        i for task in ("grounding", "jigsaw", "counting") for i in mixed if i.startswith(task)
    ]
    assert mixed != sorted(mixed, key=lambda i: i.split("_")[0])  # the mix itself is shuffled
    cache = tmp_path / "cache"
    ds = _load(out, None, "train", cache)  # load_dataset(REPO_DIR): the default config
    assert ds.num_rows == 20 and ds.features == row_features()
    assert ds["id"] == [r["id"] for r in rows]
    from datasets import load_dataset

    streamed = load_dataset(str(out), split="train", streaming=True)
    assert [r["id"] for r in streamed] == ds["id"]
    for task, n in (("grounding", 8), ("jigsaw", 8), ("counting", 4)):
        sub = _load(out, task, "train", cache)
        assert sub.num_rows == n and {s.split("_")[0] for s in sub["subtype"]} == {task}
        assert sub["id"] == [r["id"] for r in _parquet_rows(out, task)]
        assert sub["id"] == [r["id"] for r in rows if r["subtype"].startswith(task)]
    card = (out / "README.md").read_text()
    assert "default: true" in card and "config_name: grounding" in card
    assert "path: data/grounding/train-*.parquet" in card


def _no_task_configs_twin(videos: Path, tmp_path: Path, size: int, seed: int) -> Path:
    out = tmp_path / f"single-{size}-{seed}"
    recipe = videossr30k_recipe(size=size, seed=seed, max_pixels=SMALL, task_configs=False)
    build_dataset(recipe, videos, out, progress=False)
    return out


def test_30k_stores_each_row_once(good_videos, tmp_path):
    # The same rows with and without per-task configs: the task configs cost no extra rows or bytes
    # (the earlier layout wrote every row a second time for them, doubling the folder).
    out = tmp_path / "tasks"
    build_dataset(videossr30k_recipe(size=24, seed=7, max_pixels=SMALL), good_videos, out, progress=False)
    single = _no_task_configs_twin(good_videos, tmp_path, 24, 7)
    n_files, n_rows, n_bytes = _stored(out)
    _, single_rows, single_bytes = _stored(single)
    assert n_rows == single_rows == 24
    # The earlier layout stored about 2x; what is left is Parquet's per-file overhead and its dictionary
    # encoding, which finds repeated frames (one video's untouched frames) within a row group, so the
    # grouping of rows changes the bytes a little.
    assert n_bytes < 1.25 * single_bytes
    report = json.loads((out / "build_report.json").read_text())
    assert len(report["files"]) == len(set(report["files"])) == n_files
    assert report["configs"]["default"]["download_size"] == n_bytes
    assert sum(report["configs"][t]["download_size"] for t in ("grounding", "jigsaw", "counting")) == n_bytes
    assert sorted(r["id"] for r in _config_rows(out, "default")) == sorted(
        r["id"] for r in _config_rows(single, "default")
    )


def test_older_layout_is_rebuilt_not_reused(good_videos, tmp_path):
    recipe = videossr30k_recipe(size=4, seed=1, max_pixels=SMALL)
    out = tmp_path / "old"
    build_dataset(recipe, good_videos, out, progress=False)
    report_file = out / "build_report.json"
    report = json.loads(report_file.read_text())
    del report["files"]  # what a build of the duplicated layout wrote
    report_file.write_text(json.dumps(report))
    with pytest.raises(BuildError, match="older layout"):
        build_dataset(recipe, good_videos, out, progress=False)
    assert build_dataset(recipe, good_videos, out, progress=False, overwrite=True).rows == 4
    assert "files" in json.loads(report_file.read_text())


def test_custom_mix_with_swap_picks_partner_deterministically(good_videos, tmp_path):
    recipe = videossr30k_recipe(
        size=4, mix="grounding_swap=1,jigsaw_hard=1", max_pixels=SMALL, task_configs=False
    )
    a, b = tmp_path / "a", tmp_path / "b"
    build_dataset(recipe, good_videos, a, progress=False)
    build_dataset(recipe, good_videos, b, progress=False)
    assert same_tree(a, b) == []
    rows = _parquet_rows(a, "default")
    assert Counter(r["subtype"] for r in rows) == {"grounding_swap": 2, "jigsaw_hard": 2}
    assert sorted(p.name for p in (a / "data").iterdir()) == ["default"]
    for r in rows:
        if r["subtype"] == "grounding_swap":
            other = json.loads(r["params"])["other_source"]
            assert other != r["source"] and not other.startswith("/")  # an id, not a local path


def test_mix_errors():
    with pytest.raises(ValueError, match="grounding_wobble"):
        videossr30k_recipe(size=10, mix="grounding_wobble=1")
    with pytest.raises(ValueError, match="positive"):
        videossr30k_recipe(size=10, mix="jigsaw_easy=0")
    with pytest.raises(ValueError, match="positive"):
        videossr30k_recipe(size=10, mix="jigsaw_easy=-1,counting_easy=1")
    assert videossr30k_recipe(size=10, mix={"jigsaw_easy": 1.0, "counting_easy": 0.0}).counts == {
        "jigsaw_easy": 10
    }
    with pytest.raises(ValueError, match="subtype=fraction"):
        videossr30k_recipe(size=10, mix="jigsaw_easy")


# --------------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------------
def test_bad_videos_are_skipped_with_reasons_and_source_is_untouched(videos, tmp_path):
    before = snapshot(videos)
    out = tmp_path / "bad"
    # 24 rows > 12 good videos: every video is tried, the bad ones fail and are reported
    result = build_dataset(videossr30k_recipe(size=24, max_pixels=SMALL), videos, out, progress=False)
    assert result.rows == 24
    report = json.loads((out / "build_report.json").read_text())
    reasons = {s["id"]: s["reason"] for s in report["skipped"]}
    assert reasons["empty.mp4"] == "empty"
    assert reasons["short.mp4"] == "too_short"
    assert {"garbage.mp4", "truncated.mp4", "notes.txt"} - set(reasons) == {
        "notes.txt"
    }  # .txt is not a video
    for s in report["skipped"]:
        assert s["detail"] and str(videos) not in s["detail"]  # no local paths in the report
    assert set(r["source"] for r in _config_rows(out, "default")).isdisjoint(reasons)
    assert snapshot(videos) == before  # never writes into the source folder


def test_folder_errors(tmp_path, videos):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_dataset(viubench_recipe(1), tmp_path / "missing", tmp_path / "o1", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no video files"):
        build_dataset(viubench_recipe(1), tmp_path / "empty", tmp_path / "o2", progress=False)
    only_bad = tmp_path / "onlybad"
    only_bad.mkdir()
    (only_bad / "x.mp4").write_bytes(b"")
    (only_bad / "y.mp4").write_bytes(os.urandom(1000))
    # the empty file is rejected when the folder is listed, the garbage one when it is decoded
    with pytest.raises(BuildError, match="no usable video left: 1 of 1 videos failed"):
        build_dataset(viubench_recipe(1), only_bad, tmp_path / "o3", progress=False)
    with pytest.raises(ValueError, match="source video folder"):
        build_dataset(viubench_recipe(1), videos, videos / "out", progress=False)
    assert not (videos / "out").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something.txt").write_text("mine")
    with pytest.raises(BuildError, match="not empty"):
        build_dataset(viubench_recipe(1), videos, busy, progress=False)


def test_cli_errors_are_clear(tmp_path):
    from videossr.cli import main

    assert main(["build", "viubench", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert (
        main(
            [
                "build",
                "videossr-30k",
                "--videos",
                "default",
                "--out",
                str(tmp_path / "o"),
                "--num-shards",
                "2",
                "--shard-index",
                "2",
            ]
        )
        == 1
    )


def test_byte_identical_whatever_num_proc(videos, tmp_path):
    recipe = videossr30k_recipe(size=14, seed=5, max_pixels=SMALL)
    one, two = tmp_path / "p1", tmp_path / "p2"
    r1 = build_dataset(recipe, videos, one, num_proc=1, progress=False)
    r2 = build_dataset(recipe, videos, two, num_proc=2, progress=False)
    assert r1.rows == r2.rows == 14
    assert same_tree(one, two) == []
    meta = pq.read_metadata(next((one / "data").rglob("*.parquet")))
    assert set(meta.metadata) == {b"huggingface", b"ARROW:schema"}  # no timestamps or host names


def test_decodes_each_video_once_per_job(good_videos, tmp_path):
    # 6 videos, 30 rows: each video serves 5 questions but is decoded once
    result = build_dataset(
        videossr30k_recipe(size=30, max_pixels=SMALL), good_videos, tmp_path / "o", progress=False
    )
    assert result.rows == 30 and result.videos_decoded == 6


def test_resume_after_simulated_crash_is_byte_identical(videos, tmp_path, monkeypatch):
    import videossr.data.jobs as engine

    recipe = videossr30k_recipe(size=20, seed=2, max_pixels=SMALL)
    clean = tmp_path / "clean"
    build_dataset(recipe, videos, clean, progress=False)

    crashed = tmp_path / "crashed"
    real = engine.run_job
    calls = {"n": 0}

    def dying(job, recipe_d, jobs_dir, decode_timeout=None, schema=None):
        calls["n"] += 1
        if calls["n"] == 2:
            # die half-way through writing: a partial temporary file is left behind
            Path(jobs_dir, f".{job.name}.parquet.tmp").write_bytes(b"PAR1 half")
            raise KeyboardInterrupt
        return real(job, recipe_d, jobs_dir, decode_timeout, schema)

    monkeypatch.setattr(engine, "run_job", dying)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(recipe, videos, crashed, progress=False)
    assert not (crashed / "data").exists() and (crashed / ".build" / "manifest.json").exists()
    monkeypatch.setattr(engine, "run_job", real)
    with pytest.raises(BuildError, match="other options"):
        build_dataset(videossr30k_recipe(size=21, seed=2, max_pixels=SMALL), videos, crashed, progress=False)
    result = build_dataset(recipe, videos, crashed, progress=False)
    assert result.jobs_reused == 1
    assert same_tree(clean, crashed) == []
    # a finished build re-run is a no-op
    again = build_dataset(recipe, videos, crashed, progress=False)
    assert again.complete and again.jobs_run == 0 and same_tree(clean, crashed) == []


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_resume_after_killed_process_is_byte_identical(tmp_path, tmp_path_factory):
    src = make_folder(tmp_path_factory.mktemp("kill"), 10)
    args = ["build", "videossr-30k", "--videos", str(src), "--size", "60", "--seed", "4", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    clean = tmp_path / "clean"
    subprocess.run(
        [sys.executable, "-m", "videossr.cli", *args, "--out", str(clean)],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    # killed with two workers (orphaned workers may still finish a job while the re-run redoes it);
    # in-process decoding here, so every process of the build is a direct child we can watch
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "videossr.cli",
            *args,
            "--num-proc",
            "2",
            "--decode-timeout",
            "0",
            "--out",
            str(killed),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs = killed / ".build" / "jobs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(jobs.glob("*.json")) if jobs.exists() else []) < 2:
        time.sleep(0.05)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (killed / "README.md").exists(), "the build finished before it could be killed"
    # the killed build's pool workers notice and exit instead of lingering as orphans
    deadline = time.time() + 15
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    lingering = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in lingering:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not lingering
    subprocess.run(
        [sys.executable, "-m", "videossr.cli", *args, "--num-proc", "2", "--out", str(killed)],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert same_tree(clean, killed) == []


# --------------------------------------------------------------------------------------------------
# Exclusion, sharding, provenance
# --------------------------------------------------------------------------------------------------
def test_exclude_keeps_benchmark_videos_out(good_videos, tmp_path):
    bench = tmp_path / "bench"
    build_dataset(viubench_recipe(per_subtype=1, max_pixels=SMALL), good_videos, bench, progress=False)
    bench_sources = {s["id"] for s in json.loads((bench / "build_report.json").read_text())["sources"]}
    assert len(bench_sources) == 6
    (tmp_path / "keep_out.txt").write_text("# ids or names\nclip_00.mp4\nmore/clip_02.mp4\n")
    train = tmp_path / "train"
    build_dataset(
        videossr30k_recipe(size=8, max_pixels=SMALL),
        good_videos,
        train,
        progress=False,
        exclude=[tmp_path / "keep_out.txt"],
    )
    used = {r["source"] for r in _config_rows(train, "default")}
    assert used and used.isdisjoint({"clip_00.mp4", "more/clip_02.mp4"})
    with pytest.raises(BuildError, match="excluded"):
        build_dataset(
            videossr30k_recipe(size=8, max_pixels=SMALL),
            good_videos,
            tmp_path / "none",
            progress=False,
            exclude=[bench],
        )


def test_sharded_build_and_merge(videos, tmp_path):
    parts = []
    for i in range(2):
        recipe = videossr30k_recipe(size=16, seed=9, max_pixels=SMALL, num_shards=2, shard_index=i)
        result = build_dataset(recipe, videos, tmp_path / f"part{i}", progress=False)
        assert not result.complete and result.rows == 8
        parts.append(tmp_path / f"part{i}")
    with pytest.raises(BuildError, match="needs parts 0..1"):
        merge(parts[:1], tmp_path / "bad", progress=False)
    merged = merge(parts, tmp_path / "merged", progress=False)
    assert merged.rows == 16 and merged.configs["default"] == 16
    rows = _config_rows(tmp_path / "merged", "default")
    assert _stored(tmp_path / "merged")[1] == 16
    by_part = [
        {r["source"] for r in rows if r["id"] in ids}
        for ids in ({k for k in json.loads((p / "part.json").read_text())["index"]} for p in parts)
    ]
    assert by_part[0].isdisjoint(by_part[1])  # the machines never share a video
    again = merge(parts, tmp_path / "merged2", progress=False)
    assert again.rows == 16 and same_tree(tmp_path / "merged", tmp_path / "merged2") == []
    assert "--num-shards 2" in (tmp_path / "merged" / "README.md").read_text()
    assert not (tmp_path / "merged" / ".build").exists()


def test_every_row_regenerates_from_source_seed_and_version(good_videos, tmp_path):
    out = tmp_path / "prov"
    recipe = videossr30k_recipe(
        size=6,
        seed=11,
        max_pixels=SMALL,
        task_configs=False,
        mix="grounding_swap=1,counting_hard=1,jigsaw_easy=1",
    )
    build_dataset(recipe, good_videos, out, progress=False)
    report = json.loads((out / "build_report.json").read_text())
    for row in _parquet_rows(out, "default"):
        again = regenerate_row(row, good_videos, report["recipe"]["max_pixels"])
        assert again == row


def test_viubench_rows_regenerate_from_real_videos(viubench):
    report = json.loads((viubench / "build_report.json").read_text())
    for sub in ("grounding_shuffle", "jigsaw_hard", "counting_hard"):
        row = _parquet_rows(viubench, sub)[0]
        assert regenerate_row(row, "default", report["recipe"]["max_pixels"]) == row


def test_hanging_decoder_costs_one_video_not_the_build(good_videos, tmp_path, monkeypatch):
    import videossr.video as video_module

    real = video_module.load_clip

    def hangs_on_one(path, *args, **kwargs):
        if Path(path).name == "clip_01.mp4":
            time.sleep(60)  # a decoder stuck on a crawled file
        return real(path, *args, **kwargs)

    # the isolated loader forks: the child sees the patched function
    monkeypatch.setattr(video_module, "load_clip", hangs_on_one)
    result = build_dataset(
        videossr30k_recipe(size=6, max_pixels=SMALL),
        good_videos,
        tmp_path / "h",
        progress=False,
        decode_timeout=2,
    )
    assert result.rows == 6 and result.skipped["clip_01.mp4"]["reason"] == "timeout"


def test_jobs_group_by_video_and_bound_memory():
    from videossr.data.jobs import JOB_MAX_SLOTS
    from videossr.data.jobs import make_jobs as _make_jobs
    from videossr.data.plan import Recipe, assign
    from videossr.data.sources import VideoSource

    vids = [VideoSource(f"v{i}.mp4", f"/x/v{i}.mp4") for i in range(3)]
    recipe = Recipe("videossr-30k", {"jigsaw_easy": 200, "grounding_swap": 10})
    slots = recipe.slots()
    jobs = _make_jobs(0, assign(slots, vids, set(), {}), vids, set())
    assert sorted(s.key for j in jobs for s, _, _ in j.items) == sorted(s.key for s in slots)
    assert all(len(j.items) <= JOB_MAX_SLOTS + 8 for j in jobs)
    for j in jobs:
        for slot, video, other in j.items:
            assert (other is not None) == (slot.subtype == "grounding_swap") and (
                other is None or other != video
            )
    again = _make_jobs(0, assign(slots, vids, set(), {}), vids, set())
    assert [j.spec() for j in jobs] == [j.spec() for j in again]


def test_crash_while_writing_shards_leaves_no_partial_shard(good_videos, tmp_path, monkeypatch):
    import pyarrow.parquet as pq_module

    recipe = videossr30k_recipe(size=8, seed=3, max_pixels=SMALL)
    clean = tmp_path / "clean"
    build_dataset(recipe, good_videos, clean, progress=False)
    out = tmp_path / "out"
    real_write = pq_module.write_table
    calls = {"n": 0}

    def dies_mid_write(table, where, **kwargs):
        if Path(where).parent.name == "tmp":  # a final shard (job files are written elsewhere)
            calls["n"] += 1
        if calls["n"] == 2:  # second shard: write half a file, then die
            Path(where).write_bytes(b"PAR1 partial")
            raise OSError("disk full")
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(pq_module, "write_table", dies_mid_write)
    with pytest.raises(OSError, match="disk full"):
        build_dataset(recipe, good_videos, out, progress=False)
    assert calls["n"] == 2 and any((out / "data").rglob("*.parquet"))  # died after one shard was in place
    monkeypatch.setattr(pq_module, "write_table", real_write)
    assert not (out / "README.md").exists()
    for f in (out / "data").rglob("*"):  # whatever is visible under data/ is a complete, readable shard
        if f.is_file():
            assert f.suffix == ".parquet" and pq_module.read_metadata(f).num_rows > 0
    build_dataset(recipe, good_videos, out, progress=False)
    assert same_tree(clean, out) == []


def test_load_dataset_never_mixes_up_two_builds_in_same_named_folders(good_videos, tmp_path):
    # datasets keys its cache of a local folder on the dataset card (not the files), so the card carries
    # dataset_info (sizes) to keep two different builds apart.
    first, second = tmp_path / "a" / "bench", tmp_path / "b" / "bench"
    build_dataset(viubench_recipe(1, seed=1, max_pixels=SMALL), good_videos, first, progress=False)
    build_dataset(viubench_recipe(1, seed=2, max_pixels=SMALL), good_videos, second, progress=False)
    cache = tmp_path / "cache"
    for folder in (first, second):
        stored = _parquet_rows(folder, "jigsaw_hard")
        loaded = _load(folder, "jigsaw_hard", "test", cache)
        assert [r["seed"] for r in stored] == loaded["seed"]
    assert "dataset_info:" in (first / "README.md").read_text()


# ------------------------------------------------------------------------------------------ URL inputs
def _digests(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _skipped(folder: Path) -> dict[str, tuple[str, str]]:
    report = json.loads((folder / "build_report.json").read_text())
    return {s["id"]: (s["reason"], s.get("detail", "")) for s in report["skipped"]}


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory) -> tuple[Path, Path]:
    """A folder of 3 videos (one named with bytes that are not UTF-8) and every odd entry a crawl meets:
    a link to a real video, a link to /etc/passwd named .mp4, a FIFO, a dangling link, a link to itself
    and a link to its own folder. Beside it, the same regular videos in a zip archive (folder ``inner``)."""
    import zipfile

    base = tmp_path_factory.mktemp("hostile")
    root = base / "inner"
    make_video(root / "a.mp4", 0)
    make_video(root / "sub" / "b.mp4", 1)
    make_video(root / os.fsdecode(b"bad\xff\xfe.mp4"), 2)
    make_video(base / "elsewhere.mp4", 3)
    os.symlink(base / "elsewhere.mp4", root / "linked.mp4")
    os.symlink("/etc/passwd", root / "passwd.mp4")
    os.mkfifo(root / "pipe.mp4")
    os.symlink(root / "gone.mp4", root / "dangling.mp4")
    os.symlink(root / "self.mp4", root / "self.mp4")
    os.symlink(root, root / "sub" / "loop.mp4")
    plain = base / "plain" / "inner"  # the archive's content as a plain folder (no links, no FIFO)
    make_video(plain / "a.mp4", 0)
    make_video(plain / "sub" / "b.mp4", 1)
    with zipfile.ZipFile(base / "vids.zip", "w") as z:
        for p in sorted(plain.rglob("*.mp4")):
            z.write(p, "inner/" + p.relative_to(plain).as_posix())
    return root, base


URL_RECIPE = {"size": 6, "seed": 1, "max_pixels": SMALL}


def test_url_builds_equal_the_local_build_and_name_the_same_skipped_files(hostile_folder, tmp_path):
    """file://, local:// and simplecache::file:// name a local folder: the same scan, the same bytes, the
    same skipped files by the same reasons (file:// used to drop the linked video and report nothing, and
    a name that is not UTF-8 aborted it with a 'surrogates not allowed' error)."""
    root, base = hostile_folder
    ref = tmp_path / "local"
    build_dataset(videossr30k_recipe(**URL_RECIPE), root, ref, progress=False)
    skipped = _skipped(ref)
    assert {k: v[0] for k, v in skipped.items()} == {
        "passwd.mp4": "unreadable",  # ffprobe: invalid data
        "pipe.mp4": "special_file",
        "dangling.mp4": "dangling_symlink",
        "self.mp4": "symlink_loop",
        "sub/loop.mp4": "not_a_file",
    }, skipped
    sources = {s["id"] for s in json.loads((ref / "build_report.json").read_text())["sources"]}
    assert "linked.mp4" in sources and "bad\\xff\\xfe.mp4" in sources, sources
    for url in (f"file://{root}", f"local://{root}", f"simplecache::file://{root}"):
        out = tmp_path / url.split(":")[0]
        build_dataset(videossr30k_recipe(**URL_RECIPE), url, out, progress=False)
        assert _digests(out) == _digests(ref), url


def test_chained_archive_urls_keep_their_chain(hostile_folder, tmp_path):
    """zip://inner::file:///.../vids.zip listed the files, then opened the working directory as the
    archive: '2 of 2 videos failed (2 missing)'."""
    _, base = hostile_folder
    ref = tmp_path / "plain"
    build_dataset(videossr30k_recipe(**URL_RECIPE), base / "plain" / "inner", ref, progress=False)
    out = tmp_path / "zip"
    build_dataset(
        videossr30k_recipe(**URL_RECIPE), f"zip://inner::file://{base}/vids.zip", out, progress=False
    )
    assert _digests(out) == _digests(ref)
    assert _skipped(out) == {}


def test_url_inputs_that_cannot_be_read_get_one_line(hostile_folder, tmp_path):
    from videossr.cli import main

    _, base = hostile_folder
    (tmp_path / "corrupt.zip").write_bytes(b"PK\x03\x04 this is no zip archive")
    for url in (f"zip://inner::file://{tmp_path}/corrupt.zip", f"tar://inner::file://{tmp_path}/corrupt.zip"):
        with pytest.raises(ValueError, match="cannot open"):
            build_dataset(videossr30k_recipe(**URL_RECIPE), url, tmp_path / "o", progress=False)
        assert main(["build", "videossr-30k", "--videos", url, "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert not (tmp_path / "o").exists()


def test_no_url_form_writes_into_the_source_folder(hostile_folder):
    """local:// and simplecache::file:// bypassed the guard that file:// had."""
    root, _ = hostile_folder
    before = snapshot(root)
    for url in (f"file://{root}", f"local://{root}", f"simplecache::file://{root}"):
        with pytest.raises(ValueError, match="source video folder"):
            build_dataset(videossr30k_recipe(**URL_RECIPE), url, root / "out", progress=False)
    assert not (root / "out").exists() and snapshot(root) == before


# -------------------------------------------------------------------------------- one build per --out
def test_a_second_build_into_the_same_out_is_refused_at_once(good_videos, tmp_path):
    """Two builds writing one --out corrupted each other (raw 'failed to open local file .../.build/jobs/...'
    errors, 4 times out of 4). The second is refused in one line naming the folder and the other process,
    touches nothing, and the first one's work is intact."""
    from videossr.cli import main

    out = tmp_path / "set"
    recipe = videossr30k_recipe(size=4, seed=2, max_pixels=SMALL)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from videossr.data.build import output_lock\n"
            "with output_lock(Path(sys.argv[1])):\n"
            "    (Path(sys.argv[1]) / 'partial.txt').write_text('work of the first build')\n"
            "    print('held', flush=True)\n"
            "    time.sleep(600)\n",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(out)
        t0 = time.monotonic()
        with pytest.raises(BuildError, match=f"being written by another build \\(pid {holder.pid}") as info:
            build_dataset(recipe, good_videos, out, progress=False, overwrite=True)
        assert str(out) in str(info.value) and "\n" not in str(info.value)
        assert time.monotonic() - t0 < 10
        assert (
            main(["build", "videossr-30k", "--videos", str(good_videos), "--out", str(out), "--quiet"]) == 1
        )
        assert snapshot(out) == before  # not even --overwrite touched the first build's files
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (the kernel drops its lock): the folder is free again
    (out / "partial.txt").unlink()
    assert build_dataset(recipe, good_videos, out, progress=False).rows == 4
