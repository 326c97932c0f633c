"""Object Counting, one folder: the task (``task.py``: shape placement and drawing, count rewards) and its
heuristic solver (``solver.py``)."""

from videossr.tasks.counting.solver import count_shapes, solve_counting
from videossr.tasks.counting.task import (
    BOX,
    DIFFICULTIES,
    MARGIN,
    MIN_GAP,
    SIZE,
    ObjectCounting,
    draw_shape,
    setting_at,
    shape_polygon,
)

__all__ = [
    "BOX",
    "DIFFICULTIES",
    "MARGIN",
    "MIN_GAP",
    "SIZE",
    "ObjectCounting",
    "count_shapes",
    "draw_shape",
    "setting_at",
    "shape_polygon",
    "solve_counting",
]
