"""The frame makers of :mod:`videossr.synthetic`'s families: each draws one video's uint8 frames
``(T, H, W, 3)`` from the video's own seed alone.

* ``pan``: a crop window gliding and zooming over a photograph (:func:`make_pan`).
* ``shapes`` and ``blobs``: moving shapes over a drifting texture, soft blobs over a drifting background
  (:func:`make_simple`).
* ``fractal``: one of ffmpeg's lavfi sources with seeded parameters and colours (:func:`make_fractal`).
"""

from __future__ import annotations

import functools
import math
import subprocess
from pathlib import Path

import numpy as np

from videossr.video import _ffmpeg


@functools.lru_cache(maxsize=16)
def _load_photo(path: Path, longest_output: int):
    """The photograph in RGB, shrunk so that its short side is at most 8x the output: crops then stay
    well oversampled while each frame's resampling stays cheap."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
    limit = 8 * longest_output
    if min(img.size) > limit:
        scale = limit / min(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return img


def _random_colour(rng: np.random.Generator, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """A saturated-ish random RGB colour in [0, 255] (HSV with random hue)."""
    import colorsys

    hue, sat, val = rng.random(), rng.uniform(0.35, 1.0), rng.uniform(lo, hi)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val), dtype=np.float32) * 255.0


def _pan(rng: np.random.Generator, photo: Path, height: int, width: int, frames: int) -> np.ndarray:
    from PIL import Image

    img = _load_photo(photo, max(height, width))
    if rng.random() < 0.5:  # a mirrored view is another view of the same picture
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pw, ph = img.size
    aspect = width / height
    full_h = min(ph, pw / aspect)  # the tallest window of the output's aspect inside the photo
    start = rng.uniform(0.3, 0.85)
    change = rng.uniform(0.15, 0.6) * rng.choice([-1.0, 1.0])  # zoom in or out, always visibly
    end = float(np.clip(start * math.exp(change), 0.25, 1.0))
    h0, h1 = start * full_h, end * full_h

    def centre(win_h: float) -> np.ndarray:
        half = np.array([win_h * aspect, win_h]) / 2
        return rng.uniform(half, np.array([pw, ph]) - half)

    c0 = centre(h0)
    # Several tries for the far end: the longest glide keeps the motion visible.
    c1 = max((centre(h1) for _ in range(6)), key=lambda c: float(np.linalg.norm(c - c0)))
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for j in range(frames):
        s = j / max(frames - 1, 1)
        win_h = h0 * (h1 / h0) ** s  # geometric: a constant zoom speed
        cx, cy = c0 + (c1 - c0) * s
        half_w, half_h = win_h * aspect / 2, win_h / 2
        cx, cy = np.clip(cx, half_w, pw - half_w), np.clip(cy, half_h, ph - half_h)
        box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        out[j] = np.asarray(img.resize((width, height), Image.Resampling.BILINEAR, box=box))
    return out


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Positions of a point moving freely on a line, reflected back into ``[lo, hi]``."""
    span = max(hi - lo, 1e-6)
    m = np.mod(x - lo, 2 * span)
    return lo + np.where(m < span, m, 2 * span - m)


def _texture(rng: np.random.Generator, height: int, width: int, frames: int) -> np.ndarray:
    """A drifting background, float32 (T, H, W, 3) in [0, 255]."""
    import cv2

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    kind = rng.choice(["noise", "stripes", "checker"])
    if kind == "noise":
        cells = rng.integers(3, 10, size=2)
        grid = rng.random((int(cells[0]), int(cells[1]))).astype(np.float32)
        canvas = cv2.resize(grid, (2 * width, 2 * height), interpolation=cv2.INTER_CUBIC)
        canvas = (canvas - canvas.min()) / max(float(np.ptp(canvas)), 1e-6)
        speed = rng.uniform(0.3, 0.9)
        angle = rng.uniform(0, 2 * math.pi)
        v = speed * np.array([math.cos(angle), math.sin(angle)])
        lo = np.array([width, height]) / 2 - v * frames / 2  # centred so the drift stays on the canvas
        value = np.empty((frames, height, width), dtype=np.float32)
        for j in range(frames):
            ox, oy = lo + v * j
            shift = np.float32([[1, 0, -ox], [0, 1, -oy]])
            value[j] = cv2.warpAffine(
                canvas, shift, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
    else:
        angle = rng.uniform(0, math.pi)
        u = xx * math.cos(angle) + yy * math.sin(angle)
        w = -xx * math.sin(angle) + yy * math.cos(angle)
        period = rng.uniform(8, 32)
        drift = rng.uniform(0.2, 0.8) * rng.choice([-1.0, 1.0])  # pixels per frame
        sharp = rng.uniform(1.0, 6.0)
        if kind == "stripes":
            wave = np.sin(2 * math.pi * (u[None] + drift * t) / period)
        else:
            wave = np.sin(math.pi * (u[None] + drift * t) / period) * np.sin(
                math.pi * (w[None] + 0.5 * drift * t) / period
            )
        value = np.clip(0.5 + 0.5 * sharp * wave, 0.0, 1.0).astype(np.float32)
    # Three-colour palette: value 0 -> a, 0.5 -> b, 1 -> c.
    a, b, c = (_random_colour(rng, 0.2, 1.0) for _ in range(3))
    v = value[..., None]
    low = a + (b - a) * np.clip(2 * v, 0, 1)
    return np.where(v < 0.5, low, b + (c - b) * np.clip(2 * v - 1, 0, 1)).astype(np.float32)


def _shape_outline(kind: str, rng: np.random.Generator, radius: float) -> np.ndarray:
    """Vertices (N, 2) of a shape centred on the origin."""
    if kind in ("circle", "ellipse"):
        theta = np.linspace(0, 2 * math.pi, 40, endpoint=False)
        squash = 1.0 if kind == "circle" else rng.uniform(0.4, 0.75)
        return np.stack([np.cos(theta), squash * np.sin(theta)], axis=1) * radius
    if kind == "star":
        theta = np.linspace(0, 2 * math.pi, 10, endpoint=False)
        r = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
        return np.stack([np.cos(theta) * r, np.sin(theta) * r], axis=1) * radius
    sides = {"triangle": 3, "square": 4, "pentagon": 5}[kind]
    theta = np.linspace(0, 2 * math.pi, sides, endpoint=False)
    stretch = np.array([1.0, rng.uniform(0.6, 1.0)])
    return np.stack([np.cos(theta), np.sin(theta)], axis=1) * radius * stretch


def _shapes(rng: np.random.Generator, height: int, width: int, frames: int) -> np.ndarray:
    import cv2

    background = _texture(rng, height, width, frames)
    out = np.ascontiguousarray(np.clip(background, 0, 255).astype(np.uint8))
    side = min(height, width)
    t = np.arange(frames, dtype=np.float64)
    shapes = []
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(["circle", "ellipse", "square", "triangle", "pentagon", "star"]))
        radius = rng.uniform(0.08, 0.2) * side
        outline = _shape_outline(kind, rng, radius)
        colour = tuple(float(x) for x in _random_colour(rng, 0.5, 1.0))
        p0 = rng.uniform([radius, radius], [width - radius, height - radius])
        speed, angle = rng.uniform(0.8, 2.5), rng.uniform(0, 2 * math.pi)
        path = p0[None] + speed * t[:, None] * np.array([math.cos(angle), math.sin(angle)])[None]
        if rng.random() < 0.5:  # bouncing off the frame's edges; otherwise a straight line out
            path[:, 0] = _bounce(path[:, 0], radius, width - radius)
            path[:, 1] = _bounce(path[:, 1], radius, height - radius)
        spin = rng.uniform(-0.15, 0.15)  # radians per frame (round shapes show it as a wobble)
        shapes.append((outline, colour, path, spin, rng.uniform(0, 2 * math.pi)))
    for j in range(frames):
        for outline, colour, path, spin, phase in shapes:
            angle = phase + spin * j
            rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            points = (outline @ rot.T + path[j]) * 16  # cv2's shift=4 fixed point: sub-pixel motion
            cv2.fillPoly(out[j], [np.round(points).astype(np.int32)], colour, cv2.LINE_AA, shift=4)
    return out


def _blobs(rng: np.random.Generator, height: int, width: int, frames: int) -> np.ndarray:
    ys, xs = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    t = np.arange(frames, dtype=np.float32)
    side = min(height, width)
    img = np.broadcast_to(_random_colour(rng, 0.05, 0.6), (frames, height, width, 3)).astype(np.float32)
    for _ in range(int(rng.integers(3, 8))):
        colour = _random_colour(rng, 0.6, 1.0)
        sigma = rng.uniform(0.08, 0.25) * side
        strength = rng.uniform(0.6, 1.0)
        centre = rng.uniform([0.15 * width, 0.15 * height], [0.85 * width, 0.85 * height])
        amp = rng.uniform(0.15, 0.4, size=2) * np.array([width, height])
        cycles = rng.uniform(0.3, 1.2, size=2)  # over the clip: some sway, some circle around
        phase = rng.uniform(0, 2 * math.pi, size=2)
        cx = centre[0] + amp[0] * np.sin(2 * math.pi * cycles[0] * t / frames + phase[0])
        cy = centre[1] + amp[1] * np.sin(2 * math.pi * cycles[1] * t / frames + phase[1])
        # A Gaussian is separable: two small profiles and an outer product instead of a 3-D exp.
        gx = np.exp(-((xs[None] - cx[:, None]) ** 2) / (2 * sigma**2)).astype(np.float32)
        gy = np.exp(-((ys[None] - cy[:, None]) ** 2) / (2 * sigma**2)).astype(np.float32)
        weight = (strength * gy[:, :, None] * gx[:, None, :])[..., None]
        img = img * (1 - weight) + colour * weight
    lo, hi = sorted(rng.uniform(0.6, 1.3, size=2))
    ramp = lo + (hi - lo) * t / max(frames - 1, 1)
    brightness = ramp if rng.random() < 0.5 else ramp[::-1]
    return np.clip(img * brightness[:, None, None, None], 0, 255).astype(np.uint8)


_LIFE_RULES = ("B3/S23", "B36/S23", "B3678/S34678", "B3/S12345", "B35678/S5678", "B368/S245", "B3/S1234")
_CELLAUTO_RULES = (18, 22, 30, 45, 54, 60, 73, 90, 105, 106, 110, 122, 126, 137, 150, 169, 193)
# Points on the Mandelbrot set's boundary where zooms stay detailed; a random point mostly shows flat
# colour (inside or far outside the set).
_MANDELBROT_POINTS = (
    (-0.743643887, 0.131825904),
    (-0.7453, 0.1127),
    (-0.16, 1.0405),
    (-1.25066, 0.02012),
    (-0.748, 0.1),
    (0.2549, 0.0005),
    (-0.1011, 0.9563),
    (0.001643721971153, -0.822467633298876),
    (-1.768778833, -0.001738996),
    (0.3750001200618655, -0.2166393884377127),
)


def _two_tone(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark and a light colour of clearly different hues, to colour a black-and-white source."""
    import colorsys

    hue = rng.random()
    dark = colorsys.hsv_to_rgb(hue, rng.uniform(0.4, 1.0), rng.uniform(0.05, 0.35))
    light = colorsys.hsv_to_rgb(
        (hue + rng.uniform(0.25, 0.75)) % 1.0, rng.uniform(0.3, 1.0), rng.uniform(0.7, 1.0)
    )
    return np.array(dark, dtype=np.float32) * 255.0, np.array(light, dtype=np.float32) * 255.0


def _hex(colour: np.ndarray) -> str:
    return "0x" + "".join(f"{int(round(float(c))):02x}" for c in np.clip(colour, 0, 255))


def _lavfi_spec(source: str, rng: np.random.Generator, height: int, width: int, frames: int, fps: float):
    """An ffmpeg lavfi graph for ``source`` and, for monochrome sources, the palette to colour it."""
    seed = int(rng.integers(0, 2**32 - 1))
    rate = f"{fps:.6f}"
    palette = None
    if source == "mandelbrot":
        x, y = _MANDELBROT_POINTS[int(rng.integers(len(_MANDELBROT_POINTS)))]
        scale = 10 ** rng.uniform(-2.5, -0.3)
        x, y = x + rng.normal(0, 0.05) * scale, y + rng.normal(0, 0.05) * scale
        zoom = rng.uniform(0.15, 0.5)  # end scale / start scale: in, or out when swapped
        start, end = (scale, scale * zoom) if rng.random() < 0.7 else (scale * zoom, scale)
        spec = (
            f"mandelbrot=s={width}x{height}:r={rate}:maxiter={int(rng.integers(200, 900))}"
            f":start_x={x:.12f}:start_y={y:.12f}:start_scale={start:.8g}:end_scale={end:.8g}"
            f":end_pts={frames}:outer={int(rng.choice([0, 1, 3]))}:inner={int(rng.integers(0, 4))}"
            f",hue=h={rng.uniform(0, 360):.1f}:s={rng.uniform(0.6, 1.6):.2f}"
        )
    elif source == "life":
        cell = int(rng.integers(1, 5))
        spec = (
            f"life=s={max(width // cell, 8)}x{max(height // cell, 8)}:r={rate}:seed={seed}"
            f":rule={_LIFE_RULES[int(rng.integers(len(_LIFE_RULES)))]}:ratio={rng.uniform(0.1, 0.6):.3f}"
            f":life_color={_hex(_random_colour(rng, 0.6, 1.0))}"
            f":death_color={_hex(_random_colour(rng, 0, 0.4))}"
            f":mold={int(rng.integers(0, 40))}:mold_color={_hex(_random_colour(rng, 0.2, 0.7))}"
            f",scale={width}:{height}:flags=neighbor"
        )
    elif source == "cellauto":
        cell = int(rng.integers(1, 4))
        spec = (
            f"cellauto=s={max(width // cell, 8)}x{max(height // cell, 8)}:r={rate}:seed={seed}"
            f":rule={_CELLAUTO_RULES[int(rng.integers(len(_CELLAUTO_RULES)))]}"
            f":ratio={rng.uniform(0.2, 0.7):.3f}:start_full=1:scroll=1"
            f",scale={width}:{height}:flags=neighbor"
        )
        palette = _two_tone(rng)
    elif source == "gradients":
        # Colours and the gradient line are drawn here: ffmpeg's defaults for them ("random", -1) come
        # from its own random seed, not `seed`, so two makes of one video differed (ffmpeg 5.1).
        n = int(rng.integers(2, 9))
        colours = "".join(f":c{k}={_hex(_random_colour(rng, 0.3, 1.0))}" for k in range(n))
        x0, x1 = (int(v) for v in rng.integers(0, width, size=2))
        y0, y1 = (int(v) for v in rng.integers(0, height, size=2))
        spec = (
            f"gradients=s={width}x{height}:r={rate}:seed={seed}:n={n}{colours}"
            f":x0={x0}:y0={y0}:x1={x1}:y1={y1}"
            f":speed={rng.uniform(0.02, 0.08):.4f}:type={int(rng.integers(0, 4))}"
        )
    elif source == "sierpinski":
        # The pattern's first frame is the same for every seed (the seed only steers later jumps): a
        # random window of a larger rendering, and a palette, make each video its own.
        big = 3 * max(width, height)
        crop = int(rng.uniform(0.4, 1.0) * big)
        x, y = (int(rng.integers(0, big - crop + 1)) for _ in range(2))
        spec = (
            f"sierpinski=s={big}x{big}:r={rate}:seed={seed}:jump={int(rng.integers(1, 40))}"
            f":type={int(rng.integers(0, 2))},crop={crop}:{crop}:{x}:{y}"
            f",scale={width}:{height}:flags=area"
        )
        palette = _two_tone(rng)
    else:
        raise ValueError(f"unknown lavfi source {source!r}")
    return spec, palette


def _fractal(
    rng: np.random.Generator, source: str, height: int, width: int, frames: int, fps: float
) -> np.ndarray:
    exe = _ffmpeg()
    if exe is None:
        raise RuntimeError("the fractal family needs the ffmpeg binary")
    spec, palette = _lavfi_spec(source, rng, height, width, frames, fps)
    cmd = [exe, "-v", "error", "-nostdin", "-f", "lavfi", "-i", spec, "-frames:v", str(frames),
           "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, timeout=120)
    expected = frames * height * width * 3
    if res.returncode != 0 or len(res.stdout) != expected:
        detail = res.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"ffmpeg {source} gave {len(res.stdout)} of {expected} bytes: {detail[-1:]}")
    out = np.frombuffer(res.stdout, dtype=np.uint8).reshape(frames, height, width, 3)
    if palette is not None:  # black-and-white source: map grey onto two seeded colours
        v = out[..., :1].astype(np.float32) / 255.0
        out = (palette[0] + (palette[1] - palette[0]) * v).astype(np.uint8)
    return out


def make_pan(vseed: int, photo: Path, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    return _pan(np.random.default_rng(vseed), photo, height, width, frames)


def make_fractal(vseed: int, source: str, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    return _fractal(np.random.default_rng(vseed), source, height, width, frames, fps)


def make_simple(vseed: int, family: str, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    maker = {"shapes": _shapes, "blobs": _blobs}[family]
    return maker(np.random.default_rng(vseed), height, width, frames)
