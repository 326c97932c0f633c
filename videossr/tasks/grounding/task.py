"""Task A, Anomaly Grounding: find the segment of the clip that was perturbed.

The paper's formulas, as this module implements them:

* segment: length ``t`` uniform in ``[8, 16]`` frames, start ``s`` uniform in ``[0, 48 - t]``;
* ground truth: ``f"{s / fps:.1f}-{(s + t) / fps:.1f}"`` (the end is the first frame after the segment);
* training reward and VIUBench metric (the same quantity per item): temporal IoU of the predicted and
  the true interval, ``max(0, min(pe, te) - max(ps, ts)) / (max(pe, te) - min(ps, ts))``, in ``[0, 1]``;
* strict 0/1 reward: the interval, written with one decimal, equals the truth.

Difficulty knob (:mod:`videossr.tasks.base`): the segment gets shorter and the perturbation weaker as the
level rises. Segment length range (of 48 frames, scaled to other clip lengths), piecewise linear through
:data:`SEGMENT_KNOB`, rounded half up: 16-24 frames at 0, the paper's 8-16 at 0.5, 3-6 at 1. The
perturbation's strength, where it has one, follows
:data:`~videossr.tasks.grounding.perturbations.STRENGTH_KNOB`. Which perturbations are in play is not the
knob's business: that stays the task's ``perturbation`` (or the build's mix).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videossr.errors import ClipUnusable
from videossr.parsing import Mode, parse_interval
from videossr.tasks.base import Interval, Task, check_random_rule, level_suffix, parse_difficulty
from videossr.tasks.grounding.perturbations import (
    BENCHMARK_PERTURBATIONS,
    PERTURBATIONS,
    TRAINING_PERTURBATIONS,
    SegmentContext,
)
from videossr.tasks.grounding.segment import (
    MAX_SEGMENT,
    MIN_SEGMENT,
    format_interval,
    segment_range,
)
from videossr.tasks.grounding.solver import solve_grounding
from videossr.types import Clip, Sample


def temporal_iou(pred: tuple[float, float], true: tuple[float, float]) -> float:
    """The paper's temporal IoU: ``max(0, min(pe, te) - max(ps, ts)) / (max(pe, te) - min(ps, ts))``.

    A reversed or zero-length prediction has no intersection and scores 0. Where the paper's formula
    is undefined, this returns 0 instead: a zero union (0/0) and non-finite ends (a reply such as
    ``9999...9-9999...9`` overflows to ``inf-inf``, which the reference turns into NaN).

    Example:
        >>> temporal_iou((0.0, 10.0), (5.0, 15.0))
        0.3333333333333333
        >>> temporal_iou((10.0, 5.0), (5.0, 15.0))  # reversed
        0.0
    """
    (ps, pe), (ts, te) = pred, true
    if not all(math.isfinite(x) for x in (ps, pe, ts, te)):
        return 0.0
    inter = max(0.0, min(pe, te) - max(ps, ts))
    union = max(pe, te) - min(ps, ts)
    return inter / union if union > 0 else 0.0


class AnomalyGrounding(Task):
    """Perturb a segment of 8-16 frames and ask when it happens.

    Args:
        perturbation: a key of ``PERTURBATIONS``; ``None`` draws one of the four training
            perturbations per sample (from the sample's seed).
        difficulty: a point of the difficulty knob in ``[0, 1]`` (a float, numeric string, or a named
            point); ``None`` (the default) is the paper's generation. Recorded in the subtype
            (``grounding_mirror@0.7``) and in ``params["difficulty"]``.
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "anomaly_grounding"
    short = "grounding"
    description = (
        "Anomaly Grounding: a stretch of 8-16 of the 48 frames is perturbed (the question names the kind "
        "of change); answer its interval in seconds as `start-end`."
    )
    answer_format = "start-end in seconds with one decimal, e.g. 14.5-26.2"
    options = {
        "perturbation": (tuple(sorted(PERTURBATIONS)), "the kind of change (default: the training mix)")
    }
    option_defaults = {"perturbation": "mirror"}
    benchmark_subtypes = tuple(f"grounding_{p}" for p in BENCHMARK_PERTURBATIONS)
    benchmark_headers = ("Chan", "Rot", "ZOut", "Mirr", "Shuf")
    benchmark_group_header = "Grd"
    benchmark_position = 1
    metric_key, metric_type, metric_name = "miou", "miou", "mIoU"
    heuristic = (
        "frame-boundary change detection, perturbation-aware (undo/redo test) where an inverse is known, "
        "else the most changing 8-16 frame stretch"
    )
    difficulty_help = (
        "grounding: segment 16-24 frames (0) .. 8-16 (0.5, the paper) .. 3-6 (1), and weaker noise, blur, "
        "zoom, saturation and speed changes as it rises"
    )

    def __init__(
        self, perturbation: str | None = None, reasoning: bool = False, difficulty: float | str | None = None
    ):
        super().__init__(reasoning)
        self.perturbation = (
            perturbation if perturbation is None else self.check_option("perturbation", perturbation)
        )
        if difficulty is not None:
            self.level = parse_difficulty(difficulty)

    def with_difficulty(self, difficulty: float | str) -> AnomalyGrounding:
        return type(self)(perturbation=self.perturbation, reasoning=self.reasoning, difficulty=difficulty)

    def _setting(self) -> str:
        return self.perturbation or "mixed"

    @classmethod
    def option_labels(cls, key: str) -> list[tuple[Any, str]]:
        if key == "perturbation":  # in the registry's order, each with its family
            return [(name, f"{name} ({p.family})") for name, p in PERTURBATIONS.items()]
        return super().option_labels(key)

    @property
    def needs_other_clip(self) -> bool:
        return self.perturbation is not None and PERTURBATIONS[self.perturbation].needs_other

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> AnomalyGrounding | None:
        if setting and setting != "mixed" and setting not in PERTURBATIONS:
            return None
        perturbation = None if setting in ("", "mixed") else setting
        return cls(perturbation=perturbation, reasoning=reasoning, difficulty=level)

    def prompt(self, description: str) -> str:
        """The question: the named change, the interval asked for, and the reply format (docs/method.md §12).

        It deliberately leaves out the video's duration and any hint beyond the change's name.
        """
        text = (
            f"In one segment of this video, {description}. Find the time interval of this change. "
            "Reply with only its start and end times in seconds, as start-end, for example 14.5-26.2."
        )
        if self.reasoning:
            text += " Put that reply inside <answer> </answer> tags after your reasoning."
        return text

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        name = self.perturbation or str(rng.choice(TRAINING_PERTURBATIONS))
        pert = PERTURBATIONS[name]
        frames = clip.frames
        total = frames.shape[0]
        if total < MAX_SEGMENT:
            raise ClipUnusable(f"anomaly grounding needs at least {MAX_SEGMENT} frames, the clip has {total}")
        low, high = segment_range(total, self.level) if self.level is not None else (MIN_SEGMENT, MAX_SEGMENT)
        length = int(rng.integers(low, high + 1))
        start = int(rng.integers(0, total - length + 1))
        if pert.needs_other and other is None:
            raise ValueError(
                f"the {name!r} perturbation needs another video: pass other=<Clip> to generate()"
            )
        ctx = SegmentContext(
            clip=frames,
            start=start,
            length=length,
            other=None if other is None else other.frames,
            source_size=clip.source_size,
            level=self.level,
        )
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
        if self.level is not None:
            params["difficulty"] = self.level
        if other is not None and pert.needs_other:
            params["other_source"] = other.source
        return Sample(
            task=self.name,
            subtype=f"grounding_{name}{level_suffix(self.level)}",
            parts=[0, self.prompt(pert.description)],
            answer=answer,
            videos=[out],
            fps=fps,
            params=params,
        )

    def random_answer(
        self,
        rng: np.random.Generator,
        *,
        fps: float,
        num_frames: int = 48,
        num_clips: int = 1,
    ) -> str:
        """The longest segment the generator makes, at a start uniform where it fits; never the frames.

        The guess is 16 of 48 frames: expected IoU about 25.4 %, the paper's random row (the random
        backend's ``"uniform"`` rule). Its ``"prior"`` rule is :meth:`prior_answer` (about 21.6 %). At an
        explicit knob level the guess knows that level's segment lengths.
        """
        return self._interval_guess(rng, fps, num_frames, draw_length=False)

    def prior_answer(
        self, rng: np.random.Generator, *, fps: float, num_frames: int = 48, num_clips: int = 1
    ) -> str:
        """Length and start drawn from the generator's own distribution, never the frames."""
        return self._interval_guess(rng, fps, num_frames, draw_length=True)

    def _interval_guess(
        self, rng: np.random.Generator, fps: float, num_frames: int, draw_length: bool
    ) -> str:
        if not fps > 0:
            raise ValueError("a grounding guess needs the clip's fps (answers are in seconds)")
        lo, hi = segment_range(num_frames, self.level)
        length = int(rng.integers(lo, hi + 1)) if draw_length else hi
        start = int(rng.integers(0, num_frames - length + 1))
        return format_interval(start / fps, (start + length) / fps)

    @classmethod
    def random_rule(cls, rule: str = "uniform") -> str:
        return {
            "uniform": "16 of 48 frames (the longest anomaly), start uniform in 0..32",
            "prior": "length uniform in 8..16 frames, start uniform where it fits",
        }[check_random_rule(rule)]

    @classmethod
    def heuristic_answer(cls, sample: Sample) -> str:
        # The question names the kind of change, and the subtype says the same: no ground truth is read.
        subtype = sample.subtype.partition("@")[
            0
        ]  # a difficulty level ("grounding_mirror@0.7") names no change
        perturbation = subtype[len("grounding_") :] if subtype.startswith("grounding_") else None
        return solve_grounding(np.asarray(sample.videos[0]), sample.fps, perturbation)

    def timeline(
        self, reply: Any, answer: str, mode: Mode = "strict"
    ) -> tuple[Interval | None, Interval | None]:
        return parse_interval(answer, "strict"), parse_interval(reply, mode)

    def corpus_metrics(self, predictions: Any, references: Any, mode: Mode = "strict") -> dict[str, Any]:
        """mIoU (the VIUBench metric), recall at IoU 0.3 / 0.5 / 0.7, unparsable replies and the count."""
        ious = [self.score(p, r, mode) for p, r in zip(predictions, references)]
        out: dict[str, Any] = {"miou": _mean(ious)}
        for t in (0.3, 0.5, 0.7):
            out[f"recall@{t}"] = _mean([float(i >= t) for i in ious])
        out["unparsed"] = sum(parse_interval(p, mode) is None for p in predictions)
        out["count"] = len(ious)
        return out

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[float, float]:
        parsed = parse_interval(answer, "strict")
        if parsed is None:
            raise ValueError(f"malformed grounding answer {answer!r}")
        return parsed

    def parse(
        self, completion: Any, mode: Mode = "strict", answer: str | None = None
    ) -> tuple[float, float] | None:
        """``(start, end)`` in seconds (see :func:`videossr.parsing.parse_interval`)."""
        return parse_interval(completion, mode)

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        pred = self.parse(completion, mode)
        return 0.0 if pred is None else temporal_iou(pred, truth)

    _score = _reward  # VIUBench grounding metric is mIoU, the same quantity per item

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        pred = self.parse(completion, mode)
        if pred is None or not all(math.isfinite(x) for x in pred):
            return 0.0
        return float(format_interval(*pred) == format_interval(*truth))


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0
