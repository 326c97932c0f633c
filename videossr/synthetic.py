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

The families' frames are drawn in :mod:`videossr.synthetic_families`; this module plans, writes and caches.

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
import sysconfig
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from videossr.synthetic_families import make_fractal, make_pan, make_simple
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
GENERATOR_VERSION = 3  # 3: ffmpeg's gradients source given seeded colours and line (it was not reproducible)

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
            make = functools.partial(make_pan, vseed, photo)
        elif family == "fractal":
            make = functools.partial(make_fractal, vseed, LAVFI_SOURCES[k % len(LAVFI_SOURCES)])
        else:
            make = functools.partial(make_simple, vseed, family)
        plan.append((SyntheticVideo(name, family, group, vseed, folder / f"{name}.mp4"), make))
    return plan


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
