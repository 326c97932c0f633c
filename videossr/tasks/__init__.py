"""The pretext tasks, in a plain dict.

Adding a task is one new module (a :class:`~videossr.tasks.base.Task` subclass that owns its prompt,
parser, rewards, subtypes, options and random guess) plus one line in ``TASKS`` below. The CLI, the
dataset cards, the benchmark harness, the baselines and the Space loop over ``TASKS``.
"""

from __future__ import annotations

from typing import Any

from videossr.tasks.base import NAMED_DIFFICULTIES, SYSTEM_PROMPT, Task, parse_difficulty
from videossr.tasks.counting import ObjectCounting
from videossr.tasks.grounding import AnomalyGrounding
from videossr.tasks.jigsaw import TemporalJigsaw
from videossr.tasks.perturbations import (
    BENCHMARK_PERTURBATIONS,
    PERTURBATIONS,
    TRAINING_PERTURBATIONS,
)

TASKS: dict[str, type[Task]] = {
    AnomalyGrounding.name: AnomalyGrounding,
    ObjectCounting.name: ObjectCounting,
    TemporalJigsaw.name: TemporalJigsaw,
}


def aliases() -> dict[str, str]:
    """Short name -> task name (``{"grounding": "anomaly_grounding", ...}``), read from ``TASKS`` now."""
    return {cls.short: name for name, cls in TASKS.items()}


#: Short names people type, and the prefixes of subtype names (a snapshot; see :func:`aliases`).
ALIASES = aliases()


def task_class(name: str) -> type[Task]:
    """A task class by its name or short name; ``ValueError`` for an unknown one."""
    if name in TASKS:
        return TASKS[name]
    for cls in TASKS.values():
        if cls.short == name:
            return cls
    raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")


def get_task(name: str, **kwargs: Any) -> Task:
    """Build a task by name.

    Example:
        >>> get_task("anomaly_grounding", perturbation="mirror").subtype
        'grounding_mirror'
        >>> get_task("jigsaw", difficulty="hard").clips
        8
    """
    return task_class(name)(**kwargs)


def task_for_subtype(subtype: str, reasoning: bool = False) -> Task:
    """The task that produces a subtype name such as ``grounding_mirror`` or ``jigsaw_hard``.

    Example:
        >>> task_for_subtype("counting_hard").max_count
        16
    """
    prefix = str(subtype).partition("@")[0].partition("_")[0]  # "counting@0.3": a knob level
    for cls in TASKS.values():
        if cls.short == prefix:
            return cls.from_subtype(subtype, reasoning=reasoning)
    raise ValueError(f"unknown subtype {subtype!r}")


def task_name_of_subtype(subtype: str) -> str:
    """``grounding_mirror`` -> ``anomaly_grounding`` (by the subtype's prefix alone)."""
    prefix = str(subtype).partition("@")[0].partition("_")[0]  # "counting@0.3": a knob level
    for name, cls in TASKS.items():
        if cls.short == prefix:
            return name
    raise ValueError(f"unknown subtype {subtype!r}")


def benchmark_subtypes() -> tuple[str, ...]:
    """Every task's VIUBench subtypes, in ``TASKS`` order."""
    return tuple(s for cls in TASKS.values() for s in cls.benchmark_subtypes)


__all__ = [
    "TASKS",
    "ALIASES",
    "SYSTEM_PROMPT",
    "NAMED_DIFFICULTIES",
    "Task",
    "parse_difficulty",
    "AnomalyGrounding",
    "ObjectCounting",
    "TemporalJigsaw",
    "PERTURBATIONS",
    "TRAINING_PERTURBATIONS",
    "BENCHMARK_PERTURBATIONS",
    "aliases",
    "task_class",
    "get_task",
    "task_for_subtype",
    "task_name_of_subtype",
    "benchmark_subtypes",
]
