"""The bed's data: many offline-made videos, three splits by video, and the rows of each split.

Why many videos: with five source videos a model learns *those videos* (which segment of which picture
was changed) and not the perturbation; even supervised training on the right answers does not transfer to
a sixth video. The bed therefore draws on :func:`videossr.synthetic.make_videos` (pans over photographs
shipped in installed packages, moving shapes over textures, ffmpeg's synthetic sources, colour blobs):
seeded, cached, every one different.

Why three splits by video: ``train`` videos give the training rows; ``dev`` videos give the curve every
design choice and early look is judged on; ``test`` videos are scored at step 0 and at the end only. A
video never lies in two splits, and neither does any *group* of videos that share a picture (all pans over
one photograph go to one split), so no test item is a near-copy of something trained on. Each row's random
stream comes from the builder's :func:`~videossr.data.plan.derive_seed` over (split, subtype, row index),
so no two rows share a seed and rows on one video are independent draws.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLITS: tuple[str, ...] = ("train", "dev", "test")
#: The parquet split name each bed split is stored under (``load_dataset(folder, split=...)``).
STORED_SPLIT = {"train": "train", "dev": "validation", "test": "test"}


@dataclass
class BedData:
    """What one task's bed trains and scores on (recorded in ``summary.json``)."""

    subtype: str = "grounding_invert"
    videos: int = 160
    video_seed: int = 0
    test_videos: int = 40
    dev_videos: int = 16
    train_per_video: int = 6
    dev_per_video: int = 4
    test_per_video: int = 6
    num_frames: int = 48
    max_pixels: int = 64 * 64
    video_size: tuple[int, int] = (96, 96)
    video_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def default_video_dir() -> Path:
    """Where the bed's videos are cached: ``$VIDEOSSR_CACHE/bed_videos`` (default ``~/.cache/videossr``)."""
    root = os.environ.get("VIDEOSSR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "videossr")
    return Path(root) / "bed_videos"


def bed_videos(spec: BedData, progress: bool = True) -> list[Any]:
    """The spec's synthetic videos (made once, then read from the cache)."""
    from videossr.synthetic import make_videos

    folder = Path(spec.video_dir) if spec.video_dir else default_video_dir()
    folder = folder / f"n{spec.videos}-s{spec.video_seed}-{spec.video_size[0]}x{spec.video_size[1]}"
    return make_videos(
        folder,
        spec.videos,
        seed=spec.video_seed,
        size=tuple(spec.video_size),
        num_frames=spec.num_frames,
        progress=progress,
    )


def split_by_group(videos: Sequence[Any], test: int, dev: int, seed: int = 0) -> dict[str, list[Any]]:
    """Assign whole groups of videos to ``test``, then ``dev``, then ``train``, in a seeded random order of
    the groups, until each of the first two holds at least its count of videos.

    A group is every video sharing a picture (:attr:`SyntheticVideo.group`), so no picture is in two splits.
    """
    groups: dict[str, list[Any]] = {}
    for video in videos:
        groups.setdefault(video.group, []).append(video)
    names = sorted(groups)
    order = [names[int(i)] for i in np.random.default_rng([int(seed), 2_025]).permutation(len(names))]
    # Small groups first within the random order would bias the split; instead walk the shuffled order and
    # skip a group that would overshoot a split by more than half its target (it goes to a later split).
    out: dict[str, list[Any]] = {name: [] for name in SPLITS}
    targets = {"test": int(test), "dev": int(dev)}
    for name in order:
        members = sorted(groups[name], key=lambda v: v.name)
        for split in ("test", "dev"):
            room = targets[split] - len(out[split])
            if room > 0 and len(members) <= room + max(1, targets[split] // 2):
                out[split] += members
                break
        else:
            out["train"] += members
    for split in SPLITS:
        out[split].sort(key=lambda v: v.name)
    if not out["train"] or len(out["test"]) < test or len(out["dev"]) < dev:
        sizes = {k: len(v) for k, v in out.items()}
        raise ValueError(
            f"cannot split {len(videos)} videos into test {test} / dev {dev} / train: got {sizes}"
        )
    return out


def _thumb(frame: np.ndarray, side: int = 16) -> np.ndarray:
    from videossr.video import resize_frames

    return resize_frames(frame[None], (side, side))[0].astype(np.float32)


def near_copies(thumbs: dict[str, np.ndarray], splits: dict[str, str], threshold: float = 6.0) -> list[tuple]:
    """Pairs of videos in different splits that show nearly the same pictures: the first, middle and last
    frames' 16x16 thumbnails each differ by less than ``threshold`` grey levels on average (a recompressed
    or muted copy does; two videos that merely start on the same black frame do not). The bed refuses to
    start with any."""
    names = sorted(thumbs)
    stack = np.stack([thumbs[n] for n in names])
    stack = stack.reshape(len(names), stack.shape[1], -1)  # (videos, 3 frames, pixels)
    found = []
    for i in range(len(names)):
        diff = np.abs(stack[i + 1 :] - stack[i]).mean(axis=2).max(axis=1)
        for j in np.nonzero(diff < threshold)[0]:
            other = names[i + 1 + int(j)]
            if splits[names[i]] != splits[other]:
                found.append((names[i], other, float(diff[j])))
    return found


def make_rows(
    path: Path, subtype: str, split: str, start_index: int, count: int, num_frames: int, max_pixels: int
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``count`` rows of ``subtype`` from one video (the package's decoder and generator) and the video's
    first, middle and last frames' thumbnails (for :func:`near_copies`).

    Row ``k``'s seed is ``derive_seed("learnbed-<split>", 0, subtype, start_index + k)``."""
    from videossr.data.plan import derive_seed
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype
    from videossr.video import load_clip

    # The row names its video by file name, as built datasets and the online stream do (never a local path).
    clip = dataclasses.replace(
        load_clip(path, num_frames=num_frames, max_pixels=max_pixels), source=path.name
    )
    task = task_for_subtype(subtype)
    rows = []
    for k in range(count):
        seed = derive_seed(f"learnbed-{split}", 0, subtype, start_index + k)
        rows.append(sample_to_row(task.generate(clip, seed=seed), id=f"{path.stem}-{split}{k}"))
    frames = clip.frames
    return rows, np.stack([_thumb(frames[k]) for k in (0, len(frames) // 2, len(frames) - 1)])


def write_split_rows(
    out: Path, rows: dict[str, list[dict]], thumbs: dict[str, np.ndarray], where: dict[str, str]
) -> None:
    """Refuse near-copies across splits, then write each split's rows as ``<split>/data/*.parquet``."""
    from datasets import Dataset

    from videossr.data.features import row_features

    copies = near_copies(thumbs, where)
    if copies:
        raise ValueError(f"near-copies across splits (first frames nearly equal): {copies[:5]}")
    features = row_features()
    for split, split_rows in rows.items():
        folder = out / split / "data"
        folder.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(split_rows, features=features).to_parquet(
            str(folder / f"{STORED_SPLIT[split]}-00000-of-00001.parquet")
        )


def prepare_data(
    out: str | os.PathLike, spec: BedData | None = None, progress: bool = True
) -> dict[str, Any]:
    """Write the three splits' rows under ``out/{train,dev,test}`` (one Parquet file each, the package's row
    schema; ``load_dataset(folder)``) and return the split description that goes into ``summary.json``.

    Deterministic: the same spec writes the same rows. Raises ``ValueError`` when two splits hold near-copies.
    """
    from tqdm.auto import tqdm

    spec = spec or BedData()
    out = Path(out)
    videos = bed_videos(spec, progress=progress)
    parts = split_by_group(videos, spec.test_videos, spec.dev_videos, seed=spec.video_seed)
    per_video = {"train": spec.train_per_video, "dev": spec.dev_per_video, "test": spec.test_per_video}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    thumbs: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}
    bar = tqdm(total=len(videos), desc=f"bed rows ({spec.subtype})", disable=not progress)
    for split in SPLITS:
        for i, video in enumerate(parts[split]):
            made, thumb = make_rows(
                Path(video.path),
                spec.subtype,
                split,
                i * per_video[split],
                per_video[split],
                spec.num_frames,
                spec.max_pixels,
            )
            rows[split] += made
            thumbs[Path(video.path).name] = thumb
            where[Path(video.path).name] = split
            bar.update(1)
    bar.close()
    write_split_rows(out, rows, thumbs, where)
    info = {
        "subtype": spec.subtype,
        "train_videos": [Path(v.path).name for v in parts["train"]],
        "dev_videos": [Path(v.path).name for v in parts["dev"]],
        "test_videos": [Path(v.path).name for v in parts["test"]],
        "train_rows": len(rows["train"]),
        "dev_items": len(rows["dev"]),
        "test_items": len(rows["test"]),
        "families": {split: dict(sorted(_count(v.family for v in parts[split]).items())) for split in SPLITS},
        "groups": {split: len({v.group for v in parts[split]}) for split in SPLITS},
        "per_video": per_video,
        "seeds": "derive_seed('learnbed-<split>', 0, subtype, index)",
        "video_seed": spec.video_seed,
        "num_frames": spec.num_frames,
        "max_pixels": spec.max_pixels,
        "video_size": list(spec.video_size),
    }
    (out / "split.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def load_split(out: str | os.PathLike, split: str) -> Any:
    """One split of a prepared bed as a ``datasets.Dataset``."""
    from datasets import load_dataset

    return load_dataset(str(Path(out) / split), split=STORED_SPLIT[split])


def link_videos(folder: str | os.PathLike, paths: Sequence[str | os.PathLike]) -> Path:
    """A folder of links to ``paths``: what online (streamed) arms read as ``video_dir``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in map(Path, paths):
        link = folder / path.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path.resolve())
    return folder
