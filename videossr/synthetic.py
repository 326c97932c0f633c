"""Distinct source videos made offline, for beds that need many videos no training row has touched.

:func:`make_videos` writes ``count`` short mp4 clips into a folder, cycling four families round-robin
(video ``i`` belongs to ``FAMILIES[i % 4]``; a family whose ingredients are missing is left out of the
cycle, see :func:`available_families`):

* ``pan``: a crop window gliding linearly (and zooming in or out) over a photograph shipped inside an
  installed package (matplotlib's sample data, gradio's media assets, ...). Every view of one
  photograph shares its ``group``, so a split by group keeps a picture on one side.
* ``shapes``: one to four filled shapes moving (linearly or bouncing) over a slowly drifting procedural
  texture (smoothed noise, stripes or checker).
* ``fractal``: one of ffmpeg's synthetic sources (``mandelbrot``, ``life``, ``cellauto``, ``gradients``,
  ``sierpinski``; cycled in that order within the family) with seeded parameters and colours.
* ``blobs``: soft Gaussian blobs drifting over a coloured background whose brightness drifts.

Every video is drawn from its own seed, ``SeedSequence([seed, index])``, so a video does not change when
``count`` grows, and the same arguments give the same names, groups and frames. Every file is encoded by
:func:`videossr.video.write_mp4` (same codec, size and rate for all families) and holds
:func:`file_frames` ``(num_frames)`` frames: the fewest from which
``load_clip(path, num_frames=num_frames)`` can take its frames between 5% and 95% of the video
(53 frames for 48).

Example:
    >>> videos = make_videos("bed_videos", 200, seed=0)  # doctest: +SKIP
    >>> videos[0].name, videos[0].family, videos[0].group  # doctest: +SKIP
    ('pan-0000', 'pan', 'grace_hopper.jpg')
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import threading
import subprocess
import sysconfig
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from videossr.video import SPAN, _ffmpeg, _mp4_complete, write_mp4

__all__ = [
    "FAMILIES",
    "LAVFI_SOURCES",
    "SyntheticVideo",
    "available_families",
    "contact_sheet",
    "file_frames",
    "find_photos",
    "make_videos",
]

FAMILIES = ("pan", "shapes", "fractal", "blobs")
LAVFI_SOURCES = ("mandelbrot", "life", "cellauto", "gradients", "sierpinski")
MANIFEST = "manifest.json"
#: Threads making videos at once (each mostly waits on an ffmpeg subprocess).
_WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Bumped whenever a generator changes what it draws: a cache written by another version is remade.
GENERATOR_VERSION = 2

# Photographs smaller than this on the short side give blurry pans; names with these words are
# interface art, not photographs.
_MIN_PHOTO_SIDE = 256
_NOT_PHOTOS = ("icon", "logo", "favicon", "badge", "button", "cursor", "banner", "spinner", "avatar")
_PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Test fixtures (plots, baseline renderings) are not photographs.
_NOT_PHOTO_FOLDERS = frozenset({"tests", "test", "testing", "baseline", "baseline_images", "__pycache__"})


@dataclass(frozen=True)
class SyntheticVideo:
    """One generated video.

    Attributes:
        name: file stem, e.g. ``"pan-0007"`` (family and index in the list).
        family: ``"pan"``, ``"shapes"``, ``"fractal"`` or ``"blobs"``.
        group: videos showing the same picture share it (the photograph's file name for ``pan``);
            every procedural video is its own group (its name).
        seed: the video's own seed, from ``SeedSequence([seed, index])``; it alone fixes the frames.
        path: the mp4 file.
    """

    name: str
    family: str
    group: str
    seed: int
    path: Path


# --------------------------------------------------------------------------------------------------
# Ingredients
# --------------------------------------------------------------------------------------------------
def file_frames(num_frames: int) -> int:
    """Frames a file must hold for ``load_clip(path, num_frames=num_frames)`` to read it.

    ``load_clip`` only samples between 5% and 95% of a video, so a file of exactly ``num_frames`` frames
    is too short; this is the smallest length that works, and its sampled frames are consecutive.

    Example:
        >>> file_frames(48)
        53
    """
    total = int(num_frames)
    while math.floor(total * SPAN[1]) - math.floor(total * SPAN[0]) < num_frames:
        total += 1
    return total


def _site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    found: list[Path] = []
    for key in ("purelib", "platlib"):
        path = Path(paths[key])
        if path.is_dir() and path not in found:
            found.append(path)
    return found


@functools.lru_cache(maxsize=1)
def find_photos() -> tuple[Path, ...]:
    """Photographs shipped inside installed packages, usable as ``pan`` backgrounds.

    Walks the environment's site-packages for .jpg/.jpeg/.png files at least 256 px on the short
    side, skipping interface art (names with ``icon``, ``logo``, ...), mostly transparent or nearly flat
    images, and content duplicates (the first path in sorted order is kept). Sorted by path relative to
    site-packages, so the list only depends on what is installed.
    """
    from PIL import Image

    candidates: list[tuple[str, Path]] = []
    for root in _site_dirs():
        for folder, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d.lower() not in _NOT_PHOTO_FOLDERS)
            for name in filenames:
                lower = name.lower()
                if not lower.endswith(_PHOTO_EXTENSIONS) or any(word in lower for word in _NOT_PHOTOS):
                    continue
                path = Path(folder) / name
                try:
                    if path.stat().st_size < 16_000:  # icons and glyphs; a real photo is bigger
                        continue
                except OSError:
                    continue
                candidates.append((path.relative_to(root).as_posix(), path))
    photos: list[Path] = []
    seen: set[str] = set()
    for _, path in sorted(candidates):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                continue
            with Image.open(path) as img:
                if min(img.size) < _MIN_PHOTO_SIDE:
                    continue
                img.draft("RGB", (256, 256))  # a quick look is enough for the checks below
                small = img.convert("RGBA")
                small.thumbnail((64, 64))
        except Exception:  # an unreadable or odd file is simply not a photograph here
            continue
        pixels = np.asarray(small, dtype=np.float32)
        if (pixels[..., 3] < 250).mean() > 0.05 or pixels[..., :3].std() < 20:
            continue  # cut-outs on transparency and flat graphics pan to nothing
        _, counts = np.unique((pixels[..., :3] // 8).reshape(-1, 3), axis=0, return_counts=True)
        if counts.max() > 0.2 * counts.sum():
            continue  # one colour covering a fifth of the picture: a chart or drawing, not a photograph
        seen.add(digest)
        photos.append(path)
    return tuple(photos)


def _photo_groups(photos: Sequence[Path]) -> list[str]:
    """The group of each photograph: its file name, prefixed by its folder where two share a name."""
    names = [p.name for p in photos]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in photos]


def available_families() -> tuple[str, ...]:
    """The families this environment can make: ``pan`` needs a photograph (:func:`find_photos`),
    ``fractal`` the ffmpeg binary; ``shapes`` and ``blobs`` are always there."""
    return tuple(
        f
        for f in FAMILIES
        if not (f == "pan" and not find_photos()) and not (f == "fractal" and not _ffmpeg())
    )


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


# --------------------------------------------------------------------------------------------------
# Families: each returns uint8 frames (T, H, W, 3)
# --------------------------------------------------------------------------------------------------
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
        spec = (
            f"gradients=s={width}x{height}:r={rate}:seed={seed}:n={int(rng.integers(2, 9))}"
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


# --------------------------------------------------------------------------------------------------
# The set
# --------------------------------------------------------------------------------------------------
def _video_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def _plan(folder: Path, count: int, seed: int, families: Sequence[str], photos: Sequence[Path]):
    """``(video, make_frames)`` for each index; nothing is drawn until ``make_frames`` is called."""
    groups = _photo_groups(photos)
    plan: list[tuple[SyntheticVideo, Callable[[int, int, int, float], np.ndarray]]] = []
    for index in range(count):
        family = families[index % len(families)]
        k = index // len(families)  # position within the family: round-robin over photos/sources
        name = f"{family}-{index:04d}"
        vseed = _video_seed(seed, index)
        group = name
        if family == "pan":
            photo = photos[k % len(photos)]
            group = groups[k % len(photos)]
            make = functools.partial(_make_pan, vseed, photo)
        elif family == "fractal":
            make = functools.partial(_make_fractal, vseed, LAVFI_SOURCES[k % len(LAVFI_SOURCES)])
        else:
            make = functools.partial(_make_simple, vseed, family)
        plan.append((SyntheticVideo(name, family, group, vseed, folder / f"{name}.mp4"), make))
    return plan


def _make_pan(vseed: int, photo: Path, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    return _pan(np.random.default_rng(vseed), photo, height, width, frames)


def _make_fractal(vseed: int, source: str, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    return _fractal(np.random.default_rng(vseed), source, height, width, frames, fps)


def _make_simple(vseed: int, family: str, height: int, width: int, frames: int, fps: float) -> np.ndarray:
    maker = {"shapes": _shapes, "blobs": _blobs}[family]
    return maker(np.random.default_rng(vseed), height, width, frames)


def _write_json(path: Path, data: dict) -> None:
    # One temporary name per writer: two beds sharing the cache (two tasks started together) each write
    # their own and the last rename wins, instead of one renaming the other's file away.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)  # a reader never sees half a manifest


def _read_manifest(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def make_videos(
    folder: str | os.PathLike,
    count: int,
    seed: int = 0,
    *,
    size: tuple[int, int] = (96, 96),
    num_frames: int = 48,
    fps: float = 10.0,
    progress: bool = True,
) -> list[SyntheticVideo]:
    """Write ``count`` distinct synthetic videos into ``folder`` (or reuse those already there).

    Families cycle round-robin in the order of :data:`FAMILIES` (those :func:`available_families`
    allows); within ``pan`` the photographs of :func:`find_photos` are used round-robin, within
    ``fractal`` the sources of :data:`LAVFI_SOURCES`. Video ``i`` is drawn from
    ``SeedSequence([seed, i])`` alone, so the list for a larger ``count`` starts with the list for a
    smaller one.

    The folder's ``manifest.json`` records the parameters. When they match, every complete file is
    reused as it is; when they differ (or another generator version wrote them), the files the old
    manifest lists are deleted first. Files are written under a temporary name and renamed.

    Args:
        folder: where the mp4 files and ``manifest.json`` go (created if missing).
        count: number of videos.
        seed: seed of the whole set.
        size: ``(height, width)`` of every frame.
        num_frames: frames ``load_clip(path, num_frames=num_frames)`` must get from each file; the file
            holds :func:`file_frames` ``(num_frames)`` frames (53 for 48), see the module docstring.
        fps: frame rate of every file.
        progress: show a tqdm progress bar.

    Returns:
        One :class:`SyntheticVideo` per index, in order.

    Raises:
        ValueError: ``count`` is negative or ``size``/``num_frames``/``fps`` are not positive.
    """
    from tqdm.auto import tqdm

    height, width = (int(s) for s in size)
    if count < 0 or height < 8 or width < 8 or num_frames < 1 or fps <= 0:
        raise ValueError(f"bad arguments: count={count}, size={size}, num_frames={num_frames}, fps={fps}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    families = available_families()
    photos = find_photos() if "pan" in families else ()
    frames = file_frames(num_frames)
    params = {
        "generator": "videossr.synthetic",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "size": [height, width],
        "num_frames": int(num_frames),
        "file_frames": frames,
        "fps": float(fps),
        "families": list(families),
        # By content, so that a changed package's photograph invalidates its pans.
        "photos": [[p.name, hashlib.sha256(p.read_bytes()).hexdigest()[:16]] for p in photos],
    }
    manifest_path = folder / MANIFEST
    old = _read_manifest(manifest_path)
    if old is None or old.get("params") != params:
        # Files made with other parameters must not pass for ours: remove the ones the old manifest
        # vouched for (only those; other files in the folder are not ours), then claim the folder.
        for entry in (old or {}).get("videos", []):
            name = entry.get("name", "") if isinstance(entry, dict) else ""
            if name and "/" not in name and "\\" not in name:
                (folder / f"{name}.mp4").unlink(missing_ok=True)
        _write_json(manifest_path, {"params": params, "videos": []})
        reusable = False
    else:
        reusable = True
    plan = _plan(folder, int(count), int(seed), families, photos)
    videos = [video for video, _ in plan]
    todo = [(video, make) for video, make in plan if not (reusable and _mp4_complete(video.path))]

    def build(item) -> None:
        video, make = item
        write_mp4(make(height, width, frames, fps), fps, video.path)

    with tqdm(total=len(plan), desc="synthetic videos", unit="video", disable=not progress) as bar:
        bar.update(len(plan) - len(todo))
        # Every video depends on its own seed only, so the order of work changes nothing; threads
        # overlap the encoder and lavfi subprocesses (most of the time) and numpy's GIL-free parts.
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for _ in pool.map(build, todo):
                bar.update(1)
    listed = {e["name"]: e for e in (old or {}).get("videos", []) if reusable and isinstance(e, dict)}
    for video in videos:  # a smaller count keeps the larger set's extra files listed (and reusable)
        listed[video.name] = {k: (v.name if k == "path" else v) for k, v in asdict(video).items()}
    _write_json(manifest_path, {"params": params, "videos": sorted(listed.values(), key=lambda e: e["name"])})
    return videos


# --------------------------------------------------------------------------------------------------
# Looking at them
# --------------------------------------------------------------------------------------------------
def _read_all_frames(path: Path) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame[..., ::-1])
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    return np.stack(frames)


def contact_sheet(
    videos: Sequence[SyntheticVideo], path: str | os.PathLike, per_row: int = 6, max_videos: int = 24
) -> Path:
    """Save a PNG showing the first, middle and last frame of each video, labelled with its name and
    family (and its group where it is shared, i.e. the photograph of a ``pan``).

    Args:
        videos: the videos (the first ``max_videos`` are shown).
        path: the PNG to write (parent folders are created).
        per_row: videos per row of the sheet.
        max_videos: most videos shown.

    Returns:
        ``path``.
    """
    from PIL import Image, ImageDraw, ImageFont

    shown = list(videos)[:max_videos]
    if not shown:
        raise ValueError("no videos to show")
    strips = []
    for video in shown:
        frames = _read_all_frames(video.path)
        picks = [frames[0], frames[len(frames) // 2], frames[-1]]
        strips.append((video, np.concatenate([np.pad(f, ((0, 0), (0, 2), (0, 0))) for f in picks], axis=1)))
    cell_h = max(s.shape[0] for _, s in strips)
    cell_w = max(s.shape[1] for _, s in strips)
    label_h, pad = 14, 6
    cols = min(per_row, len(strips))
    rows = math.ceil(len(strips) / cols)
    sheet = Image.new("RGB", (cols * (cell_w + pad) + pad, rows * (cell_h + label_h + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (video, strip) in enumerate(strips):
        x = pad + (i % cols) * (cell_w + pad)
        y = pad + (i // cols) * (cell_h + label_h + pad)
        sheet.paste(Image.fromarray(strip), (x, y))
        label = f"{video.name} {video.family}" + (f" {video.group}" if video.group != video.name else "")
        draw.text((x, y + cell_h + 1), label, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    sheet.save(tmp)
    os.replace(tmp, path)
    return path
