"""Task C, Temporal Jigsaw: put shuffled clips of the video back in order.

The paper's rules and formulas, as this module implements them:

* the 48 frames are cut into ``n`` equal clips (easy 6, hard 8), shown in a random non-identity order
  as Clip 1..n;
* answer: ``n`` digits, the displayed clip numbers in chronological order (digit ``k`` is the displayed
  position of the ``k``-th original clip, the inverse of the display permutation);
* training reward: ``1 - E / floor(n^2 / 2)`` with ``E = sum over clip numbers k of
  |index of k in the reply - index of k in the answer|``: how far each clip is placed from its true
  place in time. Clip numbers are labels, so this is *not* the digit-wise ``sum_i |reply[i] - answer[i]|``
  (the two disagree on about 80 % of replies). A reversed order scores 0; a random one about 0.35;
* VIUBench metric and strict 0/1 reward: exact sequence match.

Difficulty knob (:mod:`videossr.tasks.base`): the number of clips, piecewise linear through
:data:`CLIPS_KNOB` and rounded half up: 0 -> 2 clips, 0.5 (``easy``) -> 6, 0.75 (``hard``) -> 8, 1 -> 9
(2 clips from 0 to 0.0625, then one more clip every 0.125 up to 8 at 0.75, and 9 from 0.875).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videossr.errors import ClipUnusable
from videossr.parsing import Mode, parse_order
from videossr.tasks.base import Task, knob_int
from videossr.tasks.jigsaw.solver import solve_jigsaw
from videossr.types import Clip, Sample

DIFFICULTIES = {"easy": 6, "hard": 8}
#: The difficulty knob: ``(level, clips)`` points, linear in between, rounded half up.
CLIPS_KNOB = ((0.0, 2.0), (0.5, 6.0), (0.75, 8.0), (1.0, 9.0))


def clips_at(level: float) -> int:
    """Number of clips at a point of the difficulty knob (2 at 0, 6 at 0.5, 8 at 0.75, 9 at 1)."""
    return knob_int(level, CLIPS_KNOB)


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
    """Largest possible total displacement of a permutation of n items: ``floor(n^2 / 2)``."""
    return n * n // 2


def displacement(pred: tuple[int, ...] | list[int], truth: tuple[int, ...] | list[int]) -> int:
    """``E = sum over clip numbers k of |index of k in pred - index of k in truth|``.

    ``pred`` and ``truth`` are orders of the same clip numbers. The clip numbers are labels: what is
    compared is *where* each clip sits in time, not the digits themselves.

    Example:
        >>> displacement((4, 2, 1, 3), (3, 1, 2, 4))  # the true order reversed
        8
        >>> displacement((3, 1, 2, 4), (3, 1, 2, 4))
        0
    """
    where = {k: i for i, k in enumerate(truth)}
    return sum(abs(i - where[k]) for i, k in enumerate(pred))


class TemporalJigsaw(Task):
    """Cut the clip into ``n`` equal clips, shuffle them, and ask for the original order.

    Args:
        difficulty: ``"easy"`` (6 clips) or ``"hard"`` (8 clips), the paper's settings; or a point of the
            difficulty knob in ``[0, 1]`` (a float or numeric string): :func:`clips_at` clips, recorded
            in the subtype (``jigsaw@0.6``) and in ``params["difficulty"]``.
        clips: any number of clips from 2 to 9 (overrides ``difficulty``).
        reasoning: ask for think/answer tags instead of a direct answer.
    """

    name = "temporal_jigsaw"
    short = "jigsaw"
    description = (
        "Temporal Jigsaw: the video is cut into equal clips shown in shuffled order as Clip 1..n; answer "
        "the clip numbers in chronological order as one string of digits."
    )
    answer_format = "the n clip numbers in chronological order, e.g. 3124"
    options = {
        "difficulty": (tuple(DIFFICULTIES), "easy: 6 clips; hard: 8 clips"),
        "clips": (tuple(range(2, 10)), "any number of clips from 2 to 9 (overrides difficulty)"),
    }
    benchmark_subtypes = ("jigsaw_easy", "jigsaw_hard")
    benchmark_headers = ("J-E", "J-H")
    benchmark_group_header = "Jig"
    benchmark_position = 2
    metric_key = metric_type = "exact_match"
    metric_name = "exact sequence match"
    heuristic = "last-frame/first-frame continuity cost, exact best path (Held-Karp)"
    difficulty_help = "jigsaw: clips 2 (0) .. 6 (0.5, easy) .. 8 (0.75, hard) .. 9 (1)"

    def __init__(self, difficulty: str | float = "easy", clips: int | None = None, reasoning: bool = False):
        super().__init__(reasoning)
        if clips is None:
            named = self._named_setting(difficulty, DIFFICULTIES)
            # The paper's named setting records nothing new; a knob level is recorded in self.level.
            clips = DIFFICULTIES[named] if named is not None else clips_at(self.level)
        if not 2 <= int(clips) <= 9:
            raise ValueError(f"clips must be between 2 and 9 (one digit per clip), got {clips}")
        self.clips = int(clips)

    def _setting(self) -> str:
        if self.level is not None:
            return ""
        named = [name for name, n in DIFFICULTIES.items() if n == self.clips]
        return named[0] if named else f"{self.clips}clips"

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> TemporalJigsaw | None:
        if level is not None:  # a knob level replaces the named setting
            return cls(difficulty=level, reasoning=reasoning)
        if setting in DIFFICULTIES:
            return cls(difficulty=setting, reasoning=reasoning)
        if setting.endswith("clips") and setting[:-5].isdigit():
            return cls(clips=int(setting[:-5]), reasoning=reasoning)
        return None

    def _parts(self) -> list[str | int]:
        """The question (docs/method.md §12): shuffled clips, restore the order, one worked example of
        the mapping."""
        n = self.clips
        parts: list[str | int] = [
            f"The {n} clips below come from one video, but they are shown in shuffled order as Clip 1 to "
            f"Clip {n}.\n"
        ]
        for j in range(n):
            parts += [f"Clip {j + 1}:", j, "\n"]
        text = (
            "Restore the original temporal order of the clips. Reply with the clip numbers in chronological "
            f"order as one string of {n} digits. For example, if the clip that happens first is shown as "
            "Clip 3 and the clip that happens second is shown as Clip 4, your reply starts with 34."
        )
        if self.reasoning:
            text += " Put that reply inside <answer> </answer> tags after your reasoning."
        parts.append(text)
        return parts

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        n = self.clips
        total = clip.frames.shape[0]
        per = total // n
        if per < 1:
            raise ClipUnusable(f"cannot cut {total} frames into {n} clips")
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
        if self.level is not None:
            params["difficulty"] = self.level
        return Sample(
            task=self.name,
            subtype=self.subtype,
            parts=self._parts(),
            answer=jigsaw_answer(display_list),
            videos=videos,
            fps=clip.fps,
            params=params,
        )

    def random_answer(
        self,
        rng: np.random.Generator,
        *,
        fps: float = 0.0,
        num_frames: int = 48,
        num_clips: int = 0,
    ) -> str:
        """A uniformly random order of the clips shown (``num_clips``, else this task's ``clips``)."""
        n = int(num_clips) if num_clips and num_clips > 1 else self.clips
        return "".join(str(int(k) + 1) for k in rng.permutation(n))

    @classmethod
    def random_rule(cls, rule: str = "uniform") -> str:
        return "uniform random permutation of the clips"

    @classmethod
    def heuristic_answer(cls, sample: Sample) -> str:
        return solve_jigsaw([np.asarray(v) for v in sample.videos])

    # -- verifiers --------------------------------------------------------------------------------
    @staticmethod
    def _truth(answer: str) -> tuple[int, ...]:
        s = answer.strip()
        if not 2 <= len(s) <= 9 or sorted(s) != [str(i) for i in range(1, len(s) + 1)]:
            raise ValueError(f"malformed jigsaw answer {answer!r}")
        return tuple(int(c) for c in s)

    def parse(
        self, completion: Any, mode: Mode = "strict", answer: str | None = None
    ) -> tuple[int, ...] | None:
        """The clip numbers in the predicted order; their number is the answer's, else this task's."""
        n = len(self._truth(answer)) if answer is not None else self.clips
        return parse_order(completion, n, mode)

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        """``1 - E / floor(n^2 / 2)``, ``E`` the total displacement of the clips (:func:`displacement`)."""
        truth = self._truth(answer)
        pred = parse_order(completion, len(truth), mode)
        if pred is None:
            return 0.0
        return 1.0 - displacement(pred, truth) / max_displacement(len(truth))

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        truth = self._truth(answer)
        return float(parse_order(completion, len(truth), mode) == truth)

    _score = _exact  # VIUBench jigsaw metric: exact sequence match
