"""The anomaly segment of Anomaly Grounding: its length range (with the difficulty knob) and its written
form, shared by the task and its heuristic solver."""

from __future__ import annotations

from videossr.tasks.base import knob_int

MIN_SEGMENT, MAX_SEGMENT = 8, 16
#: The difficulty knob for the segment length, in frames of a 48-frame clip: ``(low, high)`` point lists.
SEGMENT_KNOB = (
    ((0.0, 16.0), (0.5, 8.0), (1.0, 3.0)),
    ((0.0, 24.0), (0.5, 16.0), (1.0, 6.0)),
)


def format_interval(start: float, end: float) -> str:
    """The answer format: seconds with one decimal, ``start-end``.

    Example:
        >>> format_interval(14.51, 26.2)
        '14.5-26.2'
    """
    return f"{start:.1f}-{end:.1f}"


def segment_range(num_frames: int, level: float | None = None) -> tuple[int, int]:
    """The anomaly length range scaled to the clip: ``(8, 16)`` for the paper's 48 frames.

    With a knob ``level`` the range is :data:`SEGMENT_KNOB`'s at that level, in frames of 48, scaled to
    ``num_frames`` and kept inside the clip (``(16, 24)`` at 0, ``(8, 16)`` at 0.5, ``(3, 6)`` at 1).
    """
    if level is not None:
        scale = num_frames / 48
        lo = max(1, min(num_frames, round(knob_int(level, SEGMENT_KNOB[0]) * scale)))
        hi = max(lo, min(num_frames, round(knob_int(level, SEGMENT_KNOB[1]) * scale)))
        return lo, hi
    if num_frames == 48:
        return MIN_SEGMENT, MAX_SEGMENT
    lo = max(1, round(num_frames * MIN_SEGMENT / 48))
    hi = max(lo, min(num_frames, round(num_frames * MAX_SEGMENT / 48)))
    return lo, hi
