"""Online generation: an endless, never-repeating stream of VideoSSR questions from a video folder.

Instead of a fixed dataset, training can draw fresh questions every step (as Visual Jigsaw does):
:func:`stream_dataset` returns a ``datasets.IterableDataset`` whose rows have exactly the schema of the
built datasets (:mod:`videossr.rows`), so it plugs into TRL's ``GRPOTrainer`` as ``train_dataset`` and into
anything that reads the Hub datasets.

Sharding: the videos are dealt into ``num_shards`` shards (``gen_kwargs`` lists), which ``datasets``
spreads over DataLoader workers and, with ``datasets.distributed.split_dataset_by_node``, over ranks.
Do not split the stream by rank for TRL's GRPOTrainer: with an iterable dataset it reads the same
stream on every process and slices it itself (``dispatch_batches=False``).

Freshness: each shard draws its questions from a random generator seeded by (seed, shard, pass), where
``pass`` counts how many times the shard has been iterated in this process; the stream itself is endless
by default (``num_samples=None``), cycling over the videos in a new order with new per-question seeds on
every round, so no question repeats. With ``num_samples`` set, each pass over the stream is one epoch of
that many rows, and a new pass (epoch) gives new questions.

Adaptive difficulty: with ``curriculum`` (a :class:`videossr.curriculum.DifficultyController`), every row is
made at the level the controller holds for its task at the moment the row is generated (the mix still
decides which subtypes, and so which perturbations, are drawn). The controller is shared by reference, so
it must live in the process that iterates the stream: TRL reads an ``IterableDataset`` in the main process
(it forces ``dataloader_num_workers=0``); a DataLoader worker would hold a frozen copy. The random draws of
the stream (subtype, seed, video) do not depend on the levels, so the row sequence is the same with or
without a curriculum; only the questions' difficulty differs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from videossr import __version__
from videossr.data.features import row_features
from videossr.data.plan import needs_other, parse_mix
from videossr.data.sources import VideoSource, decode_video, is_excluded, load_exclusions, resolve_videos
from videossr.errors import ClipUnusable, VideoSSRError
from videossr.rows import question_key, sample_to_row
from videossr.tasks import task_for_subtype
from videossr.video import TRAIN_MAX_PIXELS

logger = logging.getLogger(__name__)


class _Passes:
    """How many times a shard has been iterated (shared by reference between passes in one process)."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count - 1


def _generate(shards: list[dict[str, Any]], **kwargs: Any) -> Iterator[dict[str, Any]]:
    # datasets hands each generator call a list of the shards it should produce, one after another.
    for shard in shards:
        yield from _generate_shard(shard, **kwargs)


def _generate_shard(
    shard: dict[str, Any],
    seed: int,
    mix: dict[str, float],
    all_videos: tuple[VideoSource, ...],
    max_pixels: int,
    samples_per_video: int,
    image_format: str,
    quality: int,
    decode_timeout: float | None,
    curriculum: Any = None,
    keep_clips: bool = False,
    skip_questions: frozenset[tuple[str, str]] = frozenset(),
) -> Iterator[dict[str, Any]]:
    index, videos, quota = shard["index"], shard["videos"], shard["quota"]
    run = shard["passes"].next()
    rng = np.random.default_rng([int(seed), 7_401, int(index), int(run)])
    names = list(mix)
    probs = np.array([mix[n] for n in names], dtype=float)
    tasks: dict[str, Any] = {}
    leveled: dict[tuple[str, float], Any] = {}  # (subtype, level) -> the task at that level
    bad: set[str] = set()
    kept: dict[str, Any] = {}  # video id -> decoded clip, for the shard's lifetime (keep_clips)
    produced = 0
    while True:
        made_this_round = 0
        for j in rng.permutation(len(videos)):
            video = videos[int(j)]
            if video.id in bad:
                continue
            # One decode per video per visit, shared by its samples; with keep_clips, one per stream.
            cache: dict[str, Any] = kept if keep_clips else {}
            clip = decode_video(video, max_pixels, cache, decode_timeout)
            if isinstance(clip, Exception):
                logger.warning("skipping %s: %s", video.id, clip)
                bad.add(video.id)
                continue
            for _ in range(samples_per_video):
                subtype = names[int(rng.choice(len(names), p=probs))]
                sample_seed = int(rng.integers(0, 2**31 - 1))
                other = None
                if needs_other(subtype):
                    others = [v for v in all_videos if v.id != video.id and v.id not in bad]
                    if not others:
                        raise VideoSSRError(f"{subtype} needs a second usable video")
                    partner = others[int(rng.integers(len(others)))]
                    other = decode_video(partner, max_pixels, cache, decode_timeout)
                    if isinstance(other, Exception):
                        bad.add(partner.id)
                        continue
                task = tasks.setdefault(subtype, task_for_subtype(subtype))
                if curriculum is not None:
                    # Read now, row by row: the controller may have moved since the previous row.
                    level = curriculum.difficulty(task.name)
                    if level is not None:
                        if (subtype, level) not in leveled:
                            leveled[(subtype, level)] = task.with_difficulty(level)
                        task = leveled[(subtype, level)]
                try:
                    sample = task.generate(clip, seed=sample_seed, other=other)
                except ClipUnusable as err:  # only a clip the task cannot use is skipped; a bug surfaces
                    logger.warning("skipping %s for %s: %s", video.id, subtype, err)
                    continue
                row = sample_to_row(
                    sample,
                    id=f"stream-{index}-{run}-{produced}",
                    image_format=image_format,  # type: ignore[arg-type]
                    quality=quality,
                    generator_version=__version__,
                )
                if skip_questions and question_key(row) in skip_questions:
                    made_this_round += 1  # the video is usable; this one question is held out
                    continue
                yield row
                produced += 1
                made_this_round += 1
                if quota is not None and produced >= quota:
                    return
        if made_this_round == 0:
            if len(videos) < len(all_videos):
                # Every video dealt to this shard is unusable: borrow from the whole folder rather
                # than starving this shard (and the worker or rank reading it).
                logger.warning(
                    "stream shard %d: none of its videos is usable; drawing from all videos", index
                )
                videos = all_videos
                continue
            raise VideoSSRError(f"stream shard {index}: none of the {len(videos)} videos is usable")


def stream_dataset(
    videos: str | os.PathLike | list[VideoSource] = "default",
    mix: str | dict[str, float] | None = None,
    seed: int = 0,
    num_shards: int | None = None,
    num_samples: int | None = None,
    samples_per_video: int = 1,
    max_pixels: int | None = None,
    image_format: str = "jpeg",
    quality: int = 90,
    exclude: list[str | os.PathLike] | None = None,
    decode_timeout: float | None = None,
    curriculum: Any = None,
    keep_clips: bool = False,
    skip_questions: Any = None,
):
    """An endless (or ``num_samples``-long) ``datasets.IterableDataset`` of freshly generated questions.

    Args:
        videos: a video folder, ``"default"`` for the bundled sample videos, or a list of sources.
        mix: subtypes and fractions (``"grounding_mirror=0.5,jigsaw_easy=0.5"``); default: the
            VideoSSR-30K mix.
        seed: seeds every shard's random generator.
        num_shards: how many shards (units of parallelism for DataLoader workers / ranks); default
            ``min(number of videos, 8)``. Each shard holds at least one video.
        num_samples: rows per pass (epoch) in total, spread evenly over shards; ``None`` streams forever
            (then set ``max_steps`` in the trainer).
        samples_per_video: questions made from each decoded video before moving on (decoding is the
            expensive part; more questions per decode is faster but less varied).
        max_pixels: frame area cap (default 256x256, the training setting).
        image_format, quality: how frames are encoded (as in the built datasets).
        exclude: videos to leave out (e.g. a built VIUBench folder).
        decode_timeout: decode each video in a forked child with this many seconds (a hanging decoder
            then skips the video instead of stalling training); ``None`` decodes in-process (faster).
        curriculum: a :class:`videossr.curriculum.DifficultyController` whose current level of each task
            every row is made at (module docstring); ``None``: the mix's own settings.
        keep_clips: keep every decoded clip for the life of the stream instead of decoding a video again
            at each visit. For a small folder streamed many times (the learning bed); memory grows with
            the folder.
        skip_questions: rows (any iterable of rows in the row schema, e.g. a held-out dataset) whose
            questions the stream never yields (:func:`videossr.rows.question_key`: same video file name and
            generation parameters, whatever the difficulty).

    Example:
        >>> ds = stream_dataset("default", mix="jigsaw_easy=1", seed=0, num_samples=4)
        >>> [row["answer"] for row in ds]  # doctest: +SKIP
        ['361425', '214635', '531642', '625413']
    """
    from datasets import IterableDataset

    sources, _ = resolve_videos(videos if isinstance(videos, list) else str(videos))
    excluded = load_exclusions(exclude)
    sources = [v for v in sources if not is_excluded(v, excluded)]
    if not sources:
        raise ValueError("every video is excluded")
    n = min(len(sources), num_shards or 8)
    if n < 1 or samples_per_video < 1:
        raise ValueError("num_shards and samples_per_video must be at least 1")
    quotas: list[int | None] = [None] * n
    if num_samples is not None:
        if num_samples < n:
            n = max(1, num_samples)
        quotas = [num_samples // n + (1 if k < num_samples % n else 0) for k in range(n)]
    # A finite stream deals the videos out to its shards. An endless one gives every shard every video (each
    # shard still draws its own questions, seeded by its index): datasets reads a reader's shards one after
    # another, so behind an endless first shard the others would never be read, and a single reader
    # (one process, no DataLoader workers) would see only the videos dealt to shard 0.
    shards = [
        {
            "index": k,
            "videos": tuple(sources[k::n]) if num_samples is not None else tuple(sources),
            "quota": quotas[k],
            "passes": _Passes(),
        }
        for k in range(n)
    ]
    gen_kwargs: dict[str, Any] = {"curriculum": curriculum} if curriculum is not None else {}
    if keep_clips:
        gen_kwargs["keep_clips"] = True
    if skip_questions is not None:
        gen_kwargs["skip_questions"] = frozenset(question_key(r) for r in skip_questions)
    return IterableDataset.from_generator(
        _generate,
        features=row_features(),
        gen_kwargs=gen_kwargs
        | {
            "shards": shards,
            "seed": int(seed),
            "mix": parse_mix(mix),
            "all_videos": tuple(sources),
            "max_pixels": int(max_pixels or TRAIN_MAX_PIXELS),
            "samples_per_video": int(samples_per_video),
            "image_format": image_format,
            "quality": int(quality),
            "decode_timeout": decode_timeout,
        },
    )
