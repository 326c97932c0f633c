"""A toy benchmark task, self-contained: one module, nothing else in the package names it.

Darker half: one half of the clip (the first or the second) is darkened; the question asks which. It has an
option with choices (``half``), one VIUBench column (``toy_random``, placed between counting and grounding
so that every paper column after it would move if Table 1 were positional), a random guess and a heuristic
solver. The tests register it in-process (:func:`registered`), and ``tests/tasks/test_plugin_task.py``
installs this very file as a separate package whose entry point (group ``videossr.tasks``) names
:class:`DarkerHalf`.
docs/adding_a_task.md walks through it.
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

HALVES = ("first", "second")
_WORD = re.compile(r"\b(first|second)\b", re.IGNORECASE)


class DarkerHalf(Task):
    """Darken the first or the second half of the clip and ask which.

    Args:
        half: ``"first"`` or ``"second"`` to fix it; ``None`` (default) draws it per sample.
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "darker_half"
    short = "toy"
    description = "Darker Half: one half of the video is darkened; answer `first` or `second`."
    answer_format = "first or second"
    options = {"half": (HALVES, "fix the darkened half (default: drawn per sample)")}
    benchmark_subtypes = ("toy_random",)
    benchmark_headers = ("T-R",)
    benchmark_group_header = "Toy"
    benchmark_position = (
        0  # with counting (0, registered earlier: first), before grounding (1) and jigsaw (2)
    )
    heuristic = "the half with the lower mean brightness"

    def __init__(self, half: str | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        self.half = half if half is None else self.check_option("half", half)

    def _setting(self) -> str:
        return self.half or "random"

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> DarkerHalf | None:
        if setting not in (*HALVES, "random"):
            return None
        return cls(half=None if setting == "random" else setting, reasoning=reasoning)

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        half = self.half or HALVES[int(rng.integers(2))]
        frames = np.array(clip.frames, copy=True)
        middle = len(frames) // 2
        part = slice(0, middle) if half == "first" else slice(middle, len(frames))
        frames[part] = (frames[part] * 0.4).astype(np.uint8)
        question = "One half of this video was darkened. Which half? Reply with one word: first or second."
        return Sample(
            task=self.name,
            subtype=self.subtype,
            parts=[question + "\n", 0],
            answer=half,
            videos=[frames],
            fps=clip.fps,
            params={"half": half, "num_frames": int(len(frames))},
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
        """first or second, each with probability 1/2."""
        return HALVES[int(rng.integers(2))]

    @classmethod
    def heuristic_answer(cls, sample: Sample) -> str:
        frames = np.asarray(sample.videos[0], dtype=np.float32)
        middle = len(frames) // 2
        return "first" if frames[:middle].mean() < frames[middle:].mean() else "second"

    def parse(self, completion: Any, mode: Mode = "strict", answer: str | None = None) -> str | None:
        """Strict: the word alone (any case, an optional full stop); lenient: its last mention."""
        text = completion if isinstance(completion, str) else ""
        if mode == "strict":
            word = text.strip().lower().removesuffix(".")
            return word if word in HALVES else None
        found = _WORD.findall(text[-10_000:])
        return found[-1].lower() if found else None

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        if answer not in HALVES:
            raise ValueError(f"malformed darker-half answer {answer!r}")
        return float(self.parse(completion, mode) == answer)

    _reward = _exact
    _score = _exact


def short_reply(completions: Any = None, **columns: Any) -> list[float | None]:
    """A user's own reward (TRL's contract): 1.0 for a reply of at most 8 characters."""
    return [float(len(str(c)) <= 8) for c in ([] if completions is None else completions)]


@contextlib.contextmanager
def registered() -> Iterator[type[DarkerHalf]]:
    """``register(DarkerHalf)`` for the length of a ``with`` block (then removed)."""
    register(DarkerHalf)
    try:
        yield DarkerHalf
    finally:
        unregister(DarkerHalf.name)
