"""The pretext tasks, in one registry.

Adding a task is one new module or folder (a :class:`~videossr.tasks.base.Task` subclass that owns its
prompt, parser, rewards, subtypes, options, random guess, heuristic solver, benchmark columns, metric and
timeline view) plus one registry line: ``register(MyTask)`` below, the same call from your own code, or,
for a task shipped in a package of its own, an entry point in the ``videossr.tasks`` group (see
docs/adding_a_task.md). The CLI, the dataset cards, the metrics and benchmark harness, the baselines,
the model cards, the rewards and the Space read ``TASKS`` (a :class:`~videossr.tasks.registry.Registry`)
and what is derived from it when they run, never a copy made at import, so a task registered later is
served everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videossr.tasks.base import NAMED_DIFFICULTIES, RANDOM_RULES, SYSTEM_PROMPT, Task, parse_difficulty
from videossr.tasks.counting import ObjectCounting
from videossr.tasks.grounding import AnomalyGrounding
from videossr.tasks.grounding.perturbations import (
    BENCHMARK_PERTURBATIONS,
    PERTURBATIONS,
    TRAINING_PERTURBATIONS,
)
from videossr.tasks.jigsaw import TemporalJigsaw

# The registry (task name -> task class, in the order the CLI and the Space list them).
from videossr.tasks.registry import TASKS, LiveMapping, live


def register(cls: type[Task]) -> type[Task]:
    """Add a task class to :data:`TASKS` (the one registry line of a new task); returns it (a decorator too).

    Raises ``ValueError`` when its ``name`` or ``short`` (the subtype prefix and reward name) is taken by
    another task: subtype names and rewards must say which task they belong to.
    """
    return TASKS.register(cls)


def unregister(name: str) -> None:
    """Remove a task from :data:`TASKS` (tests that register a task for their own length)."""
    TASKS.unregister(name)


register(AnomalyGrounding)
register(ObjectCounting)
register(TemporalJigsaw)


def _aliases() -> dict[str, str]:
    return {cls.short: name for name, cls in TASKS.items()}


def aliases() -> dict[str, str]:
    """Short name -> task name (``{"grounding": "anomaly_grounding", ...}``), read from ``TASKS`` now."""
    return dict(TASKS.derived(_aliases))


#: Short names people type, and the prefixes of subtype names (live: see :func:`aliases`).
ALIASES: Mapping[str, str] = LiveMapping(live(_aliases), "ALIASES")


def subtype_prefix(subtype: str) -> str:
    """The task's short name a subtype starts with: ``grounding_mirror@0.7`` -> ``grounding``."""
    return str(subtype).partition("@")[0].partition("_")[0]  # "counting@0.3": a knob level


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
    return task_class(task_name_of_subtype(subtype)).from_subtype(subtype, reasoning=reasoning)


def task_name_of_subtype(subtype: str) -> str:
    """``grounding_mirror`` -> ``anomaly_grounding`` (by the subtype's prefix alone)."""
    prefix = subtype_prefix(subtype)
    for name, cls in TASKS.items():
        if cls.short == prefix:
            return name
    raise ValueError(f"unknown subtype {subtype!r}")


def benchmark_tasks() -> tuple[type[Task], ...]:
    """The tasks with VIUBench columns, in Table 1 order (``benchmark_position``, then ``TASKS`` order)."""
    return tuple(
        sorted((cls for cls in TASKS.values() if cls.benchmark_subtypes), key=lambda c: c.benchmark_position)
    )


def benchmark_subtypes() -> tuple[str, ...]:
    """Every task's VIUBench subtypes, in Table 1 order (read from ``TASKS`` now)."""
    return tuple(s for cls in benchmark_tasks() for s in cls.benchmark_subtypes)


__all__ = [
    "TASKS",
    "ALIASES",
    "SYSTEM_PROMPT",
    "NAMED_DIFFICULTIES",
    "RANDOM_RULES",
    "Task",
    "parse_difficulty",
    "AnomalyGrounding",
    "ObjectCounting",
    "TemporalJigsaw",
    "PERTURBATIONS",
    "TRAINING_PERTURBATIONS",
    "BENCHMARK_PERTURBATIONS",
    "aliases",
    "register",
    "unregister",
    "subtype_prefix",
    "task_class",
    "get_task",
    "task_for_subtype",
    "task_name_of_subtype",
    "benchmark_subtypes",
    "benchmark_tasks",
]
