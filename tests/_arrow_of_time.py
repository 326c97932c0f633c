"""A fourth pretext task, written the way a newcomer would add one: this module and one registry line.

Arrow of time: the clip is shown either as recorded or reversed; the question asks which. It lives
with the tests (the suite's only toy task: ``tests/tasks/test_new_task.py`` and the Space's tests register it
with :func:`registered`, which makes the registry line ``register(ArrowOfTime)``) to prove that a task is
one module: nothing else in the package names it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from videossr.parsing import Mode
from videossr.tasks import register, unregister
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
    metric_key = metric_type = "direction_accuracy"
    metric_name = "direction accuracy"
    heuristic = None  # no non-learned solver: the heuristic backend says "none"

    def __init__(self, direction: str | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        self.direction = direction if direction is None else self.check_option("direction", direction)

    def _setting(self) -> str:
        return self.direction or "random"

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> ArrowOfTime | None:
        if setting not in (*DIRECTIONS, "random"):
            return None
        return cls(direction=None if setting == "random" else setting, reasoning=reasoning)

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

    def random_answer(
        self,
        rng: np.random.Generator,
        *,
        fps: float = 0.0,
        num_frames: int = 48,
        num_clips: int = 1,
        **options: Any,
    ) -> str:
        """forward or backward, each with probability 1/2."""
        return DIRECTIONS[int(rng.integers(2))]

    def parse(self, completion: Any, mode: Mode = "strict", answer: str | None = None) -> str | None:
        """Strict: the reply is the word (any case, an optional final full stop); lenient: its last
        mention."""
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


@contextlib.contextmanager
def registered() -> Iterator[type[ArrowOfTime]]:
    """The registry line, ``register(ArrowOfTime)``, for the length of a ``with`` block (then removed)."""
    register(ArrowOfTime)
    try:
        yield ArrowOfTime
    finally:
        unregister(ArrowOfTime.name)
