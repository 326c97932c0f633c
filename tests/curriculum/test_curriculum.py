"""The curriculum controller (videossr.curriculum): band logic, rank agreement, checkpoints, the recipe.

* synthetic reward streams: a simulated model whose pass probability falls as the level rises; the controller
  must bring each task's pass rate into the band from either side, and stay put inside it;
* two CPU processes (gloo): ranks that score different rows end every batch with the same levels, equal to
  one controller that saw all the rows;
* resume: the state written into a checkpoint is read back equal, and a run resumed from it continues
  from the saved levels;
* the recipe: ``curriculum: true`` on the tiny model with the online stream logs the difficulty per task and
  ``frac_reward_zero_std``, draws them on the reward curve, and saves ``curriculum.json`` in checkpoints.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _recipe_helpers import load_recipe, tiny_run_args

from videossr.curriculum import STATE_FILE, CurriculumCallback, DifficultyController, wrap_reward_funcs
from videossr.rewards import get_reward_funcs

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ synthetic streams
def simulate(
    controller: DifficultyController, p_of_level, batches: int, rows: int = 32, lag: int = 0, seed: int = 0
):
    """Feed the controller batches from a model that passes with probability ``p_of_level(level)``.

    ``lag`` batches: rows are made at the level the controller held ``lag`` batches earlier (the stream's
    prefetch), and tagged with it, as the stream's subtypes are.
    """
    rng = np.random.default_rng(seed)
    task = controller.tasks[0]
    past = [controller.difficulty(task)] * (lag + 1)
    trace = []
    for _ in range(batches):
        made_at = past[-(lag + 1)]
        rewards = (rng.random(rows) < p_of_level(made_at)).astype(float).tolist()
        controller.observe(task, rewards, [made_at] * rows)
        controller.sync()
        past.append(controller.difficulty(task))
        trace.append(controller.difficulty(task))
    return trace


def linear_model(level: float) -> float:
    return float(np.clip(1.1 - level, 0.0, 1.0))  # 1.0 at level <= 0.1, 0.1 at level 1


@pytest.mark.parametrize("start", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("lag", [0, 2])
def test_band_is_reached_from_either_side(start, lag):
    controller = DifficultyController(
        tasks=["counting"], band=(0.4, 0.6), start=start, step=0.05, min_rows=32
    )
    trace = simulate(controller, linear_model, batches=120, lag=lag)
    # linear_model passes 40-60 % between levels 0.5 and 0.7: the tail of the trace stays around there
    tail = trace[-40:]
    assert 0.4 <= float(np.mean(tail)) <= 0.8, (start, lag, tail)
    assert max(tail) - min(tail) <= 0.3
    assert linear_model(float(np.mean(tail))) == pytest.approx(0.5, abs=0.15)


def test_inside_the_band_nothing_moves_and_the_ends_hold():
    c = DifficultyController(tasks=["jigsaw"], band=(0.3, 0.7), start=0.4, min_rows=8)
    assert set(simulate(c, lambda lv: 0.5, batches=30, rows=64)) == {0.4}  # 0.5 +- noise stays in the band
    c = DifficultyController(tasks=["jigsaw"], start=0.9, step=0.05, min_rows=1)
    assert simulate(c, lambda lv: 1.0, batches=10)[-1] == 1.0  # too easy even at the top: stays at 1
    c = DifficultyController(tasks=["jigsaw"], start=0.1, step=0.05, min_rows=1)
    assert simulate(c, lambda lv: 0.0, batches=10)[-1] == 0.0


def test_update_rules():
    c = DifficultyController(
        tasks=["grounding", "counting"], band=(0.3, 0.7), step=0.1, ema=0.5, min_rows=4, num_generations=2
    )
    # 2 grounding rows only: below min_rows, no move even though everything passed
    m = c.update([("anomaly_grounding", 0, 1.0, None), ("anomaly_grounding", 1, 1.0, None)])
    assert c.difficulty("grounding") == 0.5 and m["curriculum/grounding/pass_rate"] == 1.0
    assert m["curriculum/grounding/frac_zero_std"] == 1.0  # the one group of 2 is all-equal
    # 2 more: 4 rows, running rate above 0.7 -> one step up, fresh estimate
    c.update([("anomaly_grounding", 0, 1.0, None), ("anomaly_grounding", 1, 0.0, None)])
    assert c.difficulty("grounding") == 0.6 and c.state["anomaly_grounding"].pass_rate is None
    # rows made at the old level are stale: they neither count nor move anything
    m = c.update([("anomaly_grounding", k, 0.0, 0.5) for k in range(8)])
    assert c.difficulty("grounding") == 0.6 and "curriculum/grounding/pass_rate" not in m
    assert c.history[-1]["stale"] == 8
    # counting never saw a row: logged at its start, untouched
    assert m["curriculum/counting/difficulty"] == 0.5
    # pass_threshold=None: the pass rate is the mean reward
    soft = DifficultyController(tasks=["counting"], pass_threshold=None, min_rows=1)
    soft.update([("object_counting", 0, 0.2, None), ("object_counting", 1, 0.3, None)])
    assert soft.difficulty("counting") == 0.45 and soft.state["object_counting"].moves == 1
    with pytest.raises(ValueError):
        DifficultyController(band=(0.8, 0.2))


def test_wrapped_rewards_are_unchanged_and_report_their_task():
    c = DifficultyController(tasks=["counting", "jigsaw"], min_rows=1, num_generations=2)
    plain = get_reward_funcs(["counting", "counting_strict01", "jigsaw", "format"])
    wrapped = wrap_reward_funcs(plain, c)
    assert [w.__name__ for w in wrapped] == [f.__name__ for f in plain]
    assert [w.task for w in wrapped] == [
        "object_counting",
        None,
        "temporal_jigsaw",
        None,
    ]  # first per task only
    kwargs = {
        "completions": ["3,1,4", "0,0,0", "2413", "1234"],
        "answer": ["3,1,4", "3,1,4", "2413", "2413"],
        "task": ["object_counting", "object_counting", "temporal_jigsaw", "temporal_jigsaw"],
        "subtype": ["counting@0.5", "counting@0.5", "jigsaw@0.5", "jigsaw@0.5"],
    }
    logged: dict[str, float] = {}
    for w, f in zip(wrapped, plain):
        assert w(prompts=[None] * 4, log_metric=logged.__setitem__, **kwargs) == f(
            prompts=[None] * 4, **kwargs
        )
    assert logged["curriculum/counting/frac_zero_std"] == 0.0  # rewards 1 and 0 in its one group
    assert logged["curriculum/jigsaw/pass_rate"] == 0.5
    assert set(logged) >= {"curriculum/counting/difficulty", "curriculum/jigsaw/difficulty"}


# ------------------------------------------------------------------------------------------ several processes
def rank_batch(rank: int, batch: int, levels: dict[str, float]) -> dict[str, list]:
    """Rows one rank scores in one batch: different on the two ranks (rank 1 answers counting wrong)."""
    count_ok = rank == 0 or batch % 3 == 0
    return {
        "completions": ["3,1,4" if count_ok else "9,9,9", "3,1,4", "2413", "2413" if batch % 2 else "1234"],
        "answer": ["3,1,4", "3,1,4", "2413", "2413"],
        "task": ["object_counting", "object_counting", "temporal_jigsaw", "temporal_jigsaw"],
        "subtype": [f"counting@{levels['object_counting']:g}"] * 2
        + [f"jigsaw@{levels['temporal_jigsaw']:g}"] * 2,
    }


def test_two_processes_agree(tmp_path):
    """Two gloo processes score different rows; after every batch both hold the same state, equal to one
    controller that scored both ranks' rows in rank order (TRL's gathered layout)."""
    import subprocess

    worker = Path(__file__).with_name("_ddp_curriculum.py")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29541",
        str(worker),
        str(tmp_path),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert ranks[0]["states"] == ranks[1]["states"]
    assert ranks[0]["logged"] == ranks[1]["logged"]
    # the levels moved (counting: rank 1's wrong answers pull it down, jigsaw: all right, up)
    final = ranks[0]["states"][-1]["tasks"]
    assert final["object_counting"]["moves"] + final["temporal_jigsaw"]["moves"] > 0

    single = DifficultyController(tasks=["counting", "jigsaw"], min_rows=4, step=0.1, num_generations=2)
    funcs = wrap_reward_funcs(get_reward_funcs(["counting", "jigsaw", "format"]), single)
    for b in range(6):
        both = {k: ranks[0]["scored"][b][k] + ranks[1]["scored"][b][k] for k in ranks[0]["scored"][b]}
        for fn in funcs:
            fn(prompts=[None] * 8, **both)
        assert single.state_dict() == ranks[0]["states"][b]


# ------------------------------------------------------------------------------------------ checkpoints
def test_state_round_trip_and_callback_resume(tmp_path):
    c = DifficultyController(tasks=["grounding", "jigsaw"], min_rows=8, num_generations=4)
    simulate(c, lambda lv: 0.9, batches=7, rows=16)
    c.observe("jigsaw", [1.0, 0.0])
    args = SimpleNamespace(output_dir=str(tmp_path))
    CurriculumCallback(c).on_save(args, SimpleNamespace(global_step=7, is_world_process_zero=True), None)
    saved = tmp_path / "checkpoint-7" / STATE_FILE
    assert saved.is_file()

    fresh = DifficultyController(tasks=["grounding", "jigsaw"], min_rows=8, num_generations=4)
    CurriculumCallback(fresh).on_train_begin(args, SimpleNamespace(global_step=7), None)
    assert fresh.state_dict() == c.state_dict()
    assert fresh.levels() == c.levels() and fresh.levels()["anomaly_grounding"] > 0.5
    # a run from scratch (step 0) reads nothing
    other = DifficultyController(tasks=["grounding", "jigsaw"])
    CurriculumCallback(other).on_train_begin(args, SimpleNamespace(global_step=0), None)
    assert other.levels() == {"anomaly_grounding": 0.5, "temporal_jigsaw": 0.5}
    # continuing both with the same stream gives the same levels
    assert simulate(fresh, linear_model, 20, seed=3) == simulate(c, linear_model, 20, seed=3)


def test_stream_rows_follow_the_controller():
    from videossr.data.streaming import stream_dataset
    from videossr.video import sample_videos

    if not sample_videos():
        pytest.skip("no sample videos installed")
    c = DifficultyController(tasks=["jigsaw", "counting"], start=0.0)
    rows = iter(
        stream_dataset(
            "default", mix="jigsaw_easy=1,counting_easy=1", seed=0, curriculum=c, max_pixels=64 * 64
        )
    )
    first = [next(rows) for _ in range(3)]
    c.state["temporal_jigsaw"].level = 1.0
    c.state["object_counting"].level = 0.75
    later = [next(rows) for _ in range(4)]
    assert {r["subtype"] for r in first} <= {"jigsaw@0", "counting@0"}
    assert {r["subtype"] for r in later} <= {"jigsaw@1", "counting@0.75"}
    assert all(len(r["answer"]) == 9 for r in later if r["task"] == "temporal_jigsaw")
    # without a controller the same stream keeps the mix's settings (and no suffix)
    plain = iter(stream_dataset("default", mix="jigsaw_easy=1,counting_easy=1", seed=0, max_pixels=64 * 64))
    assert [next(plain)["subtype"] for _ in range(3)] == [
        r["subtype"].replace("jigsaw@0", "jigsaw_easy").replace("counting@0", "counting_easy") for r in first
    ]


# ------------------------------------------------------------------------------------------ the recipe
def test_configs_switch_it_on_and_off():
    pytest.importorskip("trl")
    recipe = load_recipe()
    parse = recipe.make_parser().parse_args_and_config
    base = ROOT / "recipes" / "Qwen3-VL-8B-Instruct" / "grpo"
    script, _, _ = parse(["--config", str(base / "config_videossr.yaml"), "--use_cpu", "true"])
    assert script.curriculum is False  # the paper's run, as the paper ran it
    script, train, _ = parse(["--config", str(base / "config_videossr_curriculum.yaml"), "--use_cpu", "true"])
    assert script.curriculum is True and script.online and script.online_streaming
    assert script.curriculum_band == [0.3, 0.7] and train.max_steps == 470
    from videossr.training import GRPOScriptArguments

    with pytest.raises(ValueError, match="online_streaming"):
        GRPOScriptArguments(dataset_name="data/x", curriculum=True)


def test_recipe_with_curriculum_logs_plots_and_resumes(tmp_path):
    pytest.importorskip("trl")
    torch = pytest.importorskip("torch")
    from videossr.training import curriculum_history
    from videossr.video import sample_videos

    if not sample_videos():
        pytest.skip("no sample videos installed")
    torch.set_num_threads(1)
    recipe = load_recipe()

    def run(max_steps: int, *extra: str):
        args = tiny_run_args(
            tmp_path,
            "--video_dir",
            "samples",
            "--online_streaming",
            "true",
            "--online_mix",
            "counting_easy=1",
            "--reward_funcs",
            "counting",
            "--save_strategy",
            "steps",
            "--save_steps",
            "1",
            "--curriculum",
            "true",
            "--curriculum_min_rows",
            "1",
            "--curriculum_step",
            "0.1",
            *extra,
            steps=max_steps,
        )
        return recipe.main(*recipe.make_parser().parse_args_and_config(args))

    trainer = run(4)
    history = trainer.state.log_history
    steps = [h for h in history if "curriculum/counting/difficulty" in h]
    assert len(steps) == 4 and all("frac_reward_zero_std" in h for h in steps)
    # The random tiny model never answers: pass rate 0, so the level falls one step per batch of fresh rows.
    # The batch after a move was already generated at the old level (the dataloader fetches one generation
    # batch ahead): its rows are stale and the level holds for a step. (TRL averages logged metrics through
    # float32 tensors: approx.)
    assert [h["curriculum/counting/difficulty"] for h in steps] == pytest.approx([0.4, 0.4, 0.3, 0.3])
    assert set(curriculum_history(history)) == {"curriculum/counting/difficulty", "frac_reward_zero_std"}
    assert (tmp_path / "run" / "reward_curve.png").is_file()
    saved = json.loads((tmp_path / "run" / "checkpoint-4" / STATE_FILE).read_text())
    assert saved["tasks"]["object_counting"]["level"] == 0.3
    assert (
        json.loads((tmp_path / "run" / "checkpoint-2" / STATE_FILE).read_text())["tasks"]["object_counting"][
            "level"
        ]
        == 0.4
    )

    # Resumed from step 4, the stream makes its rows at the saved 0.3 (fresh), so step 5 moves on to 0.2.
    resumed = run(5, "--resume_from_checkpoint", str(tmp_path / "run" / "checkpoint-4"))
    after = [
        h for h in resumed.state.log_history if h.get("step") == 5 and "curriculum/counting/difficulty" in h
    ]
    assert after and after[-1]["curriculum/counting/difficulty"] == pytest.approx(0.2)


def test_controller_raises_the_jigsaw_level_as_a_simulated_model_learns():
    """The curriculum bed's controller settings (band 0.3-0.7, one clip per move, a pass = the exact order)
    on a simulated model whose skill grows: it starts at 2 clips and the level climbs with the skill, one
    clip at a time, never far from where the pass rate is inside the band."""
    from videossr.tasks.jigsaw.task import clips_at

    controller = DifficultyController(
        tasks=["jigsaw"], band=(0.3, 0.7), start=0.0, step=0.125, min_rows=16, pass_threshold=1.0
    )
    rng = np.random.default_rng(0)
    batches, skill = 240, []
    made_at = [0.0, 0.0]  # one batch of lag: rows were made at the level of the batch before
    trace = []
    for b in range(batches):
        ability = 3.0 + 4.0 * b / batches  # the clip count solved half of the time: 3 -> 7
        skill.append(ability)
        level = made_at[-2]
        p = 1.0 / (1.0 + np.exp(2.0 * (clips_at(level) - ability)))
        rewards = (rng.random(64) < p).astype(float).tolist()  # 8 groups of 8, a pass is a reward of 1
        controller.observe("jigsaw", rewards, [level] * 64)
        controller.sync(step=b)
        made_at.append(controller.difficulty("jigsaw"))
        trace.append(controller.difficulty("jigsaw"))
    clips = [clips_at(level) for level in trace]
    assert clips[0] == 3 and trace[0] == 0.125  # 2 clips pass ~90 % from the first batch: up one clip
    assert all(b - a in (-0.125, 0.0, 0.125) for a, b in zip(trace, trace[1:]))  # one clip per move
    quarters = [float(np.mean(clips[i : i + 60])) for i in range(0, batches, 60)]
    assert quarters == sorted(quarters) and quarters[-1] - quarters[0] >= 2.5, quarters
    # it follows the skill: at the end it asks about as many clips as the model solves half of the time
    assert abs(float(np.mean(clips[-30:])) - float(np.mean(skill[-30:]))) <= 1.0
    assert controller.state["temporal_jigsaw"].moves >= 4


def test_tiny_jigsaw_run_raises_and_logs_the_level(tmp_path):
    """Two GRPO steps of the recipe with ``curriculum: true`` on the jigsaw stream, with a pass threshold of
    0 (every rollout passes, so the pass rate is 1, above the band): the level rises after the first batch,
    is logged as ``curriculum/jigsaw/difficulty``, and the bed reads it back from the trainer's log."""
    pytest.importorskip("trl")
    torch = pytest.importorskip("torch")
    from videossr.learnbed.curriculum_report import level_curve
    from videossr.learnbed.report import read_curves
    from videossr.video import sample_videos

    if not sample_videos():
        pytest.skip("no sample videos installed")
    torch.set_num_threads(1)
    recipe = load_recipe()
    args = tiny_run_args(
        tmp_path,
        "--video_dir",
        "samples",
        "--online_streaming",
        "true",
        "--online_mix",
        "jigsaw@0.125=1",
        "--reward_funcs",
        "jigsaw_strict01",
        "--curriculum",
        "true",
        "--curriculum_start",
        "0.125",
        "--curriculum_step",
        "0.125",
        "--curriculum_min_rows",
        "1",
        "--curriculum_pass_threshold",
        "0.0",
        steps=2,
    )
    trainer = recipe.main(*recipe.make_parser().parse_args_and_config(args))
    logged = [h for h in trainer.state.log_history if "curriculum/jigsaw/difficulty" in h]
    # Step 1's rows (3 clips) all pass: the level moves to 0.25 (4 clips). Step 2's rows were generated
    # before the move (the dataloader's look-ahead), so they are stale and the level holds.
    assert [h["curriculum/jigsaw/difficulty"] for h in logged] == pytest.approx([0.25, 0.25])
    assert all("frac_reward_zero_std" in h for h in logged)
    assert level_curve(read_curves(tmp_path / "run")["train"]) == [[1, 0.25], [2, 0.25]]


# ------------------------------------------------------------------------------------------ hostile inputs
def _unusable_rewards() -> list:
    import torch

    return [
        float("nan"),
        np.float32("nan"),
        np.float64("nan"),
        torch.tensor(float("nan")),
        float("inf"),
        -float("inf"),
        5.0,
        -3.0,
        "0.9",
        "0",
        True,
        False,
        np.bool_(True),
        torch.tensor(True),
        torch.tensor([0.0, 1.0]),
        object(),
        10**400,
    ]


def test_one_definition_of_a_usable_reward():
    import torch

    from videossr.curriculum import usable_reward

    for value in _unusable_rewards():
        assert usable_reward(value) is None, value
    for value, want in [
        (0.25, 0.25),
        (1, 1.0),
        (0, 0.0),
        (-0.0, 0.0),
        (np.float32(0.5), 0.5),
        (np.int64(1), 1.0),
        (np.array(0.75), 0.75),
        (torch.tensor(0.5), 0.5),
    ]:
        got = usable_reward(value)
        assert got == want and type(got) is float and str(got) != "-0.0", value


def test_unusable_rewards_never_move_a_level():
    """NaN of any type, out-of-range numbers, strings and bools are skipped, neither a pass nor a failure
    (np.float32 NaN and torch NaN used to count as failures: 0.5 -> 0.35 in three batches)."""
    bad = _unusable_rewards()
    c = DifficultyController(tasks=["jigsaw"], min_rows=1)
    for _ in range(5):
        c.observe("jigsaw", bad, [0.5] * len(bad))
        c.sync()
    assert c.levels() == {"temporal_jigsaw": 0.5}
    assert c.state["temporal_jigsaw"].rows == 0 and c.state["temporal_jigsaw"].pass_rate is None
    # update() applies the same rule to rows handed in directly, and skips rows at a level off the knob
    c.update([("temporal_jigsaw", i, r, 0.5) for i, r in enumerate(bad)])
    c.update([("temporal_jigsaw", 0, 0.0, float("nan")), ("temporal_jigsaw", 1, 0.0, 7.0)])
    assert c.levels() == {"temporal_jigsaw": 0.5} and c.state["temporal_jigsaw"].rows == 0
    # usable ones still count, whatever their type
    import torch

    c.observe("jigsaw", [np.float32(0.0), torch.tensor(0.0), 0], [0.5] * 3)
    c.sync()
    assert c.levels() == {"temporal_jigsaw": 0.45}


@pytest.mark.parametrize(
    "kw",
    [
        {"min_rows": float("nan")},
        {"min_rows": 2.5},
        {"min_rows": True},
        {"pass_threshold": float("nan")},
        {"pass_threshold": float("inf")},
        {"pass_threshold": 1.5},
        {"pass_threshold": "0.5"},
        {"step": float("nan")},
        {"ema": float("inf")},
        {"band": (float("nan"), 0.7)},
        {"band": (0.3,)},
        {"num_generations": float("nan")},
        {"num_generations": 0},
        {"start": True},
    ],
)
def test_controller_options_are_checked(kw):
    with pytest.raises(ValueError):
        DifficultyController(tasks=["jigsaw"], **kw)


def _saved_state() -> dict:
    c = DifficultyController(tasks=["grounding", "jigsaw"], min_rows=8)
    simulate(c, lambda lv: 0.9, batches=5, rows=16)
    return c.state_dict()


def _hostile_states() -> list[tuple[str, object]]:
    def edit(fn):
        data = json.loads(json.dumps(_saved_state()))
        fn(data)
        return data

    def set_task(key, value):
        return lambda d: d["tasks"]["anomaly_grounding"].__setitem__(key, value)

    return [
        ("level NaN", edit(set_task("level", float("nan")))),
        ("level Infinity", edit(set_task("level", float("inf")))),
        ("level 1e308", edit(set_task("level", 1e308))),
        ("level -5", edit(set_task("level", -5))),
        ("level string", edit(set_task("level", "0.5"))),
        ("level bool", edit(set_task("level", True))),
        ("pass rate 7", edit(set_task("pass_rate", 7))),
        ("rows -1e6", edit(set_task("rows", -1e6))),
        ("rows Infinity", edit(set_task("rows", float("inf")))),
        ("rows 2.5", edit(set_task("rows", 2.5))),
        ("moves huge", edit(set_task("moves", 10**400))),
        ("no level", edit(lambda d: d["tasks"]["anomaly_grounding"].pop("level"))),
        (
            "unknown task",
            edit(
                lambda d: d["tasks"].__setitem__("no_such_task", {"level": 99, "pass_rate": None, "rows": 0})
            ),
        ),
        (
            "task not trained",
            edit(
                lambda d: d["tasks"].__setitem__(
                    "object_counting", {"level": 0.5, "pass_rate": None, "rows": 0}
                )
            ),
        ),
        ("task twice", edit(lambda d: d["tasks"].__setitem__("grounding", d["tasks"]["anomaly_grounding"]))),
        ("task not an object", edit(lambda d: d["tasks"].__setitem__("temporal_jigsaw", [0.5]))),
        ("history string", edit(lambda d: d.__setitem__("history", "abc"))),
        ("history of numbers", edit(lambda d: d.__setitem__("history", [1, 2]))),
        ("tasks a list", edit(lambda d: d.__setitem__("tasks", []))),
        ("no tasks", edit(lambda d: d.pop("tasks"))),
        ("updates -1", edit(lambda d: d.__setitem__("updates", -1))),
        ("version True", edit(lambda d: d.__setitem__("version", True))),
        ("version 2", edit(lambda d: d.__setitem__("version", 2))),
        ("unknown key", edit(lambda d: d.__setitem__("levels", {}))),
        ("config a string", edit(lambda d: d.__setitem__("config", "x"))),
        ("a list", [1, 2, 3]),
        ("a string", "curriculum"),
        ("null", None),
    ]


def test_a_hostile_state_is_refused_as_a_whole_and_changes_nothing(tmp_path):
    """Every bad curriculum.json is refused with one line naming the file, and the controller is left
    exactly as it was (a load failing half-way used to leave the first task's level already replaced)."""
    from videossr.curriculum import CurriculumStateError

    for label, data in _hostile_states():
        c = DifficultyController(tasks=["grounding", "jigsaw"], min_rows=8)
        c.update([("anomaly_grounding", 0, 1.0, None)])
        before = c.state_dict()
        path = tmp_path / "curriculum.json"
        path.write_text(json.dumps(data))  # Python's json writes NaN and Infinity as such
        with pytest.raises(CurriculumStateError) as info:
            c.load(path)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg, (label, msg)
        assert c.state_dict() == before, label
        with pytest.raises(CurriculumStateError):
            c.load_state_dict(data)  # type: ignore[arg-type]
        assert c.state_dict() == before, label
    # files that are not even a state: one line each, no KeyError / RecursionError / UnicodeDecodeError
    for raw in [b"", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b'{"version": NaN}']:
        path.write_bytes(raw)
        with pytest.raises(CurriculumStateError) as info:
            c.load(path)
        assert "\n" not in str(info.value)
    with pytest.raises(CurriculumStateError):
        c.load(tmp_path / "missing.json")


def test_a_valid_state_still_loads_by_short_names(tmp_path):
    data = _saved_state()
    data["tasks"] = {("grounding" if k == "anomaly_grounding" else k): v for k, v in data["tasks"].items()}
    c = DifficultyController(tasks=["grounding", "jigsaw"], min_rows=8)
    c.load_state_dict(data)
    assert c.levels() == {n: v["level"] for n, v in _saved_state()["tasks"].items()}
