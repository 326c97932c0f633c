"""The paper's sampling arithmetic: which frames to keep, and at what size (pure functions, easy to test)."""

from __future__ import annotations

import math

import numpy as np

#: The paper's sampling constants (docs/method.md §2).
NUM_FRAMES = 48
SPAN = (0.05, 0.95)
TRAIN_MAX_PIXELS = 256 * 256
BENCH_MAX_PIXELS = 512 * 512
MIN_PIXELS = 128 * 128


def sample_indices(
    total_frames: int, num_frames: int = NUM_FRAMES, span: tuple[float, float] = SPAN
) -> np.ndarray:
    """Indices of the ``num_frames`` frames the paper keeps from a video of ``total_frames`` frames.

    Frames between 5% and 95% of the video are eligible; they are taken with a uniform integer stride
    starting at the 5% mark. Raises ``ValueError`` when the span holds fewer than ``num_frames`` frames.

    Example:
        >>> sample_indices(200)[:4].tolist(), len(sample_indices(200))
        ([10, 13, 16, 19], 48)
    """
    start = int(math.floor(total_frames * span[0]))
    end = int(math.floor(total_frames * span[1]))
    available = end - start
    if available < num_frames:
        raise ValueError(
            f"only {available} frames between {span[0]:.0%} and {span[1]:.0%} of the video, need {num_frames}"
        )
    stride = available // num_frames
    return start + stride * np.arange(num_frames, dtype=np.int64)


def fit_size(
    height: int, width: int, max_pixels: int | None, min_pixels: int | None = MIN_PIXELS
) -> tuple[int, int]:
    """Output ``(height, width)`` keeping the aspect ratio with ``min_pixels <= h*w <= max_pixels``.

    Sizes are rounded down to even numbers so every clip can be encoded as yuv420p H.264.
    ``max_pixels=None`` keeps the full size (only evened).
    """
    h, w = float(height), float(width)
    area = h * w
    scale = 1.0
    if max_pixels is not None and area > max_pixels:
        scale = math.sqrt(max_pixels / area)
    elif min_pixels is not None and area < min_pixels:
        scale = math.sqrt(min_pixels / area)
    nh, nw = max(2, int(h * scale) // 2 * 2), max(2, int(w * scale) // 2 * 2)
    if (
        min_pixels is not None
        and nh * nw < min_pixels
        and max_pixels is not None
        and max_pixels >= min_pixels
    ):
        # Rounding down may dip below the floor; step up while staying under the cap.
        while nh * nw < min_pixels and (nh + 2) * (nw + 2) <= max_pixels:
            nh, nw = nh + 2, nw + 2
    return nh, nw


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(T, H, W, 3)`` frames to ``size=(h, w)`` with area interpolation when shrinking."""
    import cv2

    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    interp = cv2.INTER_AREA if h * w < frames.shape[1] * frames.shape[2] else cv2.INTER_LINEAR
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (w, h), interpolation=interp)
    return out
