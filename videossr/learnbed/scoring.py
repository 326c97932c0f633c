"""Scoring on the bed: the video-blind baselines, the swap test and intervals over videos.

* :func:`best_constant`: the strongest answer that ignores the pixels, fitted on the *training* rows: the
  one answer that maximises the task's mean score there. For grounding it is a fixed fraction of the clip's
  timeline, turned into each clip's seconds (a model that never looks at the frames still reads the
  frame timestamps in its prompt); for other tasks one answer string.
* :func:`random_scores`, :func:`heuristic_scores`: the random guess and the pixel-reading solver.
* :func:`swap_rows`: each item shown the clip of another item of the same video. Scored against its own
  label and against the label of the clip shown: a model that reads the pixels follows the clip.
* :func:`cluster_bootstrap`: a 95% interval that resamples *videos* (items of one video are not independent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videossr.tasks import task_for_subtype


def _interval_of(answer: str) -> tuple[float, float] | None:
    try:
        start, end = (float(x) for x in str(answer).split("-"))
    except ValueError:
        return None
    return start, end


@dataclass(frozen=True)
class ConstantAnswer:
    """One video-blind answer: ``answer(row)`` is the same for every row (grounding: the same fraction of
    every clip's timeline). ``train_score`` is its mean score on the rows it was fitted on."""

    subtype: str
    constant: str | tuple[float, float]
    train_score: float

    def answer(self, row: dict[str, Any]) -> str:
        if isinstance(self.constant, tuple):
            from videossr.tasks.grounding import format_interval

            duration = len(row["videos"][0]) / float(row["fps"])
            return format_interval(self.constant[0] * duration, self.constant[1] * duration)
        return self.constant

    def describe(self) -> str:
        if isinstance(self.constant, tuple):
            return f"fraction {self.constant[0]:.3f}-{self.constant[1]:.3f} of the timeline"
        return repr(self.constant)


def item_scores(
    rows: Sequence[dict[str, Any]], replies: Sequence[str], against: Sequence[str] | None = None
) -> list[float]:
    """The task's benchmark metric of each reply, against each row's answer (or ``against``)."""
    answers = against if against is not None else [r["answer"] for r in rows]
    return [
        float(task_for_subtype(row["subtype"]).score(reply, answer))
        for row, reply, answer in zip(rows, replies, answers)
    ]


def best_constant(rows: Sequence[dict[str, Any]], grid: int = 48) -> ConstantAnswer:
    """The answer that maximises the mean score over ``rows`` (all of one subtype).

    Grounding: every interval ``[a, b]`` of the timeline with ends on a ``grid``-step lattice (the frames),
    scored by temporal IoU against each row's interval as a fraction of that row's clip; the best is then
    checked with the real metric. Other tasks: every distinct answer of the rows, plus for comma-separated
    answers (counting) the per-position mode.
    """
    if not rows:
        raise ValueError("best_constant needs at least one row")
    subtype = rows[0]["subtype"]
    if rows[0]["task"] == "anomaly_grounding":
        truths = []
        for row in rows:
            duration = len(row["videos"][0]) / float(row["fps"])
            start, end = _interval_of(row["answer"]) or (0.0, 0.0)
            truths.append((start / duration, end / duration))
        t = np.asarray(truths, dtype=float)
        ticks = np.linspace(0.0, 1.0, grid + 1)
        a, b = np.meshgrid(ticks, ticks, indexing="ij")
        valid = b > a
        a, b = a[valid], b[valid]
        inter = np.clip(
            np.minimum(b[:, None], t[None, :, 1]) - np.maximum(a[:, None], t[None, :, 0]), 0, None
        )
        union = (b - a)[:, None] + (t[:, 1] - t[:, 0])[None, :] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0).mean(axis=1)
        best = int(np.argmax(iou))
        constant = ConstantAnswer(subtype, (float(a[best]), float(b[best])), 0.0)
    else:
        candidates = sorted({str(r["answer"]) for r in rows})
        if all("," in c for c in candidates):
            columns = list(
                zip(*(c.split(",") for c in candidates if c.count(",") == candidates[0].count(",")))
            )
            mode = ",".join(max(sorted(set(col)), key=col.count) for col in columns)
            candidates.append(mode)
        means = [np.mean(item_scores(rows, [c] * len(rows))) for c in candidates]
        constant = ConstantAnswer(subtype, candidates[int(np.argmax(means))], 0.0)
    train = float(np.mean(item_scores(rows, [constant.answer(r) for r in rows])))
    return ConstantAnswer(subtype, constant.constant, train)


def random_scores(rows: Sequence[dict[str, Any]], seed: int = 0) -> list[float]:
    """Each item's score of the task's uniform random guess (seeded per item id)."""
    from videossr.evaluation.baselines import item_rng

    replies = []
    for row in rows:
        task = task_for_subtype(row["subtype"])
        replies.append(
            task.random_answer(
                item_rng(str(row["id"]), seed),
                fps=float(row["fps"]),
                num_frames=len(row["videos"][0]),
                num_clips=len(row["videos"]),
            )
        )
    return item_scores(rows, replies)


def heuristic_scores(rows: Sequence[dict[str, Any]]) -> list[float]:
    """Each item's score of the package's heuristic solver (it reads the pixels: the skyline of a model
    that sees the frames at this size)."""
    from videossr.evaluation.baselines import heuristic_answer
    from videossr.rows import row_to_sample

    return item_scores(rows, [heuristic_answer(row_to_sample(row)) for row in rows])


def swap_partners(sources: Sequence[str], seed: int = 0) -> list[int]:
    """For each item, another item of the same source video whose clip it is shown (a derangement within
    each video)."""
    from videossr.training.control import control_permutation

    return control_permutation(sources, seed + 99)


def swap_rows(rows: Sequence[dict[str, Any]], seed: int = 0) -> tuple[list[dict[str, Any]], list[str]]:
    """The swap test's items: row ``i`` with the clips of row ``partners[i]``, and the answers of the clips
    shown. Score the replies against ``row["answer"]`` (the label) and against the returned answers."""
    partners = swap_partners([str(r["source"]) for r in rows], seed)
    swapped = [dict(row, videos=rows[j]["videos"]) for row, j in zip(rows, partners)]
    return swapped, [rows[j]["answer"] for j in partners]


def cluster_bootstrap(
    values: Sequence[float],
    clusters: Sequence[str],
    n: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] = np.mean,
) -> tuple[float, float, float]:
    """Mean of ``values`` and a 95% percentile interval that resamples whole clusters (videos) with
    replacement, keeping every item of a drawn video together."""
    values = np.asarray(values, dtype=float)
    names = sorted(set(map(str, clusters)))
    index = {name: i for i, name in enumerate(names)}
    ids = np.asarray([index[str(c)] for c in clusters])
    sums = np.bincount(ids, weights=values, minlength=len(names))
    counts = np.bincount(ids, minlength=len(names)).astype(float)
    rng = np.random.default_rng([int(seed), 77])
    draws = rng.integers(0, len(names), size=(n, len(names)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(statistic(values)), float(lo), float(hi)


def model_replies(
    model: Any, processor: Any, rows: Sequence[dict[str, Any]], max_new_tokens: int = 12, batch_size: int = 16
) -> list[str]:
    """Greedy replies of ``model`` to ``rows`` in batches (left padded; the same replies as one at a time)."""
    from videossr.training.callbacks import answer_rows

    return answer_rows(model, processor, rows, max_new_tokens=max_new_tokens, batch_size=batch_size)


def score_model(
    model: Any, processor: Any, rows: Sequence[dict[str, Any]], *, swap_seed: int = 0, **kwargs: Any
) -> dict[str, Any]:
    """The end-of-run scores of one model on the test items: per-item metric on the real clips, and the
    swap test's per-item metric against the shown clip's answer and against the label."""
    rows = list(rows)
    replies = model_replies(model, processor, rows, **kwargs)
    swapped, shown = swap_rows(rows, swap_seed)
    swap_replies = model_replies(model, processor, swapped, **kwargs)
    return {
        "items": item_scores(rows, replies),
        "replies": list(replies),
        "swap_against_shown": item_scores(swapped, swap_replies, against=shown),
        "swap_against_label": item_scores(swapped, swap_replies),
    }


def bed_baselines(
    train: Sequence[dict[str, Any]], dev: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The video-blind and pixel baselines of one bed, per test item (what ``baselines.json`` holds):
    the best constant fitted on ``train`` (and its mean on ``dev``, for the dev curve), the random guess
    and the heuristic solver. ``videos`` is each test item's source video (the bootstrap's clusters)."""
    constant = best_constant(list(train))
    return {
        "videos": [str(r["source"]) for r in test],
        "best_constant_answer": constant.describe(),
        "best_constant_train_score": constant.train_score,
        "dev_best_constant": float(np.mean(item_scores(dev, [constant.answer(r) for r in dev])))
        if dev
        else None,
        "items": {
            "best_constant": item_scores(test, [constant.answer(r) for r in test]),
            "random": random_scores(test),
            "heuristic": heuristic_scores(test),
        },
    }
