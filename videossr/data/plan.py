"""What a build makes, and from which video: recipes, mixes, per-sample seeds and video assignment.

Everything here is a pure function of the recipe and of which videos turned out unusable, so the same
inputs always give the same plan whatever the number of worker processes.

Vocabulary:
    slot: one row to produce, ``(subtype, index)``; its seed is derived from the global seed, the
        dataset kind, the subtype and the index, never from the video or the worker.
    wave: one round of assignments. Wave 0 assigns every slot to a video, spreading slots over as
        many distinct videos as possible; a video that fails to decode is marked bad and its slots go
        back to the pool for the next wave, which only ever differs because of those (deterministic)
        failures.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Any

from videossr.data.sources import VideoSource
from videossr.errors import VideoSSRError
from videossr.metrics import VIUBENCH_SUBTYPES  # noqa: F401 - re-exported for the builders
from videossr.tasks import task_for_subtype

#: The VideoSSR-30K mix (docs/method.md §8): grounding 40% over the four training perturbations, jigsaw-6 40%,
#: counting-easy 20%.
DEFAULT_MIX: dict[str, float] = {
    "grounding_channel_swap": 0.1,
    "grounding_rotate180": 0.1,
    "grounding_zoom_out": 0.1,
    "grounding_mirror": 0.1,
    "jigsaw_easy": 0.4,
    "counting_easy": 0.2,
}

KINDS = ("viubench", "videossr-30k")


class BuildError(VideoSSRError):
    """A build cannot go on (no usable video, inconsistent folder, ...)."""


def task_of(subtype: str) -> str:
    """Short task name of a subtype: ``grounding``, ``counting`` or ``jigsaw`` (``counting@0.3`` too)."""
    return subtype.partition("@")[0].split("_", 1)[0]


def check_subtype(subtype: str) -> None:
    """Raise ``ValueError`` for a subtype no task can produce (e.g. ``grounding_wobble``)."""
    task = task_for_subtype(subtype)
    if task.subtype != subtype:
        raise ValueError(f"subtype {subtype!r} is produced as {task.subtype!r}; use that name")


def parse_mix(spec: str | dict[str, float] | None) -> dict[str, float]:
    """A mix ``{subtype: fraction}`` from ``"grounding_shuffle=0.5,jigsaw_hard=0.5"`` (fractions are
    normalised to sum to 1). ``None`` or ``"default"`` gives the paper's mix (:data:`DEFAULT_MIX`).

    A subtype may carry a point of the difficulty knob as ``@<level>`` (:mod:`videossr.tasks.base`):
    ``grounding_mirror@0.7`` (the mirror at level 0.7), ``counting@0.3``, ``jigsaw@0.9``. For counting and
    jigsaw the level replaces easy/hard, so ``counting_easy@0.3`` is written ``counting@0.3`` (the error
    says so). Each entry is checked to be the name its task produces.

    Example:
        >>> parse_mix("jigsaw_hard=1,counting_easy=3")
        {'jigsaw_hard': 0.25, 'counting_easy': 0.75}
        >>> parse_mix("grounding_mirror@0.7=1,jigsaw@0.25=1")
        {'grounding_mirror@0.7': 0.5, 'jigsaw@0.25': 0.5}
    """
    if spec is None or spec == "default":
        return dict(DEFAULT_MIX)
    if isinstance(spec, str):
        items: dict[str, float] = {}
        for part in spec.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"mix entry {part!r} must look like subtype=fraction")
            # float() also reads other scripts' digits ("٣" is 3, "０.５" is 0.5); the CLI's numbers are ASCII
            # everywhere (--seed refuses the others), so a weight or a level written so is refused too.
            if not part.isascii():
                raise ValueError(f"mix entry {part!r}: write names and numbers with ASCII characters (0-9)")
            if name in items:
                raise ValueError(f"mix names {name!r} twice; give each subtype once")
            try:
                items[name] = float(value)
            except ValueError as err:
                raise ValueError(f"mix entry {part!r}: {value!r} is not a number") from err
    else:
        items = {str(k).strip(): float(v) for k, v in spec.items()}
        if len(items) != len(spec):
            raise ValueError("the mix names a subtype twice; give each subtype once")
    for name, value in items.items():
        _check_level_spelling(name)
        check_subtype(name)
        if not value >= 0 or math.isinf(value):
            raise ValueError(f"mix fraction of {name!r} must be a positive number, got {value}")
    # A zero weight switches a subtype off (handy when a mix is edited, not written from scratch).
    items = {k: v for k, v in items.items() if v > 0}
    if not items:
        raise ValueError("the mix has no subtype with a positive weight")
    # Scaled by the largest weight first: two weights of 1e308 would otherwise sum to inf, every fraction
    # become 0 and the build shrink silently to a row or two.
    top = max(items.values())
    scaled = {k: v / top for k, v in items.items()}
    total = sum(scaled.values())
    return {k: v / total for k, v in scaled.items()}


def _check_level_spelling(name: str) -> None:
    """Refuse a level written with a minus sign (``jigsaw@-0``, ``jigsaw@-1e-400``): it reads as 0 but
    would label every row ``@-0``."""
    base, sep, tail = name.partition("@")
    if sep and tail.strip().startswith("-"):
        try:
            level = float(tail)
        except ValueError:
            return  # not a number: check_subtype names the problem
        if level == 0:
            raise ValueError(f"mix entry {name!r}: write the level without a minus sign, {base}@0")


def split_counts(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to ``total`` in the mix's proportions (largest remainder, ties by order).

    Example:
        >>> split_counts(10, {"a": 0.5, "b": 0.25, "c": 0.25})
        {'a': 5, 'b': 3, 'c': 2}
    """
    raw = {k: total * v for k, v in mix.items()}
    counts = {k: int(math.floor(x)) for k, x in raw.items()}
    left = total - sum(counts.values())
    order = sorted(mix, key=lambda k: (-(raw[k] - counts[k]), list(mix).index(k)))
    for k in order[:left]:
        counts[k] += 1
    return counts


def derive_seed(kind: str, seed: int, subtype: str, index: int) -> int:
    """The per-sample seed of a slot: a 31-bit hash of (dataset kind, global seed, subtype, index).

    The kind is part of the hash so that a benchmark and a training set built with the same global
    seed never share a question, even from the same video.
    """
    digest = hashlib.sha256(f"{kind}/{seed}/{subtype}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Slot:
    """One row to make: ``index`` counts within the subtype; ``order`` is its place in the canonical
    interleaved order (used for assignment, so few videos still get a mix of subtypes)."""

    subtype: str
    index: int
    seed: int
    order: int

    @property
    def key(self) -> str:
        return f"{self.subtype}-{self.index:06d}"


@dataclass
class Recipe:
    """Everything that determines a build's bytes. Two builds with equal recipes and videos are identical."""

    kind: str
    counts: dict[str, int]
    seed: int = 0
    max_pixels: int = 256 * 256
    image_format: str = "jpeg"
    quality: int = 90
    num_shards: int = 1
    shard_index: int = 0
    generator_version: str = ""
    task_configs: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": dict(self.counts),
            "seed": self.seed,
            "max_pixels": self.max_pixels,
            "image_format": self.image_format,
            "quality": self.quality,
            "num_shards": self.num_shards,
            "shard_index": self.shard_index,
            "generator_version": self.generator_version,
            "task_configs": self.task_configs,
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        return cls(**{k: v for k, v in d.items()})

    def slots(self) -> list[Slot]:
        """All slots of the whole build (every shard), in canonical order.

        Subtypes are interleaved in proportion to their counts: slot ``i`` of a subtype with ``n`` slots
        sits at position ``(i + 0.5) / n`` of the sequence.
        """
        keyed = []
        for k, (subtype, n) in enumerate(self.counts.items()):
            for i in range(n):
                keyed.append(((i + 0.5) / n, k, subtype, i))
        keyed.sort()
        return [
            Slot(subtype, i, derive_seed(self.kind, self.seed, subtype, i), order)
            for order, (_, _, subtype, i) in enumerate(keyed)
        ]

    def my_slots(self) -> list[Slot]:
        """The slots this shard of a sharded build is responsible for."""
        return [s for s in self.slots() if s.order % self.num_shards == self.shard_index]


def video_order(videos: list[VideoSource], seed: int) -> list[VideoSource]:
    """Videos in a seeded random order: the first ones are used first, so a build that needs fewer
    videos than the folder holds takes a random subset, not the alphabetically first."""
    order = sorted(videos, key=lambda v: v.id)
    random.Random(f"videos/{seed}").shuffle(order)
    return order


def my_videos(order: list[VideoSource], num_shards: int, shard_index: int) -> list[VideoSource]:
    """Videos reserved for one shard of a sharded build (so shards never share a video)."""
    return [v for k, v in enumerate(order) if k % num_shards == shard_index]


def assign(
    pending: list[Slot], videos: list[VideoSource], bad: set[str], uses: dict[str, int]
) -> list[tuple[Slot, VideoSource]]:
    """Assign slots to the least-used usable videos, ties broken by the videos' order.

    ``uses`` (video id -> rows already made from it) is updated in place. With as many videos as
    slots and no failures every slot gets its own video; with fewer, videos are reused evenly.
    """
    heap = [(uses.get(v.id, 0), k) for k, v in enumerate(videos) if v.id not in bad]
    if not heap:
        return []
    heapq.heapify(heap)
    out = []
    for slot in sorted(pending, key=lambda s: s.order):
        n, k = heapq.heappop(heap)
        out.append((slot, videos[k]))
        uses[videos[k].id] = n + 1
        heapq.heappush(heap, (n + 1, k))
    return out


def partner(video: VideoSource, videos: list[VideoSource], bad: set[str]) -> VideoSource | None:
    """The second video of a cross-video perturbation (``swap``): the next usable one in order."""
    ids = [v.id for v in videos]
    start = ids.index(video.id)
    for step in range(1, len(videos)):
        cand = videos[(start + step) % len(videos)]
        if cand.id not in bad:
            return cand
    return None


def needs_other(subtype: str) -> bool:
    """Whether a row of ``subtype`` needs a second video: its task says so (``Task.needs_other_clip``)."""
    try:
        return bool(task_for_subtype(subtype).needs_other_clip)
    except ValueError:  # not a subtype of any registered task: nothing to pair
        return False
