"""The heuristic solver of Object Counting: shapes found by difference to the temporal median.

Each frame is compared with the per-pixel median of its eight nearest neighbours; blobs of changed pixels
that are large, solid, of one colour and over scenery the neighbours agree on are classified by their
outline (three corners: triangle, four: square, round: circle) and summed over frames.
"""

from __future__ import annotations

import math

import numpy as np


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
