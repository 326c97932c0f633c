"""The curriculum bed's levels: jigsaw questions at every clip count, the start model's pass rate at each,
and the two levels chosen from them before any GRPO run.

The bed (``recipes/learn.py`` with the arms ``fixed-strict``, ``curriculum-strict``, ``fixed-smooth``,
``curriculum-smooth``) asks whether generating each question at the model's level rescues a strict 0/1
reward. Its difficulty is the jigsaw's clip count, a point of the task's knob
(:func:`videossr.tasks.jigsaw.task.clips_at`: 2 clips at 0, one more every 1/8, 9 at 7/8).

Two rules, fixed before any run and applied by code to the *dev* videos only:

* **the evaluation level** (:func:`choose_levels`): the smallest clip count from 3 up at which every seed's
  start model answers fewer than 5 % of the dev items in the exact order. 2 clips is scored and reported
  but never chosen: with two clips the only shuffled order is ``21``, so its pass rate says whether the
  model writes that one string, not whether it orders clips.
* **the comfortable start** of the curriculum arms, per seed: the largest clip count below the evaluation
  level at which that seed's start model passes at least the curriculum band's lower edge; if none does,
  the knob's lowest level (2 clips, level 0).

:func:`prepare_level_data` writes the rows both rules read (every clip count, from the bed's training and
dev videos; the test videos are not touched), and :func:`level_pass_rates` scores a model on them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videossr.learnbed.data import BedData, _thumb, bed_videos, split_by_group, write_split_rows

#: The knob's points that give a new clip count: 2 clips at 0, then one more every 1/8 (9 at 7/8).
LEVEL_GRID = 0.125
#: Clip counts the evaluation level is chosen from (2 is reported, never chosen: one possible order).
EVAL_CANDIDATES: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9)
#: The evaluation level is the smallest candidate where every seed's start passes less than this.
EVAL_PASS_BELOW = 0.05
#: The splits the level rows are made from (never ``test``).
LEVEL_SPLITS: tuple[str, ...] = ("train", "dev")


def clips_level(clips: int) -> float:
    """The lowest point of the jigsaw knob, on the 1/8 grid, that gives ``clips`` clips.

    Example:
        >>> [clips_level(n) for n in (2, 3, 6, 8, 9)]
        [0.0, 0.125, 0.5, 0.75, 0.875]
    """
    from videossr.tasks.jigsaw.task import clips_at

    for k in range(int(round(1 / LEVEL_GRID)) + 1):
        level = k * LEVEL_GRID
        if clips_at(level) == int(clips):
            return level
    raise ValueError(f"no point of the jigsaw knob gives {clips} clips (2..9)")


def level_subtype(clips: int) -> str:
    """The subtype that makes jigsaw questions with ``clips`` clips at its knob point (``jigsaw@0.25``)."""
    from videossr.tasks.base import level_suffix

    return "jigsaw" + level_suffix(clips_level(clips))


def clips_of(row_or_subtype: Mapping[str, Any] | str) -> int:
    """The clip count of a jigsaw row (its number of clips) or subtype (``jigsaw@0.25`` -> 4)."""
    if isinstance(row_or_subtype, Mapping):
        return len(row_or_subtype["videos"])
    from videossr.tasks import task_for_subtype

    return int(task_for_subtype(str(row_or_subtype)).clips)


def prepare_level_data(
    out: str | os.PathLike,
    spec: BedData,
    clip_counts: Sequence[int],
    train_per_video: int,
    dev_per_video: int,
    progress: bool = True,
) -> dict[str, Any]:
    """Write jigsaw rows at every clip count of ``clip_counts`` from the bed's training and dev videos:
    ``out/train`` (the format warm-up's rows, ``train_per_video`` per video and clip count) and ``out/dev``
    (the items the levels are chosen on, ``dev_per_video`` per video and clip count); and ``out/split.json``.

    The videos and the split are the bed's own (:func:`~videossr.learnbed.data.split_by_group` on the same
    spec), so a test video is never decoded here. Row ``k`` of a video gets the seed
    ``derive_seed("learnbed-levels-<split>", 0, subtype, video_index * per_video + k)``. Deterministic.
    Raises ``ValueError`` when the training and dev videos hold near-copies.
    """
    from tqdm.auto import tqdm

    from videossr.data.plan import derive_seed
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype
    from videossr.video import load_clip

    out = Path(out)
    clip_counts = sorted({int(n) for n in clip_counts})
    subtypes = {n: level_subtype(n) for n in clip_counts}
    tasks = {n: task_for_subtype(subtypes[n]) for n in clip_counts}
    videos = bed_videos(spec, progress=progress)
    parts = split_by_group(videos, spec.test_videos, spec.dev_videos, seed=spec.video_seed)
    per_video = {"train": int(train_per_video), "dev": int(dev_per_video)}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in LEVEL_SPLITS}
    thumbs: dict[str, np.ndarray] = {}
    where: dict[str, str] = {}
    bar = tqdm(total=sum(len(parts[s]) for s in LEVEL_SPLITS), desc="bed rows (levels)", disable=not progress)
    for split in LEVEL_SPLITS:
        for i, video in enumerate(parts[split]):
            path = Path(video.path)
            clip = dataclasses.replace(
                load_clip(path, num_frames=spec.num_frames, max_pixels=spec.max_pixels), source=path.name
            )
            for n in clip_counts:
                for k in range(per_video[split]):
                    seed = derive_seed(f"learnbed-levels-{split}", 0, subtypes[n], i * per_video[split] + k)
                    sample = tasks[n].generate(clip, seed=seed)
                    rows[split].append(sample_to_row(sample, id=f"{path.stem}-{split}-{n}c{k}"))
            frames = clip.frames
            thumbs[path.name] = np.stack([_thumb(frames[j]) for j in (0, len(frames) // 2, len(frames) - 1)])
            where[path.name] = split
            bar.update(1)
    bar.close()
    write_split_rows(out, {split: rows[split] for split in LEVEL_SPLITS}, thumbs, where)
    info = {
        "clips": clip_counts,
        "subtypes": {str(n): subtypes[n] for n in clip_counts},
        "train_videos": [Path(v.path).name for v in parts["train"]],
        "dev_videos": [Path(v.path).name for v in parts["dev"]],
        "test_videos": [Path(v.path).name for v in parts["test"]],
        "train_rows": len(rows["train"]),
        "dev_items": len(rows["dev"]),
        "per_video": per_video,
        "seeds": "derive_seed('learnbed-levels-<split>', 0, subtype, index)",
        "video_seed": spec.video_seed,
        "num_frames": spec.num_frames,
        "max_pixels": spec.max_pixels,
    }
    (out / "split.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def pass_rates_by_clips(
    rows: Sequence[Mapping[str, Any]], replies: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """Per clip count: the items, the exact-order pass rate and the share of replies that are an order of
    the right clips at all (``parsable``)."""
    from videossr.tasks import task_for_subtype

    by: dict[int, list[tuple[float, bool]]] = {}
    for row, reply in zip(rows, replies):
        task = task_for_subtype(str(row["subtype"]))
        exact = float(task.score(reply, row["answer"]))
        parsed = task.parse(reply, answer=row["answer"]) is not None
        by.setdefault(clips_of(row), []).append((exact, parsed))
    return {
        n: {
            "items": len(values),
            "pass_rate": float(np.mean([e for e, _ in values])),
            "parsable": float(np.mean([p for _, p in values])),
        }
        for n, values in sorted(by.items())
    }


def level_pass_rates(
    model: Any,
    processor: Any,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 16,
    max_new_tokens: int = 12,
) -> dict[int, dict[str, Any]]:
    """``model``'s greedy exact-order pass rate on ``rows`` per clip count (:func:`pass_rates_by_clips`)."""
    from videossr.learnbed.scoring import model_replies

    rows = list(rows)
    replies = model_replies(model, processor, rows, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return pass_rates_by_clips(rows, replies)


def choose_levels(
    pass_rates: Mapping[Any, Mapping[Any, float]],
    band_low: float,
    candidates: Sequence[int] = EVAL_CANDIDATES,
    below: float = EVAL_PASS_BELOW,
    lowest: int = 2,
) -> dict[str, Any]:
    """The evaluation level and each seed's comfortable start, from the start models' dev pass rates.

    Args:
        pass_rates: ``{seed: {clips: exact-order pass rate on the dev items}}``, every seed's start model.
        band_low: the lower edge of the curriculum's pass-rate band.
        candidates: the clip counts the evaluation level may be (2 is left out: one possible order).
        below: the evaluation level is the smallest candidate at which *every* seed passes less than this.
        lowest: the knob's lowest clip count, where a curriculum starts when no level is comfortable.

    Returns the choice with its inputs (what ``levels.json`` holds). Raises ``ValueError`` when no
    candidate is below ``below`` for every seed (no level is hard enough to be the bed's).
    """
    rates = {str(seed): {int(n): float(r) for n, r in by.items()} for seed, by in pass_rates.items()}
    if not rates:
        raise ValueError("choose_levels needs the pass rates of at least one seed's start model")
    for seed, by in rates.items():
        missing = [n for n in candidates if n not in by]
        if missing:
            raise ValueError(f"seed {seed}: no dev pass rate at {missing} clips")
    hardest = {n: max(by[n] for by in rates.values()) for n in candidates}
    chosen = next((n for n in sorted(candidates) if hardest[n] < below), None)
    if chosen is None:
        raise ValueError(
            f"every seed's start passes at least {below:.0%} at every clip count {list(candidates)}: "
            f"{hardest}; no evaluation level"
        )
    starts = {}
    for seed, by in rates.items():
        comfortable = [n for n in sorted(by) if lowest <= n < chosen and by[n] >= band_low]
        clips = max(comfortable) if comfortable else lowest
        starts[seed] = {
            "clips": clips,
            "level": clips_level(clips),
            "subtype": level_subtype(clips),
            "pass_rate": by.get(clips),
            "comfortable": bool(comfortable),
        }
    return {
        "eval_clips": chosen,
        "eval_level": clips_level(chosen),
        "eval_subtype": level_subtype(chosen),
        "eval_max_pass_rate": hardest[chosen],
        "start": starts,
        "pass_rates": {seed: {str(n): r for n, r in sorted(by.items())} for seed, by in rates.items()},
        "rules": {
            "evaluation_level": (
                f"the smallest clip count in {list(candidates)} at which every seed's start model passes "
                f"fewer than {below:.0%} of the dev items in the exact order"
            ),
            "comfortable_start": (
                f"per seed, the largest clip count below the evaluation level at which that seed's start "
                f"passes at least the band's lower edge ({band_low:g}); if none, the knob's lowest level "
                f"({lowest} clips, level {clips_level(lowest):g})"
            ),
            "two_clips": "scored and reported, never the evaluation level: its only shuffled order is 21",
            "candidates": list(candidates),
            "below": below,
            "band_low": band_low,
        },
    }


def late_mean(curve: Sequence[Sequence[float]], fraction: float = 0.25) -> float:
    """The mean score of the last ``fraction`` of a curve's evaluations (at least one): ``ceil(n/4)`` of
    ``n`` by default."""
    if not curve:
        raise ValueError("late_mean of an empty curve")
    keep = max(1, math.ceil(len(curve) * fraction))
    return float(np.mean([score for _, score in curve[-keep:]]))


__all__ = [
    "EVAL_CANDIDATES",
    "EVAL_PASS_BELOW",
    "LEVEL_GRID",
    "choose_levels",
    "clips_level",
    "clips_of",
    "late_mean",
    "level_pass_rates",
    "level_subtype",
    "pass_rates_by_clips",
    "prepare_level_data",
]
