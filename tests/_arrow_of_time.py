"""A fourth pretext task, written the way a newcomer would add one: this module and one registry line.

Arrow of time: the clip is shown either as recorded or reversed; the question asks which. It lives
with the tests (``tests/test_new_task.py`` registers it in ``videossr.tasks.TASKS`` for one test) to
prove that a task is one module: nothing else in the package names it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from videossr.parsing import Mode
from videossr.tasks.base import Task
from videossr.types import Clip, Sample

DIRECTIONS = ("forward", "backward")
_WORD = re.compile(r"\b(forwards?|backwards?)\b", re.IGNORECASE)


class ArrowOfTime(Task):
    """Play the clip forwards or backwards and ask which.

    Args:
        direction: ``"forward"`` or ``"backward"`` to fix it; ``None`` (default) draws it per sample.
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "arrow_of_time"
    short = "arrow"
    description = (
        "Arrow of Time: the video is played either as recorded or reversed; answer `forward` or `backward`."
    )
    answer_format = "forward or backward"
    options = {"direction": (DIRECTIONS, "fix the direction (default: drawn per sample)")}

    def __init__(self, direction: str | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; choose from {list(DIRECTIONS)}")
        self.direction = direction

    @property
    def subtype(self) -> str:
        return f"arrow_{self.direction or 'random'}"

    @classmethod
    def from_subtype(cls, subtype: str, reasoning: bool = False) -> ArrowOfTime:
        prefix, _, rest = subtype.partition("_")
        if prefix != cls.short or rest not in (*DIRECTIONS, "random"):
            raise ValueError(f"{subtype!r} is not an arrow-of-time subtype")
        return cls(direction=None if rest == "random" else rest, reasoning=reasoning)

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        direction = self.direction or DIRECTIONS[int(rng.integers(2))]
        frames = clip.frames if direction == "forward" else np.ascontiguousarray(clip.frames[::-1])
        question = "Is this video played forwards, as it was recorded, or backwards? Reply with one word: "
        question += "forward or backward."
        if self.reasoning:
            question += " Put that word inside <answer> </answer> tags after your reasoning."
        return Sample(
            task=self.name,
            subtype=self.subtype,
            parts=[question + "\n", 0],
            answer=direction,
            videos=[frames],
            fps=clip.fps,
            params={"direction": direction, "num_frames": int(len(frames))},
        )

    def random_answer(self, rng: np.random.Generator, *, fps: float = 0.0, num_frames: int = 48,
                      num_clips: int = 1, **options: Any) -> str:  # fmt: skip
        """forward or backward, each with probability 1/2."""
        return DIRECTIONS[int(rng.integers(2))]

    def parse(self, completion: Any, mode: Mode = "strict", answer: str | None = None) -> str | None:
        """Strict: the reply is the word (any case, an optional final full stop); lenient: its last mention."""
        text = completion if isinstance(completion, str) else ""
        if mode == "strict":
            word = text.strip().lower().removesuffix(".")
            return word if word in DIRECTIONS else None
        found = _WORD.findall(text[-10_000:])
        return found[-1].lower().removesuffix("s") if found else None

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        if answer not in DIRECTIONS:
            raise ValueError(f"malformed arrow-of-time answer {answer!r}")
        return float(self.parse(completion, mode) == answer)

    _reward = _exact
    _score = _exact
