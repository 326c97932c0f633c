"""Each task's SPEC constraints, checked on a real video."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videossr import PERTURBATIONS, TASKS, get_task, task_for_subtype
from videossr.tasks.counting import DIFFICULTIES as COUNT_DIFF
from videossr.tasks.jigsaw import jigsaw_answer
from videossr.tasks.perturbations import TRAINING_PERTURBATIONS

SEEDS = range(12)


def test_tasks_dict():
    assert set(TASKS) == {"anomaly_grounding", "object_counting", "temporal_jigsaw"}
    assert len(PERTURBATIONS) == 17
    families = {p.family for p in PERTURBATIONS.values()}
    assert families == {"fine-grained", "spatial", "temporal"}


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown task"):
        get_task("nope")
    with pytest.raises(ValueError, match="unknown perturbation"):
        get_task("anomaly_grounding", perturbation="sepia")
    with pytest.raises(ValueError, match="unknown difficulty"):
        get_task("object_counting", difficulty="medium")
    with pytest.raises(ValueError, match="between 2 and 9"):
        get_task("temporal_jigsaw", clips=12)


# ---- grounding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
def test_grounding_segment_and_identity_outside(clip, other_clip, perturbation):
    task = get_task("anomaly_grounding", perturbation=perturbation)
    for seed in range(4):
        s = task.generate(clip, seed=seed, other=other_clip)
        assert len(s.videos) == 1
        video = s.videos[0]
        assert video.shape == clip.frames.shape and video.dtype == np.uint8
        start, end = s.params["segment"]
        assert 8 <= end - start <= 16 and 0 <= start and end <= 48
        # frames outside the segment are bit-identical to the clip's
        assert np.array_equal(video[:start], clip.frames[:start])
        assert np.array_equal(video[end:], clip.frames[end:])
        # and the segment really changed
        assert not np.array_equal(video[start:end], clip.frames[start:end]), perturbation
        assert s.answer == f"{start / clip.fps:.1f}-{end / clip.fps:.1f}"
        assert s.params["perturbation"] == perturbation
        assert s.subtype == f"grounding_{perturbation}"
        json.dumps(s.params)


def test_grounding_segment_distribution(clip):
    task = get_task("anomaly_grounding", perturbation="mirror")
    lengths, starts = set(), set()
    for seed in range(300):
        a, b = task.generate(clip, seed=seed).params["segment"]
        lengths.add(b - a)
        starts.add(a)
    assert lengths == set(range(8, 17))  # t uniform in [8, 16]
    assert min(starts) == 0 and max(starts) >= 38  # s uniform in [0, 48 - t]


def test_grounding_default_mix_is_the_training_four(clip):
    task = get_task("anomaly_grounding")
    seen = {task.generate(clip, seed=s).params["perturbation"] for s in range(60)}
    assert seen == set(TRAINING_PERTURBATIONS)


def test_perturbation_semantics(clip, other_clip):
    f = clip.frames
    gen = lambda p, **kw: get_task("anomaly_grounding", perturbation=p).generate(clip, seed=3, **kw)  # noqa: E731
    s = gen("channel_swap")
    a, b = s.params["segment"]
    assert np.array_equal(s.videos[0][a:b], f[a:b, :, :, ::-1])
    s = gen("mirror")
    assert np.array_equal(s.videos[0][a:b], f[a:b, :, ::-1])
    s = gen("rotate180")
    assert np.array_equal(s.videos[0][a:b], f[a:b, ::-1, ::-1])
    s = gen("invert")
    assert np.array_equal(s.videos[0][a:b], 255 - f[a:b])
    s = gen("grayscale")
    seg = s.videos[0][a:b]
    assert np.array_equal(seg[..., 0], seg[..., 1]) and np.array_equal(seg[..., 1], seg[..., 2])
    s = gen("zoom_out")
    seg = s.videos[0][a:b]
    assert seg[:, 0].max() == 0 and seg[:, :, 0].max() == 0  # black border
    assert 1.2 <= s.params["perturbation_params"]["factor"] <= 1.4
    s = gen("zoom_in")
    assert 1.3 <= s.params["perturbation_params"]["factor"] <= 1.5
    s = gen("noise")
    assert 35 <= s.params["perturbation_params"]["sigma"] <= 70
    s = gen("shuffle")
    order = s.params["perturbation_params"]["order"]
    assert sorted(order) == list(range(b - a)) and order != sorted(order)
    assert np.array_equal(s.videos[0][a:b], f[a:b][order])
    s = gen("stutter_hold")
    held = s.params["perturbation_params"]["held_frames"]
    assert 2 <= len(held) <= 5
    assert len({bytes(x) for x in s.videos[0][a:b]}) <= len(held)
    s = gen("slow")
    assert len({bytes(x) for x in s.videos[0][a:b]}) < b - a
    s = gen("fast")
    k = s.params["perturbation_params"]["factor"]
    src = s.params["perturbation_params"]["source_start"]
    assert np.array_equal(s.videos[0][a:b], f[src + k * np.arange(b - a)])
    s = gen("swap", other=other_clip)
    assert s.params["other_source"] == other_clip.source
    for p in ("rotate90", "rotate270"):
        s = gen(p)
        assert s.videos[0].shape == f.shape  # letterboxed back into the clip's frame shape


def test_swap_needs_another_video(clip):
    with pytest.raises(ValueError, match="another video"):
        get_task("anomaly_grounding", perturbation="swap").generate(clip, seed=0)


# ---- counting -------------------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_counting_constraints(clip, difficulty):
    task = get_task("object_counting", difficulty=difficulty)
    max_frames, max_inst = COUNT_DIFF[difficulty]
    all_counts = []
    for seed in range(40):
        s = task.generate(clip, seed=seed)
        placements = s.params["placements"]
        frames_used = [p["frame"] for p in placements]
        assert len(frames_used) == len(set(frames_used))  # one shape type per frame
        counts = {"circle": 0, "square": 0, "triangle": 0}
        short = min(clip.size)
        h, w = clip.size
        for shape in counts:
            mine = sorted(p["frame"] for p in placements if p["shape"] == shape)
            assert 1 <= len(mine) <= max_frames
            assert all(b - a > 8 for a, b in zip(mine, mine[1:]))  # more than 8 frames apart
            for p in placements:
                if p["shape"] == shape:
                    assert 1 <= p["instances"] <= max_inst and len(p["items"]) == p["instances"]
                    counts[shape] += p["instances"]
                    for item in p["items"]:
                        assert 0.2 * short - 0.1 <= item["size"] <= 0.4 * short + 0.1
                        assert 0.15 * w - 0.1 <= item["center"][0] <= 0.85 * w + 0.1
                        assert 0.15 * h - 0.1 <= item["center"][1] <= 0.85 * h + 0.1
                        assert all(50 <= c <= 255 for c in item["color"])
        assert s.answer == f"{counts['circle']},{counts['square']},{counts['triangle']}"
        assert s.params["counts"] == counts
        all_counts += counts.values()
        video = s.videos[0]
        for i in range(48):
            if i in frames_used:
                assert not np.array_equal(video[i], clip.frames[i])
            else:
                assert np.array_equal(video[i], clip.frames[i])
    assert min(all_counts) == 1 and max(all_counts) <= max_frames * max_inst
    assert max(all_counts) >= (6 if difficulty == "easy" else 9)


def test_counting_shapes_are_visible(clip):
    """Pixels inside a drawn circle take the drawn colour."""
    s = get_task("object_counting").generate(clip, seed=5)
    p = next(p for p in s.params["placements"] if p["shape"] == "circle" and p["instances"] == 1)
    item = p["items"][0]
    cx, cy = (round(v) for v in item["center"])
    assert s.videos[0][p["frame"], cy, cx].tolist() == item["color"]


# ---- jigsaw ---------------------------------------------------------------------------------------
def test_jigsaw_answer_semantics():
    assert jigsaw_answer([1, 2, 0, 3]) == "3124"  # SPEC §5 example
    assert jigsaw_answer([0, 1, 2]) == "123"


@pytest.mark.parametrize(("difficulty", "n"), [("easy", 6), ("hard", 8)])
def test_jigsaw_clips_are_exact_slices(clip, difficulty, n):
    task = get_task("temporal_jigsaw", difficulty=difficulty)
    per = 48 // n
    for seed in SEEDS:
        s = task.generate(clip, seed=seed)
        assert len(s.videos) == n and s.subtype == f"jigsaw_{difficulty}"
        display = s.params["display_order"]
        assert sorted(display) == list(range(n)) and display != list(range(n))
        for j, orig in enumerate(display):
            assert np.array_equal(s.videos[j], clip.frames[orig * per : (orig + 1) * per])
        # digit k = displayed position of original clip k: reassembling by the answer restores the clip
        restored = np.concatenate([s.videos[int(d) - 1] for d in s.answer])
        assert np.array_equal(restored, clip.frames[: n * per])
        assert s.prompt.count("<video>") == n


def test_jigsaw_custom_clip_count(clip):
    s = get_task("temporal_jigsaw", clips=4).generate(clip, seed=0)
    assert len(s.videos) == 4 and s.subtype == "jigsaw_4clips" and len(s.answer) == 4
    assert task_for_subtype("jigsaw_4clips").clips == 4


# ---- shared ---------------------------------------------------------------------------------------
TASK_CASES = [
    ("anomaly_grounding", {"perturbation": "noise"}),
    ("anomaly_grounding", {}),
    ("object_counting", {"difficulty": "hard"}),
    ("temporal_jigsaw", {"difficulty": "hard"}),
]


@pytest.mark.parametrize(("name", "kw"), TASK_CASES)
def test_determinism_and_seed_sensitivity(clip, name, kw):
    a = get_task(name, **kw).generate(clip, seed=7)
    b = get_task(name, **kw).generate(clip, seed=7)
    assert a.answer == b.answer and a.params == b.params and a.prompt == b.prompt
    assert all(np.array_equal(x, y) for x, y in zip(a.videos, b.videos))
    answers = {get_task(name, **kw).generate(clip, seed=s).answer for s in range(10)}
    assert len(answers) > 3


def test_generation_does_not_touch_global_random_state(clip):
    import random

    np.random.seed(0)
    random.seed(0)
    expected = (np.random.random(), random.random())
    np.random.seed(0)
    random.seed(0)
    get_task("object_counting").generate(clip, seed=1)
    get_task("anomaly_grounding", perturbation="shuffle").generate(clip, seed=1)
    assert (np.random.random(), random.random()) == expected


@pytest.mark.parametrize(("name", "kw"), TASK_CASES)
def test_generate_does_not_modify_the_clip(clip, name, kw):
    before = clip.frames.copy()
    get_task(name, **kw).generate(clip, seed=1)
    assert np.array_equal(before, clip.frames)


def test_reasoning_prompt_is_opt_in(clip):
    direct = get_task("object_counting").generate(clip, seed=0)
    thinking = get_task("object_counting", reasoning=True).generate(clip, seed=0)
    assert "<think>" not in direct.prompt and "<answer>" in thinking.prompt
    assert direct.answer == thinking.answer


def test_messages(clip):
    s = get_task("temporal_jigsaw").generate(clip, seed=0)
    msgs = s.to_messages()
    videos = [c for c in msgs[0]["content"] if c["type"] == "video"]
    assert len(videos) == 6 and all(v["fps"] == s.fps for v in videos)
    assert all(v["video"] is s.videos[i] for i, v in enumerate(videos))
    bare = s.to_messages(videos="none")
    assert all("video" not in c for c in bare[0]["content"])
