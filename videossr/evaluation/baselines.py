"""The two built-in reference points of VIUBench: a random guesser and a non-learned vision solver.

Both write their answers in the exact formats the strict parser accepts, so their scores measure the
guess and never the formatting.

Random guess (``random``), uniform over each task's answer space:

* counting: each of the three counts is drawn uniformly from ``1..F*I`` (``1..9`` easy, ``1..16`` hard),
  the range the generator can produce. Whatever the true count is, a shape is right with probability
  ``1/9`` (easy) or ``1/16`` (hard): 11.1 % and 6.3 %, the paper's random row.
* jigsaw: a permutation of the ``n`` clips drawn uniformly (``1/720`` and ``1/40320``).
* grounding (``grounding="max_length"``, the default): the guessed interval is as long as the longest
  perturbed stretch the generator makes (16 of 48 frames, a third of the clip) and starts at a frame
  drawn uniformly from every start where it fits (``0..32``). Against the generator's segments (length
  uniform in 8..16 frames, start uniform) its expected IoU is about 25.5 %, in line with the paper's
  25.2-25.9. ``grounding="prior"`` instead draws the guess from the generator's own distribution (length
  uniform in 8..16, start uniform): about 21.6 %.

Heuristic (``heuristic``), classical computer vision with no learned weights:

* grounding: frame-to-frame change detection. For the spatial and colour perturbations the solver also
  knows the perturbation named in the question and tests, at every frame boundary, whether applying it
  (or its inverse) to one side makes the two frames match again; a boundary where it does is an entry
  into or an exit from the perturbed stretch. For ``shuffle`` (and perturbations it has no inverse for)
  it looks for the 8-16 frame stretch whose frame-to-frame changes stand out most.
* counting: each frame is compared with the per-pixel median of its eight nearest neighbours; blobs of changed
  pixels that are large, solid, of one colour and over scenery the neighbours agree on are classified by
  their outline (three corners: triangle, four: square, round: circle) and summed over frames.
* jigsaw: frame continuity. The cost of putting clip ``b`` right after clip ``a`` is how different the
  first frame of ``b`` is from the last frame of ``a`` (and from a linear extrapolation of ``a``'s last
  two frames); the cheapest order of all clips is found exactly by dynamic programming over subsets.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Literal

import numpy as np

from videossr.tasks import TASKS
from videossr.tasks.grounding import format_interval, segment_range
from videossr.tasks.perturbations import zoom_in_frames, zoom_out_frames
from videossr.types import Sample

GroundingGuess = Literal["max_length", "prior"]

#: Frames of a clip, as the generator samples them.
NUM_FRAMES = 48


def item_rng(item_id: str, seed: int = 0) -> np.random.Generator:
    """A generator seeded by the item id, so a resumed or re-ordered run guesses the same answers."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(item_id.encode("utf-8"))])


def frames_to_interval(start_frame: float, end_frame: float, fps: float) -> str:
    """Frame positions as the ``start-end`` seconds answer (one decimal)."""
    return format_interval(start_frame / fps, end_frame / fps)


def jigsaw_digits(original_order: Sequence[int]) -> str:
    """The answer for a recovered order: ``original_order[k]`` is the displayed index of clip ``k``."""
    return "".join(str(int(d) + 1) for d in original_order)


# --------------------------------------------------------------------------------------------------
# Random guess
# --------------------------------------------------------------------------------------------------
def random_guess(
    subtype: str,
    rng: np.random.Generator,
    fps: float,
    num_frames: int = NUM_FRAMES,
    num_clips: int | None = None,
    grounding: GroundingGuess = "max_length",
) -> str:
    """One uniform guess in the answer space of ``subtype``: the task's own ``random_answer``.

    Args:
        subtype: e.g. ``"counting_hard"``, ``"grounding_mirror"``, ``"jigsaw_easy"``, ``"jigsaw_5clips"``.
        rng: the source of randomness (see :func:`item_rng`).
        fps: the clip's frame rate on the virtual timeline (grounding answers are in seconds).
        num_frames: frames in the grounding clip.
        num_clips: number of jigsaw clips, when the subtype name does not say.
        grounding: ``"max_length"`` or ``"prior"``.
    """
    from videossr.tasks import task_for_subtype

    try:
        task = task_for_subtype(subtype)
    except ValueError as err:
        raise ValueError(f"no random guess for subtype {subtype!r}: {err}") from None
    return task.random_answer(
        rng, fps=fps, num_frames=num_frames, num_clips=num_clips or 0, grounding=grounding
    )


# --------------------------------------------------------------------------------------------------
# Heuristic: shared helpers
# --------------------------------------------------------------------------------------------------
def _small(frames: np.ndarray, side: int = 48) -> np.ndarray:
    """Frames shrunk to ``side x side`` float32 in [0, 1]; shape changes (quarter turns) are absorbed."""
    import cv2

    out = np.empty((len(frames), side, side, 3), dtype=np.float32)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return out


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference over the last three axes (broadcasts over leading ones)."""
    return np.abs(a - b).mean(axis=(-3, -2, -1))


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med))) * 1.4826
    scale = max(mad, 1e-3 * max(1.0, abs(med)), 1e-6)
    return (x - med) / scale


# --------------------------------------------------------------------------------------------------
# Heuristic: anomaly grounding
# --------------------------------------------------------------------------------------------------
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
    small = _small(frames)
    change = np.zeros(t, dtype=np.float64)
    change[1:] = _dist(small[1:], small[:-1])
    maps = _transforms(perturbation or "")
    if maps:
        # Undoing (or applying) the perturbation on one side of a boundary makes both sides agree only
        # where exactly one side is perturbed: that gap is the evidence, robust to ordinary motion.
        fixed = np.full(t, np.inf)
        for fn in maps:
            moved = fn(small)
            fixed[1:] = np.minimum(fixed[1:], _dist(moved[:-1], small[1:]))
            fixed[1:] = np.minimum(fixed[1:], _dist(small[:-1], moved[1:]))
        evidence = np.zeros(t)
        evidence[1:] = change[1:] - fixed[1:]
        boundary = np.zeros(t)
        boundary[1:] = _robust_z(evidence[1:])
        s, e = _best_segment(boundary, t)
    else:
        z = np.zeros(t)
        z[1:] = _robust_z(change[1:])
        interior = np.clip(z, 0.0, None) if perturbation in ("shuffle", "fast", None, "") else None
        s, e = _best_segment(z, t, interior)
    return frames_to_interval(s, e, fps)


# --------------------------------------------------------------------------------------------------
# Heuristic: object counting
# --------------------------------------------------------------------------------------------------
def _classify(contour: np.ndarray) -> str | None:
    import cv2

    area = cv2.contourArea(contour)
    perimeter = cv2.arcLength(contour, True)
    if perimeter <= 0 or area <= 0:
        return None
    hull = cv2.convexHull(contour)
    solidity = area / max(cv2.contourArea(hull), 1e-6)
    if solidity < 0.85:
        return None  # shapes are convex; ragged blobs are motion, not shapes
    circularity = 4 * math.pi * area / (perimeter * perimeter)
    corners = len(cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True))
    if corners == 3:
        return "triangle"
    if corners == 4 and circularity < 0.85:
        return "square"
    if circularity >= 0.82 or corners >= 6:
        return "circle"
    if corners == 4:
        return "square"
    return "triangle" if circularity < 0.7 else "circle"


def count_shapes(frames: np.ndarray, threshold: int = 40, work_side: int = 160) -> tuple[int, int, int]:
    """``(circles, squares, triangles)`` found over all frames of a clip.

    Frames are first shrunk so their short side is at most ``work_side`` pixels: shapes span at least a
    fifth of the short side, so nothing is lost, and the per-frame work stays small.
    """
    import cv2

    t, h, w, _ = frames.shape
    scale = min(1.0, work_side / min(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        t, h, w, _ = frames.shape
    short = min(h, w)
    # The smallest shape is a triangle of side 0.2*short (area ~0.017 short^2); allow for partial masks.
    min_area = 0.008 * short * short
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    counts = {"circle": 0, "square": 0, "triangle": 0}
    data = frames.astype(np.int16)
    for i in range(t):
        # Up to eight neighbours: other shape types may sit on adjacent frames, and the per-pixel median
        # stays clean as long as fewer than half of the neighbours have a shape on that pixel.
        neighbours = [j for j in range(i - 4, i + 5) if j != i and 0 <= j < t]
        background = np.median(data[neighbours], axis=0)
        changed = np.abs(data[i] - background).max(axis=-1) > threshold
        # Shapes are flat colour: dropping the frame's edges splits touching shapes of different colours.
        gray = frames[i].astype(np.float32)
        gradient = np.maximum(
            np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)).max(axis=-1),
            np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)).max(axis=-1),
        )
        mask = (changed & (gradient < 60)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for contour in contours:
            if cv2.contourArea(contour) < min_area:
                continue
            # A drawn shape has one flat colour; moving scenery does not.
            blob = np.zeros((h, w), dtype=np.uint8)
            cv2.drawContours(blob, [contour], -1, 1, thickness=-1)
            blob = cv2.erode(blob, kernel, iterations=1).astype(bool)
            if blob.sum() < 10 or frames[i][blob].std(axis=0).max() > 20:
                continue
            # A drawn shape lives on one frame, over scenery its neighbours agree on. Where the
            # neighbours themselves disagree (scene cuts, moving flat regions in animation) a flat blob
            # is more likely scenery. The median over neighbours ignores the few that carry other shapes.
            own = np.abs(data[i][blob] - background[blob]).max(axis=-1).mean()
            spread = np.median(
                [np.abs(data[j][blob] - background[blob]).max(axis=-1).mean() for j in neighbours]
            )
            if spread > 0.3 * own:
                continue
            kind = _classify(contour)
            if kind is not None:
                counts[kind] += 1
    return counts["circle"], counts["square"], counts["triangle"]


def solve_counting(frames: np.ndarray) -> str:
    """Answer ``circles,squares,triangles`` for a counting clip."""
    return ",".join(str(c) for c in count_shapes(frames))


# --------------------------------------------------------------------------------------------------
# Heuristic: temporal jigsaw
# --------------------------------------------------------------------------------------------------
def continuity_cost(clips: Sequence[np.ndarray]) -> np.ndarray:
    """``cost[a, b]``: how badly clip ``b`` continues clip ``a`` (first frame vs. last frame)."""
    small = [_small(c, side=32) for c in clips]
    n = len(small)
    cost = np.zeros((n, n))
    for a in range(n):
        last = small[a][-1]
        guess = 2 * small[a][-1] - small[a][-2] if len(small[a]) > 1 else last
        for b in range(n):
            if a != b:
                first = small[b][0]
                cost[a, b] = float(np.abs(first - last).mean() + 0.5 * np.abs(first - guess).mean())
    np.fill_diagonal(cost, np.inf)
    return cost


def best_order(cost: np.ndarray) -> list[int]:
    """The cheapest path visiting every clip once (Held-Karp over subsets; fine up to ~12 clips)."""
    n = len(cost)
    if n == 1:
        return [0]
    full = 1 << n
    dp = np.full((full, n), np.inf)
    parent = np.full((full, n), -1, dtype=np.int64)
    for j in range(n):
        dp[1 << j, j] = 0.0
    for mask in range(1, full):
        for last in range(n):
            value = dp[mask, last]
            if not np.isfinite(value):
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                new = mask | (1 << nxt)
                candidate = value + cost[last, nxt]
                if candidate < dp[new, nxt]:
                    dp[new, nxt] = candidate
                    parent[new, nxt] = last
    mask, last = full - 1, int(np.argmin(dp[full - 1]))
    order = []
    while last >= 0:
        order.append(last)
        prev = int(parent[mask, last])
        mask ^= 1 << last
        last = prev
    return order[::-1]


def solve_jigsaw(clips: Sequence[np.ndarray]) -> str:
    """Answer the jigsaw digits for clips shown in display order."""
    return jigsaw_digits(best_order(continuity_cost(clips)))


# --------------------------------------------------------------------------------------------------
# Heuristic: dispatch on a sample
# --------------------------------------------------------------------------------------------------
def heuristic_answer(sample: Sample) -> str:
    """The heuristic solver's reply to one sample: its task's ``heuristic_answer`` (the solvers above).

    Raises ``ValueError`` for a task with no heuristic solver (``heuristic = None``) or an unknown one.
    """
    cls = TASKS.get(sample.task)
    if cls is None:
        raise ValueError(f"the heuristic baseline has no solver for task {sample.task!r}")
    return cls.heuristic_answer(sample)
