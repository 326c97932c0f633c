"""The difficulty knob (videossr.tasks.base): documented, monotone, seeded, and invisible when not used.

* the paper's named settings are points on the knob and reproduce the paper's generation exactly;
* without an explicit level nothing changes (no suffix, no new params; prompts and seeded bytes are
  covered by test_prompts.py and the build tests);
* every mapped parameter moves one way only, and solvers score lower as the level rises: the random
  baseline's expected score on every task over many seeds, and the heuristic solver on counting and
  grounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from videossr.data.plan import needs_other, parse_mix, task_of
from videossr.evaluation.baselines import heuristic_answer
from videossr.tasks import get_task, task_for_subtype, task_name_of_subtype
from videossr.tasks.base import NAMED_DIFFICULTIES, parse_difficulty, split_level
from videossr.tasks.counting import setting_at
from videossr.tasks.grounding import segment_range
from videossr.tasks.jigsaw import clips_at
from videossr.tasks.perturbations import STRENGTH_KNOB, strength
from videossr.types import Clip

GRID = np.linspace(0.0, 1.0, 101)
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _same(a, b) -> bool:
    return (
        a.answer == b.answer
        and len(a.videos) == len(b.videos)
        and all(np.array_equal(x, y) for x, y in zip(a.videos, b.videos))
    )


@pytest.fixture(scope="module")
def small_clips(real_videos):
    from videossr import load_clip

    return [load_clip(v, max_pixels=128 * 128) for v in real_videos[:3]]


@pytest.fixture(scope="module")
def train_clips(real_videos):
    from videossr import load_clip

    return [load_clip(v, max_pixels=256 * 256) for v in real_videos[:3]]


# ------------------------------------------------------------------------------------------ the scale
def test_parse_difficulty_named_points_and_errors():
    assert NAMED_DIFFICULTIES == {"easy": 0.5, "hard": 0.75}
    assert parse_difficulty("easy") == 0.5 and parse_difficulty("hard") == 0.75
    assert parse_difficulty("0.3") == 0.3 and parse_difficulty(1) == 1.0
    assert parse_difficulty(0.12345) == 0.123  # the subtype suffix names the level exactly
    for bad in ("medium", -0.1, 1.01, float("nan"), "inf", None):
        with pytest.raises(ValueError):
            parse_difficulty(bad)
    assert split_level("grounding_mirror@0.7") == ("grounding_mirror", 0.7)
    assert split_level("jigsaw_easy") == ("jigsaw_easy", None)


def test_named_points_are_the_papers_settings():
    assert clips_at(0.5) == 6 and clips_at(0.75) == 8
    assert (clips_at(0.0), clips_at(1.0)) == (2, 9)
    assert setting_at(0.5) == {"types": 3, "frames": 3, "instances": 3, "size": (0.2, 0.4)}
    assert setting_at(0.75) == {"types": 3, "frames": 4, "instances": 4, "size": (0.2, 0.4)}
    assert segment_range(48, 0.5) == (8, 16)
    assert strength("noise", 0.5) == {"low": 35.0, "high": 70.0}
    assert strength("blur", 0.5) == {"radius": 2.0}
    assert strength("saturation", 0.5) == {"factor": 2.0}
    assert strength("zoom_in", 0.5) == {"low": 1.3, "high": 1.5}
    assert strength("zoom_out", 0.5) == {"low": 1.2, "high": 1.4}
    assert strength("speed", 0.5) == {"low": 2.0, "high": 3.0}


def test_every_mapped_parameter_moves_one_way():
    clips = [clips_at(x) for x in GRID]
    settings = [setting_at(x) for x in GRID]
    segments = [segment_range(48, x) for x in GRID]
    for seq in (
        clips,
        [s["types"] for s in settings],
        [s["frames"] for s in settings],
        [s["instances"] for s in settings],
    ):
        assert all(a <= b for a, b in zip(seq, seq[1:]))  # more clips, types, frames, instances
    for seq in (
        [s["size"][0] for s in settings],
        [s["size"][1] for s in settings],
        [lo for lo, _ in segments],
        [hi for _, hi in segments],
    ):
        assert all(a >= b for a, b in zip(seq, seq[1:]))  # smaller shapes, shorter segments
    for name, params in STRENGTH_KNOB.items():
        for key in params:
            values = [strength(name, x)[key] for x in GRID]
            assert all(a >= b for a, b in zip(values, values[1:])), (name, key)  # a weaker change
            assert values[0] > values[-1]
    # every parameter family really spans a range
    assert clips[0] < clips[-1] and segments[0][1] > segments[-1][1]
    assert settings[0]["size"][0] > settings[-1]["size"][0]


# --------------------------------------------------------------------------------------- invisible by default
def test_named_strings_keep_the_papers_generation(clip):
    for name, kwargs in [
        ("object_counting", {"difficulty": "easy"}),
        ("object_counting", {"difficulty": "hard"}),
        ("temporal_jigsaw", {"difficulty": "easy"}),
        ("temporal_jigsaw", {"difficulty": "hard"}),
        ("anomaly_grounding", {"perturbation": "mirror"}),
    ]:
        task = get_task(name, **kwargs)
        assert task.level is None and "@" not in task.subtype
        sample = task.generate(clip, seed=3)
        assert "@" not in sample.subtype
        if name != "object_counting":  # counting always recorded its named setting
            assert "difficulty" not in sample.params
        else:
            assert sample.params["difficulty"] == kwargs["difficulty"]


@pytest.mark.parametrize(
    ("name", "named", "level"),
    [
        ("object_counting", "easy", 0.5),
        ("object_counting", "hard", 0.75),
        ("temporal_jigsaw", "easy", 0.5),
        ("temporal_jigsaw", "hard", 0.75),
    ],
)
def test_a_named_point_as_a_number_makes_the_same_question(clip, name, named, level):
    for seed in (0, 1, 7):
        a = get_task(name, difficulty=named).generate(clip, seed=seed)
        b = get_task(name, difficulty=level).generate(clip, seed=seed)
        assert _same(a, b)
        assert b.params["difficulty"] == level and b.subtype == f"{a.subtype.split('_')[0]}@{level:g}"


@pytest.mark.parametrize(
    "perturbation", ["mirror", "noise", "blur", "saturation", "zoom_in", "zoom_out", "slow", "fast"]
)
def test_grounding_at_the_paper_point_is_the_papers_generation(clip, perturbation):
    for seed in (0, 5):
        a = get_task("grounding", perturbation=perturbation).generate(clip, seed=seed)
        b = get_task("grounding", perturbation=perturbation, difficulty=0.5).generate(clip, seed=seed)
        assert _same(a, b)
        assert b.subtype == f"grounding_{perturbation}@0.5" and b.params["difficulty"] == 0.5


# ------------------------------------------------------------------------------------------ seeded, recorded
@pytest.mark.parametrize(
    "subtype",
    ["counting@0.2", "jigsaw@0.9", "grounding_noise@0.8", "grounding_fast@0.3", "grounding_mixed@0.65"],
)
def test_levels_are_seeded_recorded_and_read_back(small_clips, subtype):
    task = task_for_subtype(subtype)
    assert task.subtype == subtype and task.level == split_level(subtype)[1]
    clip = small_clips[0]
    a, b = task.generate(clip, seed=11), task.generate(clip, seed=11)
    assert _same(a, b)
    assert a.params["difficulty"] == task.level and a.subtype.endswith(f"@{task.level:g}")
    # the row's subtype rebuilds the generator that made it (a mixed grounding task draws its perturbation
    # first, so its rows name the drawn one, as without a level)
    again = task_for_subtype(a.subtype).generate(clip, seed=11)
    assert _same(a, again) or "mixed" in subtype
    assert task_name_of_subtype(a.subtype) == task.name and task_of(a.subtype) == task.short
    assert task.with_difficulty(task.level).subtype == task.subtype


def test_levels_change_the_question(small_clips):
    clip = small_clips[0]
    assert len(get_task("jigsaw", difficulty=0.0).generate(clip, seed=0).videos) == 2
    assert len(get_task("jigsaw", difficulty=1.0).generate(clip, seed=0).videos) == 9
    easy = get_task("counting", difficulty=0.0).generate(clip, seed=0)
    assert sorted(int(c) for c in easy.answer.split(",")) == [0, 0, 1]  # one shape type, once
    seg = (
        get_task("grounding", perturbation="mirror", difficulty=1.0).generate(clip, seed=0).params["segment"]
    )
    assert 3 <= seg[1] - seg[0] <= 6


def test_mixes_and_builds_accept_levels():
    assert parse_mix("grounding_mirror@0.7=1,jigsaw@0.25=1,counting@1=2") == {
        "grounding_mirror@0.7": 0.25,
        "jigsaw@0.25": 0.25,
        "counting@1": 0.5,
    }
    with pytest.raises(ValueError, match="counting@0.3"):
        parse_mix("counting_easy@0.3=1")
    with pytest.raises(ValueError):
        parse_mix("jigsaw@1.5=1")
    assert needs_other("grounding_swap@0.4") and not needs_other("grounding_mirror@0.4")


def test_cli_difficulty_option(real_video, tmp_path, capsys):
    import json

    from videossr.cli import main

    args = [
        "generate",
        "--video",
        str(real_video),
        "--out",
        str(tmp_path),
        "--quiet",
        "--max-pixels",
        "16384",
    ]
    assert main([*args, "--task", "counting", "--difficulty", "hard"]) == 0
    assert json.loads(capsys.readouterr().out)["subtype"] == "counting_hard"
    assert main([*args, "--task", "jigsaw", "--difficulty", "0.25"]) == 0
    assert json.loads(capsys.readouterr().out)["subtype"] == "jigsaw@0.25"
    assert main([*args, "--task", "jigsaw", "--difficulty", "-0"]) == 0
    assert json.loads(capsys.readouterr().out)["subtype"] == "jigsaw@0"  # never "jigsaw@-0"
    assert main([*args, "--task", "grounding", "--perturbation", "noise", "--difficulty", "0.9"]) == 0
    assert json.loads(capsys.readouterr().out)["subtype"] == "grounding_noise@0.9"
    with pytest.raises(SystemExit):
        main([*args, "--task", "jigsaw", "--difficulty", "2"])


def test_huge_mix_weights_keep_the_build_size():
    """Two weights of 1e308 summed to inf: every fraction became 0 and a --size 20 build made 2 rows."""
    from videossr.data.build import videossr30k_recipe

    assert parse_mix("jigsaw_hard=1e308,counting_easy=1e308") == {"jigsaw_hard": 0.5, "counting_easy": 0.5}
    recipe = videossr30k_recipe(size=20, mix="jigsaw_hard=1e308,counting_easy=1e308")
    assert recipe.counts == {"jigsaw_hard": 10, "counting_easy": 10}
    assert (
        sum(videossr30k_recipe(size=7, mix="jigsaw_hard=1.7e308,counting_easy=5e-324").counts.values()) == 7
    )


@pytest.mark.parametrize(
    "mix",
    [
        "jigsaw@0.9=1,jigsaw@0.9=3",  # duplicate entries: the last one used to win silently
        "jigsaw_hard=1, jigsaw_hard =2",
        "jigsaw@0.9=\u0663",  # Arabic-Indic 3
        "jigsaw@\u0660.\u0665=1",  # Arabic-Indic 0.5
        "jigsaw@\uff10.\uff15=1",  # full-width 0.5
        "jigsaw@-0=1",
        "jigsaw@-0.0=1",
        "jigsaw@-1e-400=1",
    ],
)
def test_mix_refuses_duplicates_non_ascii_digits_and_minus_zero(mix):
    with pytest.raises(ValueError):
        parse_mix(mix)


def test_difficulty_option_refuses_non_ascii_and_never_says_minus_zero():
    import argparse
    import math

    from videossr.commands import difficulty_value

    for text in ["-0", "-0.0", "-1e-400", "0"]:
        value = difficulty_value(text)
        assert value == 0.0 and math.copysign(1.0, value) == 1.0, text
    for text in ["\u0660.\u0665", "\uff10.\uff15", "\u0661"]:
        with pytest.raises(argparse.ArgumentTypeError, match="digits 0-9"):
            difficulty_value(text)
    assert difficulty_value("hard") == "hard" and difficulty_value("0.25") == 0.25


@pytest.mark.parametrize("value", ["-0", "-0.0", " -0 ", "-1e-400", -0.0, -1e-400])
def test_parse_difficulty_never_returns_minus_zero(value):
    """The library itself gives 0.0 (the CLI used to correct -0.0 on its own): rows say @0, never @-0."""
    import math

    level = parse_difficulty(value)
    assert level == 0.0 and math.copysign(1.0, level) == 1.0
    assert split_level(f"jigsaw@{value}") == ("jigsaw", 0.0)
    for name in ("temporal_jigsaw", "object_counting"):
        subtype = get_task(name, difficulty=value).subtype
        assert subtype.endswith("@0") and "@-" not in subtype, subtype


@pytest.mark.parametrize("text", ["\u0660.\u0665", "\uff10.\uff15", "\u0661", "0.\u0665"])
def test_parse_difficulty_refuses_non_ascii_digits(text):
    """float() reads other scripts' digits; the knob, like every number of the CLI, takes 0-9 only."""
    with pytest.raises(ValueError, match="ASCII digits"):
        parse_difficulty(text)
    with pytest.raises(ValueError):
        get_task("temporal_jigsaw", difficulty=text)
    with pytest.raises(ValueError):
        split_level(f"counting@{text}")


# ------------------------------------------------------------------------------------------ solvers see it
def _mean_score(task, clips, seeds, solver) -> float:
    rng = np.random.default_rng(0)
    scores = []
    for seed in seeds:
        sample = task.generate(clips[seed % len(clips)], seed=seed)
        if solver == "random":
            reply = task.random_answer(rng, fps=sample.fps, num_frames=48, num_clips=len(sample.videos))
        else:
            reply = heuristic_answer(sample)
        scores.append(task.score(reply, sample.answer))
    return float(np.mean(scores))


@pytest.mark.parametrize("name", ["object_counting", "temporal_jigsaw", "grounding_mirror"])
def test_random_baseline_scores_less_as_the_level_rises(small_clips, name):
    # The random baseline knows each level's answer space (counts up to F*I, n clips, segment lengths), so its
    # expected score is the chance level of the question: 200 seeds per level.
    def make(level):
        if name == "grounding_mirror":
            return get_task("grounding", perturbation="mirror", difficulty=level)
        return get_task(name, difficulty=level)

    scores = [_mean_score(make(lv), small_clips, range(200), "random") for lv in LEVELS]
    assert all(a >= b for a, b in zip(scores, scores[1:])), scores
    assert scores[0] > scores[2] > scores[-1] or name == "temporal_jigsaw", scores
    assert scores[0] > 0.4, scores


def test_heuristic_counts_worse_as_the_level_rises(train_clips):
    # Measured with 30 items per level: 98.9, 97.8, 56.7, 37.8, 20.0 % at 0, 0.25, 0.5, 0.75, 1.
    scores = [
        _mean_score(get_task("counting", difficulty=lv), train_clips, range(8), "heuristic")
        for lv in (0.0, 0.5, 1.0)
    ]
    assert scores[0] > scores[1] > scores[2], scores


@pytest.mark.parametrize("perturbation", ["mirror", "zoom_out", "noise"])
def test_heuristic_grounds_worse_as_the_level_rises(train_clips, perturbation):
    # From the paper's point up. Below it the heuristic is no judge: it looks for changes of the paper's 8-16
    # frames, so the longer segments of low levels (16-24 frames) fool it while the random baseline above,
    # which knows each level's lengths, scores higher there.
    scores = [
        _mean_score(
            get_task("grounding", perturbation=perturbation, difficulty=lv),
            train_clips,
            range(8),
            "heuristic",
        )
        for lv in (0.5, 1.0)
    ]
    assert scores[0] > scores[1] + 0.2, scores


def test_synthetic_clip_generation_at_every_level():
    # Every level of every task generates on a plain 48-frame clip (counting's 5 x 5 placement included).
    clip = Clip(
        frames=np.random.default_rng(0).integers(0, 255, (48, 64, 80, 3), dtype=np.uint8), fps=4.0, source="x"
    )
    for level in GRID[::10]:
        for task in (
            get_task("counting", difficulty=level),
            get_task("jigsaw", difficulty=level),
            get_task("grounding", perturbation="fast", difficulty=level),
            get_task("grounding", perturbation="slow", difficulty=level),
        ):
            for seed in range(3):
                sample = task.generate(clip, seed=seed)
                assert task.score(sample.answer, sample.answer) == 1.0
