"""What every pretext task shares: seeding, the system turn, and verifiers that never raise.

A task is one small class in its own module. It owns everything the rest of the package needs to
know about it, so that adding a task is one new module plus one line in ``videossr/tasks/__init__.py``:

* ``name`` (the row's ``task`` column), ``short`` (the subtype prefix and the reward's name),
  ``description`` (a paragraph for dataset cards) and ``answer_format``;
* ``options`` (the keyword arguments a user may set, with their choices, for the CLI and the Space),
  ``benchmark_subtypes`` (its VIUBench columns) and ``from_subtype`` (a subtype name back to a task);
* ``generate`` (no I/O: a decoded clip in, a :class:`~videossr.types.Sample` out), ``parse`` (a
  reply to an answer, or ``None``), ``reward`` (the paper's smooth reward), ``strict_reward`` (0/1)
  and ``score`` (the VIUBench metric);
* ``random_answer`` (a uniform guess in the answer space: the random baseline).
"""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

import numpy as np

from videossr.parsing import Mode
from videossr.types import Clip, Sample

#: The system turn of every sample. The reference sets one on every question and asks for no reasoning.
SYSTEM_PROMPT = "You are watching a video. Answer the question directly from what the video shows."
#: The system turn of the optional reasoning format (an extension; the paper has no chain of thought).
REASONING_SYSTEM_PROMPT = (
    "You are watching a video. Think the question through inside <think> </think> tags, then give only "
    "the final answer inside <answer> </answer> tags."
)


class Task:
    """Base class of the pretext tasks.

    Subclasses implement ``_generate``, ``parse``, ``_reward`` (the smooth training reward), ``_score``
    (the VIUBench metric), ``_exact`` and ``random_answer``. The public verifiers wrap them so that a
    verifier returns a float in ``[0, 1]`` whatever reply it is given; only a malformed ground-truth
    answer (a ``ValueError`` from ``_truth``) is turned into 0, so a bug in a parser still surfaces.
    Generation draws all randomness from a generator seeded by ``(seed, task name)``: no global random
    state, so samples can be generated in parallel.
    """

    #: The row's ``task`` column, e.g. ``"anomaly_grounding"``.
    name: ClassVar[str]
    #: The subtype prefix and the reward's name, e.g. ``"grounding"``.
    short: ClassVar[str]
    #: One paragraph for dataset cards and docs.
    description: ClassVar[str] = ""
    #: The answer format, in words, with an example.
    answer_format: ClassVar[str] = ""
    #: Options a user may set: ``{keyword: (choices, help)}``; ``choices`` is ``None`` for free values.
    options: ClassVar[dict[str, tuple[tuple[Any, ...] | None, str]]] = {}
    #: The task's columns of VIUBench, in Table 1 order (empty for tasks outside the benchmark).
    benchmark_subtypes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, reasoning: bool = False):
        # The paper answers directly; the think/answer format is an opt-in extension.
        self.reasoning = reasoning

    # -- naming -----------------------------------------------------------------------------------
    @property
    def subtype(self) -> str:
        raise _must_define(self, "subtype")

    @classmethod
    def from_subtype(cls, subtype: str, reasoning: bool = False) -> Task:
        """The task that produces ``subtype`` (e.g. ``grounding_mirror``); ``ValueError`` if none."""
        raise _must_define(cls, "from_subtype")

    @property
    def system_prompt(self) -> str:
        return REASONING_SYSTEM_PROMPT if self.reasoning else SYSTEM_PROMPT

    # -- generation -------------------------------------------------------------------------------
    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(self.name.encode())])

    def generate(self, clip: Clip, seed: int = 0, other: Clip | None = None) -> Sample:
        """Make one question from ``clip``. Same clip and seed give the identical sample."""
        frames = np.asarray(clip.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"clip frames must be a uint8 (T, H, W, 3) array, got {frames.dtype} {frames.shape}")
        sample = self._generate(clip, self.rng(seed), other)
        sample.seed = int(seed)
        sample.source = clip.source
        sample.system = self.system_prompt
        return sample

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        raise _must_define(self, "_generate")

    def random_answer(self, rng: np.random.Generator, *, fps: float, num_frames: int = 48,
                      num_clips: int = 1, **options: Any) -> str:  # fmt: skip
        """A uniform guess in this task's answer space, written in the strict answer format."""
        raise _must_define(self, "random_answer")

    # -- verifiers --------------------------------------------------------------------------------
    def parse(self, completion: Any, mode: Mode = "strict", answer: str | None = None) -> Any | None:
        """The reply read as an answer, or ``None`` when it cannot be read.

        ``answer`` is the ground truth, for tasks whose answer shape depends on the item (the number
        of jigsaw clips); it is never used to judge the reply.
        """
        raise _must_define(self, "parse")

    def is_parsed(self, completion: Any, answer: str, mode: Mode = "strict") -> bool:
        """Whether the parser can read the reply at all (an unparsable reply still counts, as 0)."""
        try:
            return self.parse(completion, mode, answer=answer) is not None
        except ValueError:  # a malformed ground truth
            return False

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
        raise _must_define(self, "_reward")

    def _score(self, completion: Any, answer: str, mode: Mode) -> float:
        raise _must_define(self, "_score")

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        raise _must_define(self, "_exact")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(subtype={self.subtype!r}, reasoning={self.reasoning})"


def _must_define(owner: Any, method: str) -> NotImplementedError:
    """The error a task subclass gets for a part of the Task interface it has not written yet."""
    cls = owner if isinstance(owner, type) else type(owner)
    return NotImplementedError(f"{cls.__name__} must define {method}() to be a Task (see videossr/tasks/base.py)")


def _safe(fn, completion: Any, answer: Any, mode: Mode) -> float:
    """Run a verifier: a malformed ground truth scores 0; the value is clamped into ``[0, 1]``.

    Only ``ValueError`` is caught, and the tasks raise it only for a ground-truth answer they cannot
    read. The parsers are total on replies of any shape (``tests/test_reference_formulas.py`` and the
    fuzz tests check it), so any other exception is a bug and must not be hidden.
    """
    try:
        value = float(fn(completion, str(answer), mode))
    except ValueError:
        return 0.0
    if value != value:  # NaN
        return 0.0
    return min(1.0, max(0.0, value))
