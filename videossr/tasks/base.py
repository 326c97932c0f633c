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
* ``random_answer`` (a uniform guess in the answer space: the random baseline), ``prior_answer`` (a guess
  from the generator's own distribution), ``random_guess`` (either, by a rule of :data:`RANDOM_RULES`) and
  ``random_rule`` (that guess in words); ``heuristic`` and ``heuristic_answer`` (the non-learned solver, or
  ``None``: none);
* its place in VIUBench: ``benchmark_subtypes`` with their Table 1 headers, the group header and position,
  and its metric (``metric_key``, ``metric_type``, ``metric_name``, ``corpus_metrics``);
* ``timeline`` (the true and predicted intervals, for tasks answered with one: the Space draws them);
* ``with_difficulty`` (the same task at a point of the difficulty knob, below).

The rest of the package (metrics, scoring, model cards, baselines, rewards, the Space) reads these and
names no task. What is the same in every task lives here: an option checked against its declared choices
(:meth:`Task.check_option`), the subtype name built from ``short`` and one setting (:meth:`Task._setting`),
and ``from_subtype`` by prefix (:meth:`Task._from_setting` reads the rest).

The difficulty knob. Every task takes one float ``difficulty`` in ``[0, 1]`` (0 easiest), mapped by the
task's own module onto its generation parameters, monotonically: a higher value never makes any
parameter easier. The paper's fixed settings are named points on the scale (:data:`NAMED_DIFFICULTIES`:
``easy`` = 0.5 is the paper's default setting of every task, ``hard`` = 0.75 its hard counting and
jigsaw). A task built without an explicit float keeps the paper's generation exactly (same random draws,
same bytes); one built with a float records it: ``level`` on the task, ``params["difficulty"]`` in every
sample, and an ``@<level>`` suffix on the subtype (``counting@0.3``, ``grounding_mirror@0.7``), which
``from_subtype`` reads back, so a row names the generator that made it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from videossr.errors import ClipUnusable
from videossr.parsing import Mode
from videossr.types import Clip, Sample

#: An interval on a clip's timeline, in seconds: ``(start, end)``.
Interval = tuple[float, float]

#: The system turn of every sample. The reference sets one on every question and asks for no reasoning.
SYSTEM_PROMPT = "You are watching a video. Answer the question directly from what the video shows."
#: The system turn of the optional reasoning format (an extension; the paper has no chain of thought).
REASONING_SYSTEM_PROMPT = (
    "You are watching a video. Think the question through inside <think> </think> tags, then give only "
    "the final answer inside <answer> </answer> tags."
)

#: The paper's fixed settings as points on the difficulty knob. ``easy`` is the paper's default setting of
#: every task (6 jigsaw clips, counting up to 3 x 3, 8-16 frame anomalies at the paper's strengths).
NAMED_DIFFICULTIES: dict[str, float] = {"easy": 0.5, "hard": 0.75}
#: The knob's default point: the paper's settings.
#: The random baseline's rules, the same for every task (``random`` / ``random:prior``): ``"uniform"``, the
#: task's :meth:`Task.random_answer` (the benchmark's random row), or ``"prior"``, its
#: :meth:`Task.prior_answer` (the generator's own distribution of answers). Each task says what they mean.
RANDOM_RULES = ("uniform", "prior")

PAPER_DIFFICULTY = 0.5
#: Explicit levels are rounded to this many decimals, so the subtype suffix names the level exactly.
LEVEL_DECIMALS = 3


def check_random_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`RANDOM_RULES`, else ``ValueError`` naming them."""
    if rule not in RANDOM_RULES:
        raise ValueError(f"unknown random rule {rule!r}; use {' or '.join(map(repr, RANDOM_RULES))}")
    return rule


def parse_difficulty(value: float | str) -> float:
    """The knob's value from a float, a numeric string (``"0.3"``) or a named point (``"easy"``, ``"hard"``).

    Raises ``ValueError`` for anything else or a value outside ``[0, 1]``. The value is rounded to
    :data:`LEVEL_DECIMALS` decimals and is never ``-0.0`` (``"-0"``, ``"-0.0"`` and ``"-1e-400"`` give
    ``0.0``, so a row is labelled ``@0``, not ``@-0``). A string must be written with ASCII characters:
    ``float`` would also read other scripts' digits (``"٠.٥"``, ``"０.５"``), which every number of the
    CLI refuses.

    Example:
        >>> parse_difficulty("hard"), parse_difficulty("0.25"), parse_difficulty(1)
        (0.75, 0.25, 1.0)
    """
    if isinstance(value, str) and value.strip() in NAMED_DIFFICULTIES:
        return NAMED_DIFFICULTIES[value.strip()]
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"difficulty must be written with ASCII digits (0-9), got {value!r}")
    try:
        level = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"difficulty must be a number in [0, 1] or one of {sorted(NAMED_DIFFICULTIES)}, got {value!r}"
        ) from None
    if not (math.isfinite(level) and 0.0 <= level <= 1.0):
        raise ValueError(f"difficulty must be in [0, 1], got {value!r}")
    return round(level, LEVEL_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def option_level(difficulty: float | str, named: Iterable[str]) -> float:
    """A task's ``difficulty`` option that is not one of its ``named`` settings, as a knob level.

    Raises ``ValueError`` naming the task's settings when it is neither a named setting nor a level.
    """
    try:
        return parse_difficulty(difficulty)
    except ValueError:
        raise ValueError(
            f"unknown difficulty {difficulty!r}; choose from {sorted(named)} or a number in [0, 1]"
        ) from None


def knob(level: float, points: Sequence[tuple[float, float]]) -> float:
    """A generation parameter at ``level``: piecewise linear through ``points`` (``(level, value)`` pairs,
    levels increasing). Exact at the points themselves, so a named point gives the paper's value bit for bit.

    Example:
        >>> knob(0.25, ((0.0, 2.0), (0.5, 6.0), (1.0, 9.0)))
        4.0
    """
    xs, ys = zip(*points)
    return float(np.interp(level, xs, ys))


def knob_int(level: float, points: Sequence[tuple[float, float]]) -> int:
    """:func:`knob` rounded half up to a whole number (Python's ``round`` would round 2.5 down)."""
    return int(math.floor(knob(level, points) + 0.5))


def level_suffix(level: float | None) -> str:
    """The subtype suffix of an explicit level: ``"@0.3"``; ``""`` for the paper's generation."""
    return "" if level is None else f"@{level:g}"


def split_level(subtype: str) -> tuple[str, float | None]:
    """``"counting@0.3"`` -> ``("counting", 0.3)``; a subtype without a suffix -> ``(subtype, None)``."""
    base, sep, tail = str(subtype).partition("@")
    return base, (parse_difficulty(tail) if sep else None)


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
    #: The value a form (the Space) preselects for an option, where it is not the constructor's default.
    option_defaults: ClassVar[dict[str, Any]] = {}
    #: The task's columns of VIUBench, in Table 1 order (empty for tasks outside the benchmark).
    benchmark_subtypes: ClassVar[tuple[str, ...]] = ()
    #: Short Table 1 headers of ``benchmark_subtypes``, aligned with them (e.g. ``("C-E", "C-H")``).
    benchmark_headers: ClassVar[tuple[str, ...]] = ()
    #: The Table 1 header of the task's average column (e.g. ``"Cnt"``).
    benchmark_group_header: ClassVar[str] = ""
    #: Where the task's block of columns sits in Table 1 (lower first): Table 1 does not list the tasks
    #: in registry order (counting comes first there).
    benchmark_position: ClassVar[int] = 0

    #: The key of the per-item metric (``score``) in :meth:`corpus_metrics`'s dict.
    metric_key: ClassVar[str] = "accuracy"
    #: The metric's Hub ``metric.type`` (model-index entries) and a readable name.
    metric_type: ClassVar[str] = "accuracy"
    metric_name: ClassVar[str] = "accuracy"

    #: The heuristic (non-learned) baseline, in words; ``None`` says the task has none.
    heuristic: ClassVar[str | None] = None

    #: How the difficulty knob maps onto this task's generation, in words (CLI help, docs).
    difficulty_help: ClassVar[str] = ""

    def __init__(self, reasoning: bool = False):
        # The paper answers directly; the think/answer format is an opt-in extension.
        self.reasoning = reasoning
        #: The explicit point of the difficulty knob, or ``None`` for the paper's own generation.
        self.level: float | None = None

    # -- naming -----------------------------------------------------------------------------------
    @classmethod
    def check_option(cls, key: str, value: Any) -> Any:
        """``value`` if it is one of the choices ``options[key]`` declares (free options pass as they are).

        Raises ``ValueError`` naming the choices otherwise. The CLI, the Space and the constructors all check
        an option this one way.
        """
        choices = cls.options[key][0]
        if choices is not None and value not in choices:
            raise ValueError(f"unknown {key} {value!r}; choose from {sorted(choices, key=str)}")
        return value

    @classmethod
    def option_labels(cls, key: str) -> list[tuple[Any, str]]:
        """``(value, label)`` for each choice of ``options[key]``, as a form shows them (default: the
        value)."""
        return [(value, str(value)) for value in cls.options[key][0] or ()]

    @property
    def needs_other_clip(self) -> bool:
        """Whether :meth:`generate` needs ``other`` (a second video) for this task's setting."""
        return False

    @property
    def subtype(self) -> str:
        """``<short>_<setting>`` plus the level suffix (``grounding_mirror@0.7``); ``<short>@<level>`` when
        the setting is empty (a knob level replaces the named setting: ``counting@0.3``)."""
        setting = self._setting()
        return f"{self.short}{'_' + setting if setting else ''}{level_suffix(self.level)}"

    def _setting(self) -> str:
        """The part of the subtype name after ``<short>_`` (the named setting), or ``""``."""
        raise _must_define(self, "_setting")

    @classmethod
    def from_subtype(cls, subtype: str, reasoning: bool = False) -> Task:
        """The task that produces ``subtype`` (e.g. ``grounding_mirror``); ``ValueError`` if none."""
        base, level = split_level(subtype)
        prefix, _, setting = base.partition("_")
        task = cls._from_setting(setting, level, reasoning) if prefix == cls.short else None
        if task is None:
            raise ValueError(f"{subtype!r} is not a subtype of {cls.name}")
        return task

    @classmethod
    def _from_setting(cls, setting: str, level: float | None, reasoning: bool) -> Task | None:
        """The task for a subtype's setting (the name after ``<short>_``) and level; ``None`` for none."""
        raise _must_define(cls, "_from_setting")

    def _named_setting(self, difficulty: str | float, named: Iterable[str]) -> str | None:
        """``difficulty`` when it names one of the task's paper settings; else it is a knob level, which is
        recorded in ``self.level`` (``ValueError`` naming the settings for anything else)."""
        if isinstance(difficulty, str) and difficulty in named:
            return difficulty
        self.level = option_level(difficulty, named)
        return None

    def with_difficulty(self, difficulty: float | str) -> Task:
        """The same task (same reasoning format) at another point of the knob.

        Tasks with options besides the difficulty keep them by overriding this (grounding keeps its
        perturbation).
        """
        return type(self)(difficulty=parse_difficulty(difficulty), reasoning=self.reasoning)

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
            raise ClipUnusable(
                f"clip frames must be a uint8 (T, H, W, 3) array, got {frames.dtype} {frames.shape}"
            )
        sample = self._generate(clip, self.rng(seed), other)
        sample.seed = int(seed)
        sample.source = clip.source
        sample.system = self.system_prompt
        return sample

    def _generate(self, clip: Clip, rng: np.random.Generator, other: Clip | None) -> Sample:
        raise _must_define(self, "_generate")

    def random_answer(
        self,
        rng: np.random.Generator,
        *,
        fps: float,
        num_frames: int = 48,
        num_clips: int = 1,
    ) -> str:
        """A uniform guess in this task's answer space, written in the strict answer format."""
        raise _must_define(self, "random_answer")

    def prior_answer(
        self, rng: np.random.Generator, *, fps: float, num_frames: int = 48, num_clips: int = 1
    ) -> str:
        """A guess drawn from the generator's own distribution of answers, never from the frames: the
        supervised warm-up's target (format and prior, no video information). By default the task's
        :meth:`random_answer`; a task whose benchmark guess is not its generator's prior overrides it."""
        return self.random_answer(rng, fps=fps, num_frames=num_frames, num_clips=num_clips)

    def random_guess(
        self,
        rng: np.random.Generator,
        *,
        rule: str = "uniform",
        fps: float,
        num_frames: int = 48,
        num_clips: int = 1,
    ) -> str:
        """The random baseline's guess under ``rule`` (one of :data:`RANDOM_RULES`): ``"uniform"`` is
        :meth:`random_answer`, ``"prior"`` is :meth:`prior_answer`. ``ValueError`` for another rule."""
        answer = {"uniform": self.random_answer, "prior": self.prior_answer}.get(check_random_rule(rule))
        return answer(rng, fps=fps, num_frames=num_frames, num_clips=num_clips)  # type: ignore[misc]

    @classmethod
    def random_rule(cls, rule: str = "uniform") -> str:
        """The random guess under ``rule`` in words (a benchmark run's ``rules``): by default the first line
        of the docstring of ``random_answer`` (``"uniform"``) or of ``prior_answer`` (``"prior"``, where the
        task overrides it; otherwise its prior is its uniform guess)."""
        method = cls.prior_answer if check_random_rule(rule) == "prior" else cls.random_answer
        if method is Task.prior_answer:
            method = cls.random_answer
        doc = (method.__doc__ or "").strip().splitlines()
        return doc[0] if doc else f"{cls.__name__}.{method.__name__}"

    @classmethod
    def heuristic_answer(cls, sample: Sample) -> str:
        """The heuristic baseline's reply to ``sample`` (see :attr:`heuristic`); ``ValueError`` when none."""
        raise ValueError(f"the heuristic baseline has no solver for task {cls.name!r}")

    # -- views ------------------------------------------------------------------------------------
    def timeline(
        self, reply: Any, answer: str, mode: Mode = "strict"
    ) -> tuple[Interval | None, Interval | None] | None:
        """The true and the predicted interval on the clip's timeline (``None`` for an unparsable reply),
        for tasks answered with a time interval; ``None`` for the others (the default)."""
        return None

    @classmethod
    def has_timeline(cls) -> bool:
        """Whether :meth:`timeline` draws anything for this task (it is overridden)."""
        return cls.timeline is not Task.timeline

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

    def corpus_metrics(
        self, predictions: Sequence[Any], references: Sequence[str], mode: Mode = "strict"
    ) -> dict[str, Any]:
        """The task's metrics over a list of replies (unparsable ones count, as 0): the VIUBench metric under
        :attr:`metric_key`, the exact-match rate, the mean reward, the number of unparsable replies and the
        count. Fractions in ``[0, 1]``. ``evaluate`` modules and ``videossr.evaluation.scoring`` use it."""
        pairs = list(zip(predictions, references))
        out: dict[str, Any] = {self.metric_key: _mean([self.score(p, r, mode) for p, r in pairs])}
        if self.metric_key != "exact_match":  # otherwise the metric itself is the exact-match rate
            out["exact_match"] = _mean([self.strict_reward(p, r, mode) for p, r in pairs])
        out["mean_reward"] = _mean([self.reward(p, r, mode) for p, r in pairs])
        out["unparsed"] = sum(not self.is_parsed(p, r, mode) for p, r in pairs)
        out["count"] = len(pairs)
        return out

    def _reward(self, completion: Any, answer: str, mode: Mode) -> float:
        raise _must_define(self, "_reward")

    def _score(self, completion: Any, answer: str, mode: Mode) -> float:
        raise _must_define(self, "_score")

    def _exact(self, completion: Any, answer: str, mode: Mode) -> float:
        raise _must_define(self, "_exact")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(subtype={self.subtype!r}, reasoning={self.reasoning})"


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def _must_define(owner: Any, method: str) -> NotImplementedError:
    """The error a task subclass gets for a part of the Task interface it has not written yet."""
    cls = owner if isinstance(owner, type) else type(owner)
    return NotImplementedError(
        f"{cls.__name__} must define {method}() to be a Task (see videossr/tasks/base.py)"
    )


def _safe(fn, completion: Any, answer: Any, mode: Mode) -> float:
    """Run a verifier: a malformed ground truth scores 0; the value is clamped into ``[0, 1]``.

    Only ``ValueError`` is caught, and the tasks raise it only for a ground-truth answer they cannot
    read. The parsers are total on replies of any shape (``tests/rewards/test_reference_formulas.py`` and the
    fuzz tests check it), so any other exception is a bug and must not be hidden.
    """
    try:
        # The ground truth as an exact str, read without calling a str subclass's own methods (which
        # might raise); the reply is read the same way by the parsers (parsing.completion_text).
        truth = "".join((answer,)) if isinstance(answer, str) else str(answer)
        value = float(fn(completion, truth, mode))
    except ValueError:
        return 0.0
    if value != value:  # NaN
        return 0.0
    return min(1.0, max(0.0, value))
