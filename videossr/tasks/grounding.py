"""Task A, Anomaly Grounding: find the segment of the clip that was perturbed (SPEC §3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from videossr.parsing import Mode, parse_interval
from videossr.tasks.base import Task
from videossr.tasks.perturbations import PERTURBATIONS, TRAINING_PERTURBATIONS, SegmentContext
from videossr.types import Clip, Sample

MIN_SEGMENT, MAX_SEGMENT = 8, 16


def format_interval(start: float, end: float) -> str:
    return f"{start:.1f}-{end:.1f}"


def temporal_iou(pred: tuple[float, float], true: tuple[float, float]) -> float:
    """Intersection over union of two time intervals; 0 for an empty or reversed prediction.

    Example:
        >>> temporal_iou((0.0, 10.0), (5.0, 15.0))
        0.3333333333333333
    """
    (ps, pe), (ts, te) = pred, true
    if pe <= ps or te <= ts:
        return 1.0 if (ps, pe) == (ts, te) and pe == ps else 0.0
    inter = max(0.0, min(pe, te) - max(ps, ts))
    union = max(pe, te) - min(ps, ts)
    return inter / union if union > 0 else 0.0


class AnomalyGrounding(Task):
    """Perturb a segment of 8-16 frames and ask when it happens.

    Args:
        perturbation: a key of ``PERTURBATIONS``; ``None`` draws one of the four training
            perturbations per sample (from the sample's seed).
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "anomaly_grounding"

    def __init__(self, perturbation: str | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        if perturbation is not None and perturbation not in PERTURBATIONS:
            raise ValueError(f"unknown perturbation {perturbation!r}; choose from {sorted(PERTURBATIONS)}")
        self.perturbation = perturbation

    @property
    def subtype(self) -> str:
        return f"grounding_{self.perturbation or 'mixed'}"

    def prompt(self, description: str, duration: float) -> str:
        return (
            f"This video is {duration:.1f} seconds long. During one continuous stretch of it, {description}; "
            "the rest of the video is untouched. When does that altered stretch start and end? "
            "Give the interval in seconds as start-end with one decimal, for example 14.5-26.2. "
            + self.instruction
        )

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        name = self.perturbation or str(rng.choice(TRAINING_PERTURBATIONS))
        pert = PERTURBATIONS[name]
        frames = clip.frames
        total = frames.shape[0]
        if total < MAX_SEGMENT:
            raise ValueError(f"anomaly grounding needs at least {MAX_SEGMENT} frames, the clip has {total}")
        length = int(rng.integers(MIN_SEGMENT, MAX_SEGMENT + 1))
        start = int(rng.integers(0, total - length + 1))
        if pert.needs_other and other is None:
            raise ValueError(f"the {name!r} perturbation needs another video: pass other=<Clip> to generate()")
        ctx = SegmentContext(clip=frames, start=start, length=length, other=None if other is None else other.frames)
        segment, extra = pert.fn(frames[start : start + length], rng, ctx)
        out = frames.copy()
        out[start : start + length] = segment
        fps = clip.fps
        answer = format_interval(start / fps, (start + length) / fps)
        params: dict[str, Any] = {
            "perturbation": name,
            "family": pert.family,
            "segment": [start, start + length],
            "num_frames": total,
            **({"perturbation_params": extra} if extra else {}),
        }
        if other is not None and pert.needs_other:
            params["other_source"] = other.source
        duration = total / fps
        return Sample(
            task=self.name,
            subtype=f"grounding_{name}",
            parts=[0, self.prompt(pert.description, duration)],
            answer=answer,
            videos=[out],
            fps=fps,
            params=params,
        )

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[float, float]:
        parsed = parse_interval(answer, "strict")
        if parsed is None:
            raise ValueError(f"malformed grounding answer {answer!r}")
        return parsed

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        pred = parse_interval(completion, mode)
        return 0.0 if pred is None else temporal_iou(pred, self._truth(answer))

    _score = _reward  # VIUBench grounding metric is mIoU, the same quantity per item

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        pred = parse_interval(completion, mode)
        if pred is None:
            return 0.0
        return float(format_interval(*pred) == format_interval(*self._truth(answer)))
