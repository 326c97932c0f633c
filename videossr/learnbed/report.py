"""The bed's report: ``summary.json`` (one entry per task), the fixed criteria, and the figure.

Per task and seed, the arms' test scores at step 0 and at the end (with a 95% interval that resamples test
*videos*), the dev curve, the swap test, and the gaps to the control and to the best video-blind answer.
The criteria are the ones fixed in the issue before any run (:data:`CRITERIA`); the summary records each
seed's pass or fail, never a tuned threshold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videossr.learnbed.scoring import cluster_bootstrap

#: Fixed before the first run (issue "The learning bed, tested on videos it never saw").
CRITERIA: dict[str, float] = {
    "gain_over_start": 0.15,
    "gap_over_control": 0.10,
    "gap_over_best_constant": 0.10,
    "swap_gap_video": 0.10,
    "swap_band_control": 0.05,
}


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
            reward.append([entry["step"], entry.get("reward")])
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


def _run_entry(run_dir: Path, seed: int, videos: list[str]) -> dict[str, Any] | None:
    """One arm of one seed: the test scores its run wrote (``test_scores.json``) and its dev curve."""
    path = run_dir / "test_scores.json"
    if not path.is_file():
        return None
    scores = json.loads(path.read_text())
    data = read_curves(run_dir)
    start = cluster_bootstrap(scores["start"]["items"], videos)
    end = cluster_bootstrap(scores["end"]["items"], videos)
    shown = float(np.mean(scores["end"]["swap_against_shown"]))
    label = float(np.mean(scores["end"]["swap_against_label"]))
    zero_std = [v for _, v in data["train"].get("frac_reward_zero_std", [])]
    return {
        "seed": int(seed),
        "start": start[0],
        "end": end[0],
        "start_interval": [start[1], start[2]],
        "interval": [end[1], end[2]],
        "dev_curve": data["curve"],
        "swap": {"against_shown": shown, "against_label": label, "difference": shown - label},
        "train_reward": data["train"].get("reward", []),
        "mean_frac_reward_zero_std": float(np.mean(zero_std)) if zero_std else None,
        "_items": scores["end"]["items"],
    }


def summarize_task(
    out: str | os.PathLike,
    arms: Sequence[str],
    seeds: Sequence[int],
    split: dict[str, Any],
    baselines: dict[str, Any],
    metric: str,
) -> dict[str, Any]:
    """The summary entry of one task's bed from its runs under ``out/<arm>/seed<k>`` and its baselines
    (``baselines.json``: per-item scores of the best constant, the random guess and the heuristic)."""
    out = Path(out)
    videos = baselines["videos"]
    constant_items = baselines["items"]["best_constant"]
    entry: dict[str, Any] = {
        "split": {
            "train_videos": split["train_videos"],
            "dev_videos": split["dev_videos"],
            "test_videos": split["test_videos"],
            "test_items": split["test_items"],
            "train_rows": split["train_rows"],
            "dev_items": split["dev_items"],
            "families": split.get("families"),
        },
        "metric": metric,
        "baselines": {},
        "best_constant_answer": baselines["best_constant_answer"],
        "best_constant_train_score": baselines["best_constant_train_score"],
        "arms": {},
    }
    for name, items in baselines["items"].items():
        mean, lo, hi = cluster_bootstrap(items, videos)
        entry["baselines"][name] = mean
        entry["baselines"][f"{name}_interval"] = [lo, hi]
    entry["baselines"]["dev_best_constant"] = baselines.get("dev_best_constant")
    for arm in arms:
        runs = []
        for seed in seeds:
            run = _run_entry(out / arm / f"seed{seed}", seed, videos)
            if run is not None:
                runs.append(run)
        entry["arms"][arm] = runs
    controls = {r["seed"]: r for r in entry["arms"].get("control", [])}
    for run in entry["arms"].get("video", []) + entry["arms"].get("control", []):
        diff = np.asarray(run["_items"]) - np.asarray(constant_items)
        mean, lo, hi = cluster_bootstrap(diff, videos)
        run["minus_best_constant"] = {"mean": mean, "interval": [lo, hi]}
    for run in entry["arms"].get("video", []):
        control = controls.get(run["seed"])
        if control is not None:
            diff = np.asarray(run["_items"]) - np.asarray(control["_items"])
            mean, lo, hi = cluster_bootstrap(diff, videos)
            run["minus_control"] = {"mean": mean, "interval": [lo, hi]}
        run["criteria"] = _criteria(run, control, entry["baselines"]["best_constant"])
    for control in entry["arms"].get("control", []):
        control["criteria"] = {
            "swap_within_band": abs(control["swap"]["difference"]) <= CRITERIA["swap_band_control"],
            "not_below_best_constant": control["minus_best_constant"]["interval"][1] >= 0,
        }
    for runs in entry["arms"].values():
        for run in runs:
            run.pop("_items", None)
    entry["seed_spread"] = {
        arm: {
            "end_mean": float(np.mean([r["end"] for r in runs])) if runs else None,
            "end_sd": float(np.std([r["end"] for r in runs], ddof=1)) if len(runs) > 1 else None,
        }
        for arm, runs in entry["arms"].items()
    }
    return entry


def _criteria(run: dict[str, Any], control: dict[str, Any] | None, constant: float) -> dict[str, bool]:
    checks = {
        "gain_over_start": run["end"] >= run["start"] + CRITERIA["gain_over_start"],
        "gap_over_best_constant": run["end"] >= constant + CRITERIA["gap_over_best_constant"],
        "best_constant_interval_excludes_0": run["minus_best_constant"]["interval"][0] > 0,
        "swap": run["swap"]["difference"] >= CRITERIA["swap_gap_video"],
    }
    if control is not None:
        checks["gap_over_control"] = run["end"] >= control["end"] + CRITERIA["gap_over_control"]
    checks["all"] = all(checks.values())
    return checks


def write_summary(
    path: str | os.PathLike, subtype: str, entry: dict[str, Any], minutes: float
) -> dict[str, Any]:
    """Merge one task's entry into ``summary.json`` (other tasks' entries are kept) and return it all."""
    path = Path(path)
    summary = json.loads(path.read_text()) if path.is_file() else {}
    summary.setdefault("tasks", {})[subtype] = entry
    summary.setdefault("minutes_per_task", {})[subtype] = round(minutes, 2)
    summary["minutes"] = round(sum(summary["minutes_per_task"].values()), 2)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def plot_bed(summary: dict[str, Any], path: str | os.PathLike) -> Path:
    """One row per task: the dev curve of each arm (thin: seeds; thick: their mean; dotted: the best
    constant on dev) and the test scores beside it (each seed a dot, bars the seeds' mean, whiskers the
    interval over test videos)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from videossr.training import save_figure

    tasks = summary.get("tasks", {})
    colours = {"video": "tab:blue", "control": "tab:orange"}
    fig, axes = plt.subplots(
        max(1, len(tasks)), 2, figsize=(10, 3.4 * max(1, len(tasks))), dpi=110, squeeze=False
    )
    for (curve_ax, test_ax), (subtype, entry) in zip(axes, tasks.items()):
        for arm, runs in entry["arms"].items():
            colour = colours.get(arm, "tab:gray")
            curves = [r["dev_curve"] for r in runs if r["dev_curve"]]
            for curve in curves:
                steps, values = zip(*curve)
                curve_ax.plot(steps, values, color=colour, lw=0.7, alpha=0.4)
            if curves and len({len(c) for c in curves}) == 1:
                steps = [s for s, _ in curves[0]]
                mean = np.mean([[v for _, v in c] for c in curves], axis=0)
                curve_ax.plot(steps, mean, color=colour, lw=2.2, label=f"{arm} ({len(curves)} seeds)")
        dev_constant = entry["baselines"].get("dev_best_constant")
        if dev_constant is not None:
            curve_ax.axhline(dev_constant, color="k", ls=":", lw=1.2, label="best constant (dev)")
        curve_ax.set_title(
            f"{subtype}: dev {entry['metric']} ({entry['split'].get('dev_items', '?')} items)", fontsize=9
        )
        curve_ax.set_xlabel("GRPO step")
        curve_ax.set_ylim(0, 1)
        curve_ax.grid(alpha=0.3)
        curve_ax.legend(fontsize=7, loc="upper left")
        bars = [("start", "video", "start"), ("video end", "video", "end"), ("control end", "control", "end")]
        labels, means, errs, dots = [], [], [], []
        for label, arm, key in bars:
            runs = entry["arms"].get(arm, [])
            if not runs:
                continue
            values = [r[key] for r in runs]
            labels.append(label)
            means.append(float(np.mean(values)))
            lows = [r["start_interval" if key == "start" else "interval"][0] for r in runs]
            highs = [r["start_interval" if key == "start" else "interval"][1] for r in runs]
            errs.append((means[-1] - float(np.mean(lows)), float(np.mean(highs)) - means[-1]))
            dots.append(values)
        for name in ("best_constant", "random", "heuristic"):
            if name in entry["baselines"]:
                lo, hi = entry["baselines"][f"{name}_interval"]
                labels.append(name.replace("_", " "))
                means.append(entry["baselines"][name])
                errs.append((means[-1] - lo, hi - means[-1]))
                dots.append([])
        x = np.arange(len(labels))
        colours_bar = ["tab:gray", "tab:blue", "tab:orange", "k", "tab:brown", "tab:green"][: len(labels)]
        yerr = np.clip(np.asarray(errs, dtype=float).T, 0, None)
        test_ax.bar(x, means, color=colours_bar, alpha=0.55, yerr=yerr, capsize=3)
        for i, values in enumerate(dots):
            test_ax.scatter([i] * len(values), values, color="k", s=10, zorder=3)
        test_ax.set_xticks(x, labels, rotation=25, fontsize=7)
        test_ax.set_ylim(0, 1)
        test_ax.set_title(
            f"test: {entry['split']['test_items']} items on {len(entry['split']['test_videos'])} "
            "unseen videos (whiskers: 95% over videos)",
            fontsize=9,
        )
        test_ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def _iv(values: Sequence[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def markdown(summary: dict[str, Any]) -> str:
    """The test-split tables of every task in ``summary`` (what ``summary.md`` holds and the docs quote)."""
    lines: list[str] = []
    for subtype, entry in summary.get("tasks", {}).items():
        split, base = entry["split"], entry["baselines"]
        lines += [
            f"### {subtype}: {split['test_items']} test items on {len(split['test_videos'])} unseen videos",
            "",
            f"Train {len(split['train_videos'])} videos ({split.get('train_rows', '?')} rows), dev "
            f"{len(split['dev_videos'])} videos ({split.get('dev_items', '?')} items). "
            f"Metric: {entry['metric']}. Intervals: 95 %, resampling test videos.",
            "",
            "| baseline (test) | score |",
            "|---|---|",
            f"| best constant fitted on the training rows ({entry['best_constant_answer']}) | "
            f"{base['best_constant']:.3f} {_iv(base['best_constant_interval'])} |",
            f"| random guess | {base['random']:.3f} {_iv(base['random_interval'])} |",
            "| heuristic solver (reads the pixels) | "
            f"{base['heuristic']:.3f} {_iv(base['heuristic_interval'])} |",
            "",
            "| arm | seed | start | end [interval] | end − best constant [interval] | "
            "end − control [interval] | swap: vs shown / vs label | zero-variance groups | criteria |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for arm, runs in entry["arms"].items():
            for run in runs:
                control = run.get("minus_control")
                criteria = run.get("criteria", {})
                failed = [k for k, ok in criteria.items() if k != "all" and not ok]
                verdict = (
                    "all met"
                    if criteria.get("all") or (criteria and not failed)
                    else ("missed: " + ", ".join(failed) if failed else "")
                )
                zero = run.get("mean_frac_reward_zero_std")
                constant = run["minus_best_constant"]
                lines.append(
                    f"| {arm} | {run['seed']} | {run['start']:.3f} | "
                    f"{run['end']:.3f} {_iv(run['interval'])} | "
                    f"{constant['mean']:+.3f} {_iv(constant['interval'])} | "
                    + (f"{control['mean']:+.3f} {_iv(control['interval'])}" if control else "")
                    + f" | {run['swap']['against_shown']:.3f} / {run['swap']['against_label']:.3f} | "
                    + (f"{100 * zero:.1f} %" if zero is not None else "")
                    + f" | {verdict} |"
                )
        spread = entry.get("seed_spread", {})
        parts = [
            f"{arm} {s['end_mean']:.3f} ± {s['end_sd']:.3f}"
            for arm, s in spread.items()
            if s.get("end_mean") is not None and s.get("end_sd") is not None
        ]
        if parts:
            lines += [
                "",
                "Seed-to-seed spread of the end score (mean ± sd over seeds): " + "; ".join(parts) + ".",
            ]
        lines.append("")
    return "\n".join(lines)
