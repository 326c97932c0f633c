"""Fidelity of the random baseline: its expected scores, and a run against the paper's random row.

The random baseline never looks at the frames, so its score depends only on the ground truths. The
ground truths here come from the real generator run on the real sample videos (small frames, many
seeds), ``per_subtype`` questions per subtype, scored through the harness. ``tests/perf/fidelity_random.py``
prints the comparison; ``tests/evaluation/test_eval_baselines.py`` checks it.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from videossr.tasks.base import check_random_rule
from videossr.tasks.grounding import segment_range

NUM_FRAMES = 48


def expected_scores() -> dict[str, float]:
    """The expected score (percent) of each uniform rule whatever the truth, per non-grounding subtype.

    Counting: each shape is right with probability ``1 / (F * I)``; jigsaw: ``1 / (n! - 1)``, as the
    identity order is never shown.
    """
    from videossr.tasks import task_for_subtype

    out = {}
    for subtype in ("counting_easy", "counting_hard"):
        out[subtype] = 100 / task_for_subtype(subtype).max_count  # type: ignore[attr-defined]
    for subtype in ("jigsaw_easy", "jigsaw_hard"):
        out[subtype] = 100 / (math.factorial(task_for_subtype(subtype).clips) - 1)  # type: ignore[attr-defined]
    return out


def expected_grounding_iou(rule: str = "uniform", num_frames: int = NUM_FRAMES) -> float:
    """Exact expected IoU (percent) of the random grounding guess against the generator's segments.

    The generator's segment length is uniform in 8..16 frames and its start uniform where it fits; the
    guess is either the longest length (the random backend's rule ``"uniform"``) or drawn the same way
    (``"prior"``).
    """
    lo, hi = segment_range(num_frames)
    lengths = [hi] if check_random_rule(rule) == "uniform" else list(range(lo, hi + 1))
    total = 0.0
    for t in range(lo, hi + 1):
        w_truth = 1 / (hi - lo + 1) / (num_frames - t + 1)
        for ts in range(num_frames - t + 1):
            te = ts + t
            for g in lengths:
                w_guess = 1 / len(lengths) / (num_frames - g + 1)
                for gs in range(num_frames - g + 1):
                    ge = gs + g
                    inter = max(0, min(te, ge) - max(ts, gs))
                    total += w_truth * w_guess * inter / (max(te, ge) - min(ts, gs))
    return 100 * total


def build_items(per_subtype: int, max_pixels: int = 128 * 128, seed: int = 1000):
    """Benchmark items whose answers come from the real generator on the real sample videos."""
    from videossr.errors import VideoError
    from videossr.evaluation.data import BenchItem, Benchmark
    from videossr.metrics import viubench_subtypes
    from videossr.tasks import task_for_subtype
    from videossr.video import load_clip, sample_videos

    clips = []
    for path in sample_videos():
        try:
            clips.append(load_clip(path, max_pixels=max_pixels))
        except VideoError:  # an unusable sample video is skipped
            continue
    if not clips:
        raise VideoError("sample videos", "missing", "no usable sample video is installed")
    items = []
    for subtype in viubench_subtypes():
        task = task_for_subtype(subtype)
        for k in range(per_subtype):
            sample = task.generate(clips[k % len(clips)], seed=seed + k)
            items.append(BenchItem.from_sample(sample, id=f"{subtype}-{k:04d}", keep_row=False))
    info = {
        "data": f"generated: {per_subtype} per subtype on {len(clips)} real sample videos",
        "configs": None,
    }
    return Benchmark(items=items, info=info)


def _standard_error(values: list[float]) -> float:
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))


def random_fidelity(per_subtype: int = 300, seed: int = 0, rule: str = "uniform") -> list[dict[str, Any]]:
    """Score ``random`` (``rule``: ``"uniform"`` or ``"prior"``) on generated ground truths and compare each
    Table 1 column with the paper's row.

    Returns one dict per column: ``paper``, ``ours``, ``se`` (standard error of ours), ``expected`` (the
    rule's exact expectation) and ``within_3se``.
    """
    from videossr.evaluation.backends import RandomBackend
    from videossr.evaluation.harness import read_predictions, run_bench
    from videossr.metrics import paper_row, table1_columns, table1_keys, table1_row, task_groups

    bench = build_items(per_subtype)
    with tempfile.TemporaryDirectory() as tmp:
        results = run_bench(
            bench, RandomBackend(seed=seed, rule=rule), out_dir=tmp, progress=False, report=False
        )
        records = read_predictions(Path(tmp) / "predictions.jsonl")
    per: dict[str, list[float]] = {}
    for r in records.values():
        per.setdefault(r["subtype"], []).append(100 * r["score"])
    errors = {s: _standard_error(v) for s, v in per.items()}  # subtypes are independent samples
    groups = task_groups()
    for group, subs in groups.items():
        errors[group] = math.sqrt(sum(errors[s] ** 2 for s in subs)) / len(subs)
    errors["overall"] = math.sqrt(sum(errors[s] ** 2 for s in per)) / len(per)
    expected = expected_scores()
    g = expected_grounding_iou(rule)
    for s in groups["grounding"]:  # the paper's grounding: its random guess has its own expectation
        expected[s] = g
    for group, subs in groups.items():
        expected[group] = sum(expected[s] for s in subs) / len(subs)
    expected["overall"] = sum(expected[s] for s in per) / len(per)
    rows = []
    ours = table1_row(results["scores"])
    for col, key, paper, value in zip(table1_columns(), table1_keys(), paper_row("Random guess"), ours):
        err = errors.get(key, 0.0)
        # A column whose SE is 0 (e.g. no hit in jigsaw_hard) is judged against one expected hit's weight.
        tol = 3 * max(err, 100 / per_subtype / 2)
        rows.append(
            {
                "column": col,
                "key": key,
                "paper": paper,
                "ours": value,
                "se": round(err, 2),
                "expected": round(expected[key], 2) if key in expected else None,
                "within_3se": abs(value - paper) <= tol,
            }
        )
    return rows
