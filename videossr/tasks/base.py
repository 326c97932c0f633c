"""What every pretext task shares: seeding, the answer instruction, and never-raising verifiers."""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

import numpy as np

from videossr.parsing import Mode
from videossr.types import Clip, Sample

DIRECT_INSTRUCTION = "Reply with the answer only, in exactly that format, without any explanation."
REASONING_INSTRUCTION = (
    "First think it through inside <think> </think> tags, then give only the final answer, in exactly "
    "that format, inside <answer> </answer> tags."
)


class Task:
    """Base class of the pretext tasks.

    Subclasses implement ``_generate``, ``_reward`` (the smooth training reward), ``_score`` (the
    VIUBench metric) and ``_exact``. The public methods wrap them so that a verifier returns a float
    in ``[0, 1]`` whatever it is given, and generation draws all randomness from a generator seeded
    by ``(seed, task name)``: no global random state, so samples can be generated in parallel.
    """

    name: ClassVar[str]

    def __init__(self, reasoning: bool = False):
        # The paper answers directly; the think/answer format is an opt-in extension.
        self.reasoning = reasoning

    # -- generation -------------------------------------------------------------------------------
    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(self.name.encode())])

    @property
    def subtype(self) -> str:
        raise NotImplementedError

    @property
    def instruction(self) -> str:
        return REASONING_INSTRUCTION if self.reasoning else DIRECT_INSTRUCTION

    def generate(self, clip: Clip, seed: int = 0, other: Clip | None = None) -> Sample:
        """Make one question from ``clip``. Same clip and seed give the identical sample."""
        frames = np.asarray(clip.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"clip frames must be a uint8 (T, H, W, 3) array, got {frames.dtype} {frames.shape}")
        sample = self._generate(clip, self.rng(seed), other)
        sample.seed = int(seed)
        sample.source = clip.source
        return sample

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        raise NotImplementedError

    # -- verifiers --------------------------------------------------------------------------------
    def reward(self, completion: Any, answer: str, mode: Mode = "strict") -> float:
        """The paper's smooth reward in ``[0, 1]`` (unparsable replies get 0)."""
        return _safe(self._reward, completion, answer, mode)

    def strict_reward(self, completion: Any, answer: str, mode: Mode = "strict") -> float:
        """The ablation's 0/1 reward: 1 only for an exactly right answer."""
        return _safe(self._exact, completion, answer, mode)

    def score(self, completion: Any, answer: str, mode: Mode = "strict") -> float:
        """The VIUBench metric for one item, in ``[0, 1]``."""
        return _safe(self._score, completion, answer, mode)

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        raise NotImplementedError

    def _score(self, completion: Any, answer: str, mode: Mode) -> float:
        raise NotImplementedError

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(subtype={self.subtype!r}, reasoning={self.reasoning})"


def _safe(fn, completion: Any, answer: str, mode: Mode) -> float:
    try:
        value = float(fn(completion, str(answer), mode))
    except Exception:  # noqa: BLE001 - a verifier never raises, whatever the reply or answer
        return 0.0
    if value != value:  # NaN
        return 0.0
    return min(1.0, max(0.0, value))
