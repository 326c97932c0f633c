"""Anomaly Grounding, one folder: the task (``task.py``), its perturbations (``perturbations.py``), its
segment and answer format (``segment.py``) and its heuristic solver (``solver.py``)."""

from videossr.tasks.grounding.segment import (
    MAX_SEGMENT,
    MIN_SEGMENT,
    SEGMENT_KNOB,
    format_interval,
    segment_range,
)
from videossr.tasks.grounding.solver import frames_to_interval, solve_grounding
from videossr.tasks.grounding.task import AnomalyGrounding, temporal_iou

__all__ = [
    "AnomalyGrounding",
    "MAX_SEGMENT",
    "MIN_SEGMENT",
    "SEGMENT_KNOB",
    "format_interval",
    "frames_to_interval",
    "segment_range",
    "solve_grounding",
    "temporal_iou",
]
