"""The anomaly-grounding perturbations (docs/method.md §3).

Each perturbation is a plain function ``(segment, rng, ctx) -> segment`` on a ``(t, H, W, 3)`` uint8
array, returning an array of the same shape. ``ctx`` gives the few perturbations that need more than the
segment what they need: the whole clip and the segment's position (fast, slow) or another video's
frames (swap). Random parameters are drawn once per segment from ``rng``, so a sample is reproducible
from its seed alone.

Strength at the source's scale. The reference perturbs the frames at the source video's resolution and
the model's processor shrinks them afterwards, which averages pixel noise away and narrows a blur. Here
the frames are already small, so the two perturbations with a pixel-scale parameter scale it: the blur
radius by the clip's linear size relative to the source (``ctx.pixel_scale``), the noise sigma by the
factor an area resize from the source size divides pixel noise by (``area_noise_gain``); both come
from ``ctx.source_size``.
``tests/perf/fidelity_pixel_scale.py`` measures both against perturbing at source resolution and then
shrinking, on the real sample videos; the unscaled parameters were 1.8-5.9x (noise) too strong.

Strength on the difficulty knob. The perturbations with a strength take it from ``ctx.level`` (the
task's point of the knob, :mod:`videossr.tasks.base`; ``None`` is the paper's generation). Each range
in :data:`STRENGTH_KNOB` is piecewise linear through its points at levels 0, 0.5 and 1, where 0.5 is
the paper's value exactly and a higher level is always a weaker (harder to see) change:

| perturbation | parameter | level 0 | 0.5 (paper) | 1 |
|---|---|---|---|---|
| saturation | factor | 3.0 | 2.0 | 1.3 |
| noise | sigma range (source 0-255 scale) | 70-100 | 35-70 | 10-25 |
| blur | radius (source pixels) | 4 | 2 | 0.8 |
| zoom_in | factor range | 1.6-1.8 | 1.3-1.5 | 1.08-1.15 |
| zoom_out | factor range | 1.5-1.7 | 1.2-1.4 | 1.05-1.12 |
| slow, fast | speed factor, one of two | 3 or 4 | 2 or 3 | 1.3 or 1.6 |

At ``level=None`` every function runs the paper's code path unchanged (same draws, same parameters
recorded), so rows built without a difficulty keep their bytes.
"""

from __future__ import annotations

import functools
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
    source_size: tuple[int, int] = (0, 0)  # (height, width) of the source video; (0, 0) when unknown
    level: float | None = None  # the task's point of the difficulty knob; None: the paper's strengths

    @property
    def pixel_scale(self) -> float:
        """Linear size of the clip's frames relative to the source video (1.0 when not shrunk or unknown)."""
        sh, sw = self.source_size
        h, w = self.clip.shape[1:3]
        return min(1.0, float(np.sqrt(h * w / (sh * sw)))) if sh > 0 and sw > 0 else 1.0


def _axis_noise_gain(n_src: int, n_dst: int) -> float:
    """Mean over output pixels of the sum of squared area-resampling weights along one axis."""
    k = n_src / n_dst
    total = 0.0
    for i in range(n_dst):
        a, b = i * k, (i + 1) * k
        j = np.arange(int(np.floor(a)), int(np.ceil(b)))
        overlap = np.minimum(b, j + 1) - np.maximum(a, j)
        total += float(np.sum((overlap / k) ** 2))
    return total / n_dst


@functools.lru_cache(maxsize=256)  # a build sees a handful of (source, clip) size pairs per video
def area_noise_gain(source_hw: tuple[int, int], clip_hw: tuple[int, int]) -> float:
    """The factor by which an area resize from ``source_hw`` down to ``clip_hw`` divides i.i.d. noise's std.

    Each output pixel is a weighted mean of the source pixels it covers, so independent noise keeps a
    variance of ``sigma^2 * sum(w^2)``; separable weights multiply across the axes. For a whole-number
    factor ``k`` this is ``1/k``; for the common non-whole factors it is smaller than the linear scale
    (a 480 -> 340 resize divides noise by 1.73, not 1.41). 1.0 when the clip is not smaller.
    """
    (sh, sw), (h, w) = source_hw, clip_hw
    if not (sh > 0 and sw > 0) or sh * sw <= h * w:
        return 1.0
    return float(np.sqrt(_axis_noise_gain(sh, h) * _axis_noise_gain(sw, w)))


#: Strength on the difficulty knob: ``{perturbation: {parameter: ((level, value), ...)}}`` (module docstring).
STRENGTH_KNOB: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "saturation": {"factor": ((0.0, 3.0), (0.5, 2.0), (1.0, 1.3))},
    "noise": {
        "low": ((0.0, 70.0), (0.5, 35.0), (1.0, 10.0)),
        "high": ((0.0, 100.0), (0.5, 70.0), (1.0, 25.0)),
    },
    "blur": {"radius": ((0.0, 4.0), (0.5, 2.0), (1.0, 0.8))},
    "zoom_in": {"low": ((0.0, 1.6), (0.5, 1.3), (1.0, 1.08)), "high": ((0.0, 1.8), (0.5, 1.5), (1.0, 1.15))},
    "zoom_out": {"low": ((0.0, 1.5), (0.5, 1.2), (1.0, 1.05)), "high": ((0.0, 1.7), (0.5, 1.4), (1.0, 1.12))},
    "speed": {"low": ((0.0, 3.0), (0.5, 2.0), (1.0, 1.3)), "high": ((0.0, 4.0), (0.5, 3.0), (1.0, 1.6))},
}


def strength(name: str, level: float) -> dict[str, float]:
    """The strength parameters of a perturbation (a key of :data:`STRENGTH_KNOB`) at a knob level.

    Example:
        >>> strength("noise", 0.5)
        {'low': 35.0, 'high': 70.0}
    """
    return {key: float(np.interp(level, *zip(*points))) for key, points in STRENGTH_KNOB[name].items()}


def _speed_factor(rng: np.random.Generator, level: float) -> float:
    """The slow/fast factor at a level: one of two values, as the paper's "2x or 3x"."""
    s = strength("speed", level)
    # integers(0, 2) consumes the generator as the paper's integers(2, 4) does: the same pick at level 0.5.
    return (s["low"], s["high"])[int(rng.integers(0, 2))]


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
    factor = 2.0 if ctx.level is None else round(strength("saturation", ctx.level)["factor"], 4)
    gray = _luma(seg)[..., None]
    return _to_u8(gray + factor * (seg.astype(np.float32) - gray)), {"factor": factor}


def noise(seg, rng, ctx):
    # sigma is drawn on the source's 0-255 scale; shrinking the frames averages several independent
    # source pixels into one, which divides the noise's deviation by area_noise_gain (about the linear
    # scale; exactly 1/k for a whole-number factor k).
    low, high = (35.0, 70.0) if ctx.level is None else strength("noise", ctx.level).values()
    sigma = float(rng.uniform(low, high))
    applied = sigma * area_noise_gain(tuple(ctx.source_size), tuple(ctx.clip.shape[1:3]))
    out = seg.astype(np.float32) + rng.standard_normal(size=seg.shape, dtype=np.float32) * np.float32(applied)
    return _to_u8(out), {"sigma": round(sigma, 3), "applied_sigma": round(applied, 3)}


def blur(seg, rng, ctx):
    import cv2

    # PIL's GaussianBlur(radius=2) is a Gaussian with standard deviation 2 source pixels, which is
    # 2 * pixel_scale pixels of the shrunk frame.
    radius: float = 2 if ctx.level is None else round(strength("blur", ctx.level)["radius"], 4)
    applied = float(radius) * ctx.pixel_scale
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=applied, sigmaY=applied) for f in seg])
    return out, {"radius": radius, "applied_radius": round(applied, 4)}


def grayscale(seg, rng, ctx):
    return np.repeat(_to_u8(_luma(seg))[..., None], 3, axis=-1), {}


def invert(seg, rng, ctx):
    return 255 - seg, {}


def channel_swap(seg, rng, ctx):
    return np.ascontiguousarray(seg[..., ::-1]), {}


# ---- spatial ------------------------------------------------------------------------------------
def zoom_in_frames(frames: np.ndarray, factor: float) -> np.ndarray:
    """Centre-crop every frame by ``factor`` and resize it back to its size."""
    import cv2

    h, w = frames.shape[1:3]
    ch, cw = max(1, round(h / factor)), max(1, round(w / factor))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return np.stack(
        [cv2.resize(f[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR) for f in frames]
    )


def zoom_out_frames(frames: np.ndarray, factor: float) -> np.ndarray:
    """Shrink every frame's content by ``factor`` and centre it on black, keeping the frame size."""
    import cv2

    h, w = frames.shape[1:3]
    sh, sw = max(1, round(h / factor)), max(1, round(w / factor))
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out = np.zeros_like(frames)
    for i, f in enumerate(frames):
        out[i, y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA)
    return out


def zoom_in(seg, rng, ctx):
    low, high = (1.3, 1.5) if ctx.level is None else strength("zoom_in", ctx.level).values()
    factor = float(rng.uniform(low, high))
    return zoom_in_frames(seg, factor), {"factor": round(factor, 4)}


def zoom_out(seg, rng, ctx):
    low, high = (1.2, 1.4) if ctx.level is None else strength("zoom_out", ctx.level).values()
    factor = float(rng.uniform(low, high))
    return zoom_out_frames(seg, factor), {"factor": round(factor, 4)}


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
        out[i, y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(
            np.ascontiguousarray(f), (nw, nh), interpolation=cv2.INTER_AREA
        )
    return out


# The reference's names: rotate90 turns the picture 90 degrees clockwise, rotate270 counter-clockwise.
# np.rot90 turns counter-clockwise for positive k (on image axes with y pointing down).
def rotate90(seg, rng, ctx):
    return _quarter_turn(seg, -1), {"letterboxed": True}


def rotate270(seg, rng, ctx):
    return _quarter_turn(seg, 1), {"letterboxed": True}


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
    if ctx.level is not None:
        factor_f = _speed_factor(rng, ctx.level)
        n_src = int(np.ceil(t / factor_f))
        src = np.minimum(np.floor(np.arange(t) / factor_f).astype(int), n_src - 1)
        return seg[src], {"factor": round(factor_f, 4)}
    factor = int(rng.integers(2, 4))  # 2x or 3x slower
    n_src = int(np.ceil(t / factor))
    src = np.minimum(np.arange(t) // factor, n_src - 1)
    return seg[src], {"factor": factor}


def fast(seg, rng, ctx):
    t, total = ctx.length, ctx.clip.shape[0]
    if ctx.level is not None:
        # A fractional factor: frames floor(factor * i) of a stretch of ceil(factor * t) frames.
        factor_f = max(1.0, min(_speed_factor(rng, ctx.level), total / t))
        begin = max(0, min(ctx.start, total - int(np.ceil(factor_f * t))))
        idx = np.minimum(begin + np.floor(factor_f * np.arange(t)).astype(int), total - 1)
        return ctx.clip[idx], {"factor": round(factor_f, 4), "source_start": int(begin)}
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
    out = np.stack(
        [
            cv2.resize(other[i], (w, h), interpolation=cv2.INTER_AREA)
            if other.shape[1:3] != (h, w)
            else other[i]
            for i in idx
        ]
    )
    return out, {}


# The descriptions are the prompt's only hint (docs/method.md §12): the plain name of the change and no
# more, so no visual clue ("black border", "upside down") the reference's questions do not give.
PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in [
        Perturbation("saturation", "fine-grained", "the colour saturation is increased", saturation),
        Perturbation("noise", "fine-grained", "noise is added to the picture", noise),
        Perturbation("blur", "fine-grained", "the picture is blurred", blur),
        Perturbation("grayscale", "fine-grained", "the picture is turned to grayscale", grayscale),
        Perturbation("invert", "fine-grained", "the colours are inverted", invert),
        Perturbation(
            "channel_swap", "fine-grained", "the red and blue colour channels are swapped", channel_swap
        ),
        Perturbation("zoom_in", "spatial", "the picture is zoomed in", zoom_in),
        Perturbation("zoom_out", "spatial", "the picture is zoomed out", zoom_out),
        Perturbation("rotate180", "spatial", "the picture is rotated by 180 degrees", rotate180),
        Perturbation("mirror", "spatial", "the picture is mirrored horizontally", mirror),
        Perturbation("rotate90", "spatial", "the picture is rotated 90 degrees clockwise", rotate90),
        Perturbation(
            "rotate270", "spatial", "the picture is rotated 90 degrees counter-clockwise", rotate270
        ),
        Perturbation(
            "shuffle", "temporal", "the frames are shuffled, so the events appear out of order", shuffle
        ),
        Perturbation("stutter_hold", "temporal", "the playback stutters", stutter_hold),
        Perturbation("slow", "temporal", "the video plays in slow motion", slow),
        Perturbation("fast", "temporal", "the video plays fast-forward", fast),
        Perturbation(
            "swap",
            "temporal",
            "the footage is replaced by footage from another video",
            swap,
            needs_other=True,
        ),
    ]
}

#: The four perturbations of the VideoSSR-30K training mix (docs/method.md §3).
TRAINING_PERTURBATIONS = ("channel_swap", "rotate180", "zoom_out", "mirror")
#: Grounding perturbations of VIUBench, in Table 1 order (the training four plus shuffle).
BENCHMARK_PERTURBATIONS = (*TRAINING_PERTURBATIONS, "shuffle")
