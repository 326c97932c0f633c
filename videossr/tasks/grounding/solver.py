"""The heuristic solver of Anomaly Grounding: frame-to-frame change detection, no learned weights.

For the spatial and colour perturbations the solver knows the perturbation named in the question and
tests, at every frame boundary, whether applying it (or its inverse) to one side makes the two frames
match again; a boundary where it does is an entry into or an exit from the perturbed stretch. For
``shuffle`` (and perturbations it has no inverse for) it looks for the 8-16 frame stretch whose
frame-to-frame changes stand out most.
"""

from __future__ import annotations

import math

import numpy as np

from videossr.tasks.grounding.perturbations import zoom_in_frames, zoom_out_frames
from videossr.tasks.grounding.segment import format_interval, segment_range
from videossr.tasks.vision import frame_distance, robust_z, small_frames


def frames_to_interval(start_frame: float, end_frame: float, fps: float) -> str:
    """Frame positions as the ``start-end`` seconds answer (one decimal)."""
    return format_interval(start_frame / fps, end_frame / fps)


def _transforms(perturbation: str) -> list:
    """Maps that undo or redo a perturbation on small frames; empty when none is known."""
    if perturbation == "channel_swap":
        return [lambda f: f[..., ::-1]]
    if perturbation == "rotate180":
        return [lambda f: f[:, ::-1, ::-1]]
    if perturbation == "mirror":
        return [lambda f: f[:, :, ::-1]]
    if perturbation == "invert":
        return [lambda f: 1.0 - f]
    if perturbation in ("zoom_out", "zoom_in"):
        # The factor is random (1.2-1.4 out, 1.3-1.5 in); a middle value is close enough on 48x48 frames.
        factor = 1.3 if perturbation == "zoom_out" else 1.4
        return [lambda f: zoom_out_frames(f, factor), lambda f: zoom_in_frames(f, factor)]
    return []


def _best_segment(
    boundary: np.ndarray, num_frames: int, interior: np.ndarray | None = None
) -> tuple[int, int]:
    """The ``(start, end)`` frames maximising the evidence of a perturbed stretch.

    ``boundary[i]`` scores a change between frames ``i - 1`` and ``i`` (``i = 1..T-1``; index 0 unused).
    A stretch ``[s, e)`` collects the boundary scores at ``s`` and ``e`` where those lie inside the clip;
    with ``interior`` it also collects ``interior[s+1..e-1]`` (changes inside the stretch, for shuffles).
    """
    lo, hi = segment_range(num_frames)
    best, best_score = (0, hi), -math.inf
    for length in range(lo, hi + 1):
        for s in range(0, num_frames - length + 1):
            e = s + length
            value = 0.0
            if s > 0:
                value += boundary[s]
            if e < num_frames:
                value += boundary[e]
            if interior is not None:
                value += float(interior[s + 1 : e].sum())
            if value > best_score + 1e-9:
                best, best_score = (s, e), value
    return best


def solve_grounding(frames: np.ndarray, fps: float, perturbation: str | None = None) -> str:
    """Locate the perturbed stretch of a clip and answer ``start-end`` in seconds.

    Args:
        frames: ``(T, H, W, 3)`` uint8 clip.
        fps: frame rate on the clip's virtual timeline.
        perturbation: the perturbation the question names (``"mirror"``, ``"shuffle"``, ...), if known.
    """
    t = len(frames)
    small = small_frames(frames)
    change = np.zeros(t, dtype=np.float64)
    change[1:] = frame_distance(small[1:], small[:-1])
    maps = _transforms(perturbation or "")
    if maps:
        # Undoing (or applying) the perturbation on one side of a boundary makes both sides agree only
        # where exactly one side is perturbed: that gap is the evidence, robust to ordinary motion.
        fixed = np.full(t, np.inf)
        for fn in maps:
            moved = fn(small)
            fixed[1:] = np.minimum(fixed[1:], frame_distance(moved[:-1], small[1:]))
            fixed[1:] = np.minimum(fixed[1:], frame_distance(small[:-1], moved[1:]))
        evidence = np.zeros(t)
        evidence[1:] = change[1:] - fixed[1:]
        boundary = np.zeros(t)
        boundary[1:] = robust_z(evidence[1:])
        s, e = _best_segment(boundary, t)
    else:
        z = np.zeros(t)
        z[1:] = robust_z(change[1:])
        interior = np.clip(z, 0.0, None) if perturbation in ("shuffle", "fast", None, "") else None
        s, e = _best_segment(z, t, interior)
    return frames_to_interval(s, e, fps)
