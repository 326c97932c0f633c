"""The anomaly-grounding perturbations (SPEC §3).

Each perturbation is a plain function ``(segment, rng, ctx) -> segment`` on a ``(t, H, W, 3)`` uint8
array, returning an array of the same shape. ``ctx`` gives the few perturbations that need more than the
segment what they need: the whole clip and the segment's position (fast, slow) or another video's
frames (swap). Random parameters are drawn once per segment from ``rng``, so a sample is reproducible
from its seed alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SegmentContext:
    """What a perturbation may look at besides the segment itself."""

    clip: np.ndarray  # the whole (T, H, W, 3) clip
    start: int  # first frame of the segment
    length: int  # number of frames in the segment
    other: np.ndarray | None = None  # frames of another video (swap only), any size


@dataclass(frozen=True)
class Perturbation:
    name: str
    family: str  # "fine-grained", "spatial" or "temporal"
    description: str  # plain words used in the question
    fn: Callable[[np.ndarray, np.random.Generator, SegmentContext], tuple[np.ndarray, dict[str, Any]]]
    needs_other: bool = False


def _luma(frames: np.ndarray) -> np.ndarray:
    # ITU-R 601 luma, the weights PIL uses for "L" conversion.
    f = frames.astype(np.float32)
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ---- fine-grained -------------------------------------------------------------------------------
def saturation(seg, rng, ctx):
    gray = _luma(seg)[..., None]
    return _to_u8(gray + 2.0 * (seg.astype(np.float32) - gray)), {"factor": 2.0}


def noise(seg, rng, ctx):
    sigma = float(rng.uniform(35.0, 70.0))
    out = seg.astype(np.float32) + rng.standard_normal(size=seg.shape, dtype=np.float32) * np.float32(sigma)
    return _to_u8(out), {"sigma": round(sigma, 3)}


def blur(seg, rng, ctx):
    import cv2

    # PIL's GaussianBlur(radius=2) is a Gaussian with standard deviation 2.
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=2.0, sigmaY=2.0) for f in seg])
    return out, {"radius": 2}


def grayscale(seg, rng, ctx):
    return np.repeat(_to_u8(_luma(seg))[..., None], 3, axis=-1), {}


def invert(seg, rng, ctx):
    return 255 - seg, {}


def channel_swap(seg, rng, ctx):
    return np.ascontiguousarray(seg[..., ::-1]), {}


# ---- spatial ------------------------------------------------------------------------------------
def zoom_in(seg, rng, ctx):
    import cv2

    factor = float(rng.uniform(1.3, 1.5))
    h, w = seg.shape[1:3]
    ch, cw = max(1, round(h / factor)), max(1, round(w / factor))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    out = np.stack([cv2.resize(f[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR) for f in seg])
    return out, {"factor": round(factor, 4)}


def zoom_out(seg, rng, ctx):
    import cv2

    factor = float(rng.uniform(1.2, 1.4))
    h, w = seg.shape[1:3]
    sh, sw = max(1, round(h / factor)), max(1, round(w / factor))
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out = np.zeros_like(seg)
    for i, f in enumerate(seg):
        out[i, y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA)
    return out, {"factor": round(factor, 4)}


def rotate180(seg, rng, ctx):
    return np.ascontiguousarray(seg[:, ::-1, ::-1]), {}


def mirror(seg, rng, ctx):
    return np.ascontiguousarray(seg[:, :, ::-1]), {}


def _quarter_turn(seg: np.ndarray, k: int) -> np.ndarray:
    """Rotate by ``k`` quarter turns and letterbox the result into the original frame shape.

    A quarter turn swaps height and width; the clip must keep one frame shape, so the turned frame
    is scaled to fit inside the original frame and centred on black.
    """
    import cv2

    h, w = seg.shape[1:3]
    turned = np.rot90(seg, k=k, axes=(1, 2))  # (t, w, h, 3)
    th, tw = turned.shape[1:3]
    scale = min(h / th, w / tw)
    nh, nw = max(1, int(th * scale)), max(1, int(tw * scale))
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    out = np.zeros_like(seg)
    for i, f in enumerate(turned):
        out[i, y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(np.ascontiguousarray(f), (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def rotate90(seg, rng, ctx):
    return _quarter_turn(seg, 1), {"letterboxed": True}


def rotate270(seg, rng, ctx):
    return _quarter_turn(seg, 3), {"letterboxed": True}


# ---- temporal -----------------------------------------------------------------------------------
def shuffle(seg, rng, ctx):
    t = len(seg)
    order = rng.permutation(t)
    while t > 1 and np.array_equal(order, np.arange(t)):  # an identity shuffle would be no anomaly
        order = rng.permutation(t)
    return seg[order], {"order": order.tolist()}


def stutter_hold(seg, rng, ctx):
    t = len(seg)
    k = int(rng.integers(2, 6))  # 2..5 held frames
    picks = np.linspace(0, t - 1, k).round().astype(int)
    # Each picked frame is held for an equal share of the segment.
    holds = np.repeat(picks, np.diff(np.linspace(0, t, k + 1).round().astype(int)))
    return seg[holds], {"held_frames": picks.tolist()}


def slow(seg, rng, ctx):
    t = len(seg)
    factor = int(rng.integers(2, 4))  # 2x or 3x slower
    n_src = int(np.ceil(t / factor))
    src = np.minimum(np.arange(t) // factor, n_src - 1)
    return seg[src], {"factor": factor}


def fast(seg, rng, ctx):
    t, total = ctx.length, ctx.clip.shape[0]
    factor = int(rng.integers(2, 4))  # 2x or 3x faster
    factor = max(1, min(factor, total // t))
    stretch = factor * t
    # The faster segment covers a longer stretch of the clip beginning at the segment start, moved
    # back when it would run past the end of the clip.
    begin = min(ctx.start, total - stretch)
    idx = begin + factor * np.arange(t)
    return ctx.clip[idx], {"factor": factor, "source_start": int(begin)}


def swap(seg, rng, ctx):
    import cv2

    if ctx.other is None:
        raise ValueError("the 'swap' perturbation needs another video: pass other=<Clip> to generate()")
    other = ctx.other
    idx = np.clip(np.arange(ctx.start, ctx.start + ctx.length), 0, other.shape[0] - 1)
    h, w = seg.shape[1:3]
    out = np.stack([cv2.resize(other[i], (w, h), interpolation=cv2.INTER_AREA) if other.shape[1:3] != (h, w) else other[i] for i in idx])
    return out, {}


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in [
        Perturbation("saturation", "fine-grained", "the colours become strongly over-saturated", saturation),
        Perturbation("noise", "fine-grained", "heavy random noise is added to the picture", noise),
        Perturbation("blur", "fine-grained", "the picture becomes blurred", blur),
        Perturbation("grayscale", "fine-grained", "the picture loses its colour and turns black-and-white", grayscale),
        Perturbation("invert", "fine-grained", "the colours are inverted, like a photographic negative", invert),
        Perturbation("channel_swap", "fine-grained", "the red and blue colour channels are swapped", channel_swap),
        Perturbation("zoom_in", "spatial", "the picture is zoomed in on its centre", zoom_in),
        Perturbation("zoom_out", "spatial", "the picture is zoomed out, shrunk inside a black border", zoom_out),
        Perturbation("rotate180", "spatial", "the picture is turned upside down (rotated 180 degrees)", rotate180),
        Perturbation("mirror", "spatial", "the picture is mirrored left to right", mirror),
        Perturbation("rotate90", "spatial", "the picture is rotated a quarter turn counter-clockwise", rotate90),
        Perturbation("rotate270", "spatial", "the picture is rotated a quarter turn clockwise", rotate270),
        Perturbation("shuffle", "temporal", "the frames are played in a scrambled order", shuffle),
        Perturbation("stutter_hold", "temporal", "the motion stutters: a few frames freeze and jump", stutter_hold),
        Perturbation("slow", "temporal", "the video plays in slow motion", slow),
        Perturbation("fast", "temporal", "the video plays fast-forward", fast),
        Perturbation("swap", "temporal", "the footage is replaced by a piece of a different video", swap, needs_other=True),
    ]
}

#: The four perturbations of the VideoSSR-30K training mix (SPEC §3).
TRAINING_PERTURBATIONS = ("channel_swap", "rotate180", "zoom_out", "mirror")
#: Grounding subtypes of VIUBench (the training four plus shuffle).
BENCHMARK_PERTURBATIONS = (*TRAINING_PERTURBATIONS, "shuffle")
