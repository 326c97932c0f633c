"""Image helpers the heuristic solvers share: frames shrunk for comparison, their distance, a robust
z-score."""

from __future__ import annotations

import numpy as np


def small_frames(frames: np.ndarray, side: int = 48) -> np.ndarray:
    """Frames shrunk to ``side x side`` float32 in [0, 1]; shape changes (quarter turns) are absorbed."""
    import cv2

    out = np.empty((len(frames), side, side, 3), dtype=np.float32)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return out


def frame_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference over the last three axes (broadcasts over leading ones)."""
    return np.abs(a - b).mean(axis=(-3, -2, -1))


def robust_z(x: np.ndarray) -> np.ndarray:
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med))) * 1.4826
    scale = max(mad, 1e-3 * max(1.0, abs(med)), 1e-6)
    return (x - med) / scale
