"""The three pretext tasks, in a plain dict."""

from __future__ import annotations

from typing import Any

from videossr.tasks.base import Task
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

# Short names people type.
ALIASES = {"grounding": "anomaly_grounding", "counting": "object_counting", "jigsaw": "temporal_jigsaw"}


def get_task(name: str, **kwargs: Any) -> Task:
    """Build a task by name.

    Example:
        >>> get_task("anomaly_grounding", perturbation="mirror").subtype
        'grounding_mirror'
        >>> get_task("jigsaw", difficulty="hard").clips
        8
    """
    key = ALIASES.get(name, name)
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")
    return TASKS[key](**kwargs)


def task_for_subtype(subtype: str, reasoning: bool = False) -> Task:
    """The task that produces a subtype name such as ``grounding_mirror`` or ``jigsaw_hard``."""
    kind, _, rest = subtype.partition("_")
    if kind == "grounding":
        return AnomalyGrounding(perturbation=rest or None, reasoning=reasoning)
    if kind == "counting":
        return ObjectCounting(difficulty=rest, reasoning=reasoning)
    if kind == "jigsaw":
        if rest.endswith("clips"):
            return TemporalJigsaw(clips=int(rest[:-5]), reasoning=reasoning)
        return TemporalJigsaw(difficulty=rest, reasoning=reasoning)
    raise ValueError(f"unknown subtype {subtype!r}")


__all__ = [
    "TASKS",
    "ALIASES",
    "Task",
    "AnomalyGrounding",
    "ObjectCounting",
    "TemporalJigsaw",
    "PERTURBATIONS",
    "TRAINING_PERTURBATIONS",
    "BENCHMARK_PERTURBATIONS",
    "get_task",
    "task_for_subtype",
]
