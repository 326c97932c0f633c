"""Prompt snapshots: wording changes must be deliberate.

Run ``UPDATE_SNAPSHOTS=1 pytest tests/test_prompts.py`` after an intended change and commit the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from videossr import Clip, get_task

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
    prompt = get_task(name, **kw).generate(fixed_clip, seed=0).prompt
    path = SNAPSHOTS / f"{case}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(prompt)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {path.name} was missing and has been written; review and commit it")
    assert prompt == path.read_text(), f"prompt for {case} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"
