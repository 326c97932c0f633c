"""Temporal Jigsaw, one folder: the task (``task.py``: clips, inverse permutation, displacement reward) and
its heuristic solver (``solver.py``)."""

from videossr.tasks.jigsaw.solver import best_order, continuity_cost, jigsaw_digits, solve_jigsaw
from videossr.tasks.jigsaw.task import (
    CLIPS_KNOB,
    DIFFICULTIES,
    TemporalJigsaw,
    clips_at,
    displacement,
    jigsaw_answer,
    max_displacement,
)

__all__ = [
    "CLIPS_KNOB",
    "DIFFICULTIES",
    "TemporalJigsaw",
    "best_order",
    "clips_at",
    "continuity_cost",
    "displacement",
    "jigsaw_answer",
    "jigsaw_digits",
    "max_displacement",
    "solve_jigsaw",
]
