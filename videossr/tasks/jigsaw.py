"""Task C, Temporal Jigsaw: put shuffled clips of the video back in order (SPEC §5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from videossr.parsing import Mode, parse_order
from videossr.tasks.base import Task
from videossr.types import Clip, Sample

DIFFICULTIES = {"easy": 6, "hard": 8}


def jigsaw_answer(display: list[int]) -> str:
    """The answer for a display order: digit k is the displayed position of original clip k.

    ``display[j]`` is the original index (0-based) of the clip shown at position ``j``.

    Example:
        >>> jigsaw_answer([1, 2, 0, 3])  # shown: orig2, orig3, orig1, orig4
        '3124'
    """
    position = [0] * len(display)
    for j, orig in enumerate(display):
        position[orig] = j + 1
    return "".join(str(p) for p in position)


def max_displacement(n: int) -> int:
    """Largest possible sum of |predicted - true| over a permutation of n items: floor(n^2 / 2)."""
    return n * n // 2


class TemporalJigsaw(Task):
    """Cut the clip into ``n`` equal clips, shuffle them, and ask for the original order.

    Args:
        difficulty: ``"easy"`` (6 clips) or ``"hard"`` (8 clips).
        clips: any number of clips from 2 to 9 (overrides ``difficulty``).
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "temporal_jigsaw"

    def __init__(self, difficulty: str = "easy", clips: int | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        if clips is None:
            if difficulty not in DIFFICULTIES:
                raise ValueError(f"unknown difficulty {difficulty!r}; choose from {sorted(DIFFICULTIES)}")
            clips = DIFFICULTIES[difficulty]
        if not 2 <= int(clips) <= 9:
            raise ValueError(f"clips must be between 2 and 9 (one digit per clip), got {clips}")
        self.clips = int(clips)

    @property
    def subtype(self) -> str:
        for name, n in DIFFICULTIES.items():
            if n == self.clips:
                return f"jigsaw_{name}"
        return f"jigsaw_{self.clips}clips"

    def _parts(self) -> list[str | int]:
        n = self.clips
        parts: list[str | int] = [
            f"The {n} short clips below were cut from one video, one after another, and then shuffled.\n"
        ]
        for j in range(n):
            parts += [f"Clip {j + 1}:", j, "\n"]
        example = "".join(str(i) for i in (list(range(2, n + 1)) + [1]))
        parts.append(
            "Restore the original order. Answer with the clip numbers in the order the clips happened in "
            f"the original video, as {n} digits with nothing between them: the first digit is the clip "
            f"that came first, and so on (for example {example}). " + self.instruction
        )
        return parts

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        n = self.clips
        total = clip.frames.shape[0]
        per = total // n
        if per < 1:
            raise ValueError(f"cannot cut {total} frames into {n} clips")
        display = rng.permutation(n)
        while np.array_equal(display, np.arange(n)):  # the unshuffled order would be a giveaway
            display = rng.permutation(n)
        display_list = [int(i) for i in display]
        videos = [clip.frames[i * per : (i + 1) * per] for i in display_list]
        params: dict[str, Any] = {
            "clips": n,
            "frames_per_clip": per,
            "display_order": display_list,  # original (0-based) index of the clip shown at each position
        }
        return Sample(
            task=self.name,
            subtype=self.subtype,
            parts=self._parts(),
            answer=jigsaw_answer(display_list),
            videos=videos,
            fps=clip.fps,
            params=params,
        )

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[int, ...]:
        s = answer.strip()
        if not s.isdigit() or sorted(s) != [str(i) for i in range(1, len(s) + 1)]:
            raise ValueError(f"malformed jigsaw answer {answer!r}")
        return tuple(int(c) for c in s)

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        pred = parse_order(completion, len(truth), mode)
        if pred is None:
            return 0.0
        error = sum(abs(p - t) for p, t in zip(pred, truth))
        return 1.0 - error / max_displacement(len(truth))

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        return float(parse_order(completion, len(truth), mode) == truth)

    _score = _exact  # VIUBench jigsaw metric: exact sequence match
