"""Prompt snapshots: wording changes must be deliberate.

Run ``UPDATE_SNAPSHOTS=1 pytest tests/tasks/test_prompts.py`` after an intended change and commit the files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from videossr import PERTURBATIONS, TASKS, Clip, get_task
from videossr.tasks import SYSTEM_PROMPT

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = {
    "grounding_mirror": ("anomaly_grounding", {"perturbation": "mirror"}),
    "grounding_channel_swap": ("anomaly_grounding", {"perturbation": "channel_swap"}),
    "grounding_rotate180": ("anomaly_grounding", {"perturbation": "rotate180"}),
    "grounding_zoom_out": ("anomaly_grounding", {"perturbation": "zoom_out"}),
    "grounding_shuffle": ("anomaly_grounding", {"perturbation": "shuffle"}),
    "counting_easy": ("object_counting", {"difficulty": "easy"}),
    "jigsaw_easy": ("temporal_jigsaw", {"difficulty": "easy"}),
    "jigsaw_hard": ("temporal_jigsaw", {"difficulty": "hard"}),
    "counting_easy_reasoning": ("object_counting", {"reasoning": True}),
}


@pytest.fixture(scope="module")
def fixed_clip() -> Clip:
    frames = np.random.default_rng(0).integers(0, 255, size=(48, 64, 96, 3), dtype=np.uint8)
    return Clip(frames=frames, fps=48 / 30.0, source="fixed")


@pytest.mark.parametrize("case", sorted(CASES))
def test_prompt_snapshot(fixed_clip, case):
    name, kw = CASES[case]
    sample = get_task(name, **kw).generate(fixed_clip, seed=0)
    prompt = f"[system]\n{sample.system}\n[user]\n{sample.prompt}"
    path = SNAPSHOTS / f"{case}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(prompt)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {path.name} was missing and has been written; review and commit it")
    assert prompt == path.read_text(), f"prompt for {case} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


# ---- what the prompts may and may not say (docs/method.md §12) -------------------------------------------
@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
@pytest.mark.parametrize("duration", [7.3, 30.0, 95.25])
def test_grounding_prompt_never_states_the_duration_or_extra_hints(perturbation, duration):
    frames = np.zeros((48, 32, 48, 3), dtype=np.uint8)
    frames[:] = np.arange(48, dtype=np.uint8)[:, None, None, None] * 5
    clip = Clip(frames=frames, fps=48 / duration, source="fixed")
    other = Clip(frames=255 - frames, fps=48 / duration, source="other")
    sample = get_task("anomaly_grounding", perturbation=perturbation).generate(clip, seed=1, other=other)
    text = sample.prompt.lower()
    numbers = set(re.findall(r"\d+(?:\.\d+)?", text))
    assert numbers <= {"14.5", "26.2", "180", "90"}, numbers  # only the format example and the turn's angle
    for phrase in (
        "second long",
        "seconds long",
        "duration",
        "untouched",
        "unchanged",
        "rest of the video",
        "black border",
        "upside down",
        "shrunk",
    ):
        assert phrase not in text
    assert PERTURBATIONS[perturbation].description in sample.prompt
    assert "start-end" in text and "14.5-26.2" in text


def test_every_sample_has_the_answer_directly_system_turn(fixed_clip):
    for name in TASKS:
        sample = get_task(name).generate(fixed_clip, seed=0)
        assert sample.system == SYSTEM_PROMPT and "directly" in SYSTEM_PROMPT
        assert sample.to_messages(videos="none")[0] == {
            "role": "system",
            "content": [{"type": "text", "text": SYSTEM_PROMPT}],
        }


def test_counting_prompt_carries_the_reference_information(fixed_clip):
    text = get_task("object_counting").generate(fixed_clip, seed=0).prompt.lower()
    for phrase in (
        "circles, squares and triangles",
        "any colour",
        "any rotation",
        "several frames",
        "more than one shape",
        "3,1,4",
    ):
        assert phrase in text


@pytest.mark.parametrize("clips", [6, 8])
def test_jigsaw_prompt_carries_a_worked_mapping_example(fixed_clip, clips):
    text = get_task("temporal_jigsaw", clips=clips).generate(fixed_clip, seed=0).prompt
    assert f"Clip 1 to Clip {clips}" in text and "chronological" in text and "starts with 34" in text
