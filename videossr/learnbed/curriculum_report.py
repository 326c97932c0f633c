"""The curriculum bed's report: the measures fixed before its runs, the summary, its tables and figure.

Four arms per seed, the same start model, the same stream of training videos and the same step budget:
``fixed-strict`` and ``fixed-smooth`` make every question at the evaluation level; ``curriculum-strict`` and
``curriculum-smooth`` let the package's controller move the level from the seed's comfortable start
(:mod:`videossr.learnbed.levels`). ``*-strict`` train with ``jigsaw_strict01`` (exact order, 0/1),
``*-smooth`` with the paper's ``jigsaw`` displacement reward. Every arm is scored with exact order at the
evaluation level. :data:`MEASURES` says what is measured; :func:`summarize_curriculum_bed` measures it from
the runs' files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videossr.learnbed.levels import clips_level, late_mean
from videossr.learnbed.report import _mean_over_steps, read_curves, steps_to_reach, summarize_task
from videossr.learnbed.scoring import cluster_bootstrap

#: The four arms, in the order tables and figures show them.
CURRICULUM_ARMS: tuple[str, ...] = ("fixed-strict", "curriculum-strict", "fixed-smooth", "curriculum-smooth")
#: The training reward of each arm's second half.
ARM_REWARDS: dict[str, str] = {"strict": "jigsaw_strict01", "smooth": "jigsaw"}
#: The arm every step count is measured against, and the pairs whose test difference is reported.
TARGET_ARM = "fixed-smooth"
DIFFERENCES: tuple[tuple[str, str], ...] = (
    ("curriculum-strict", "fixed-strict"),
    ("curriculum-strict", "fixed-smooth"),
    ("curriculum-smooth", "fixed-smooth"),
    ("fixed-smooth", "fixed-strict"),
)
#: Fixed in the issue before any run: curriculum-strict ends at least this far above fixed-strict.
RESCUE_GAP = 0.10
#: The measures, as written into the summary (fixed before the runs).
MEASURES: dict[str, str] = {
    "test": "exact-order accuracy on the test items at the evaluation level (test videos only), greedy, at "
    "step 0 (the start) and at the end; 95 % interval by bootstrap over test videos",
    "dev_curve": "exact-order accuracy on the dev items at the evaluation level at every evaluation "
    "(viubench_steps), step 0 included",
    "zero_variance": "fraction of GRPO groups whose rewards are all equal (TRL's frac_reward_zero_std), mean "
    "over the run's logged steps, and its curve",
    "level": "the controller's level over time (curriculum/jigsaw/difficulty from the trainer's log "
    "history), as knob level and clip count",
    "area": "area under the dev curve divided by its steps (the mean dev accuracy over the run)",
    "steps_to_target": "per seed, the first dev evaluation at which an arm's dev accuracy is at least the "
    "target: the mean of fixed-smooth's last quarter of dev evaluations (ceil(n/4) of n) of the same seed",
    "noise_floor": "the same measure for a second fixed-smooth seed against the first seed's target (and "
    "every other ordered pair of fixed-smooth seeds)",
    "differences": "per seed, end test accuracy of one arm minus another's on the same items, 95 % interval "
    "by bootstrap over test videos: " + ", ".join(f"{a} − {b}" for a, b in DIFFERENCES),
    "criteria": f"(issue) curriculum-strict − fixed-strict ≥ {RESCUE_GAP} with the interval above 0 on "
    "every seed; curriculum-strict's zero-variance fraction below fixed-strict's on every seed",
}


def arm_settings(arm: str) -> tuple[bool, str]:
    """``(curriculum on, reward name)`` of one of :data:`CURRICULUM_ARMS`."""
    if arm not in CURRICULUM_ARMS:
        raise ValueError(f"unknown curriculum-bed arm {arm!r}; use {', '.join(CURRICULUM_ARMS)}")
    kind, _, reward = arm.partition("-")
    return kind == "curriculum", ARM_REWARDS[reward]


def level_curve(train: dict[str, Any], task: str = "jigsaw") -> list[list[float]]:
    """``[[step, level], ...]`` of the controller's level, from :func:`read_curves`' ``train`` metrics."""
    return [[int(s), float(v)] for s, v in train.get(f"curriculum/{task}/difficulty", [])]


def _clips_of_level(level: float) -> int:
    from videossr.tasks.jigsaw.task import clips_at

    return clips_at(min(1.0, max(0.0, level)))


def _end_items(run_dir: Path) -> list[float] | None:
    path = run_dir / "test_scores.json"
    return json.loads(path.read_text())["end"]["items"] if path.is_file() else None


def summarize_curriculum_bed(
    out: str | os.PathLike,
    arms: Sequence[str],
    seeds: Sequence[int],
    split: dict[str, Any],
    baselines: dict[str, Any],
    levels: dict[str, Any],
) -> dict[str, Any]:
    """The bed's summary from its runs under ``out/<arm>/seed<k>``: per run the test scores at the start and
    the end, the dev curve, its area, the zero-variance fraction, the controller's level over time and the
    steps to the target; per seed the test differences of :data:`DIFFERENCES`; the noise floor; the issue's
    criteria. Every measure is :data:`MEASURES`'."""
    out = Path(out)
    entry = summarize_task(out, arms, seeds, split, baselines, "exact order")
    videos = baselines["videos"]
    eval_level = float(levels["eval_level"])
    fixed_by_seed = {r["seed"]: r for r in entry["arms"].get(TARGET_ARM, [])}
    targets = {seed: late_mean(r["dev_curve"]) for seed, r in fixed_by_seed.items() if r["dev_curve"]}
    for arm, runs in entry["arms"].items():
        for run in runs:
            data = read_curves(out / arm / f"seed{run['seed']}")
            curve = run["dev_curve"]
            run["area"] = _mean_over_steps(curve) if curve else None
            run["late_mean"] = late_mean(curve) if curve else None
            run["frac_reward_zero_std_curve"] = data["train"].get("frac_reward_zero_std", [])
            levels_seen = level_curve(data["train"])
            if arm.startswith("curriculum"):
                start = levels["start"][str(run["seed"])]
                run["start_level"] = {"level": start["level"], "clips": start["clips"]}
            run["level_curve"] = levels_seen
            run["level_clips_curve"] = [[s, _clips_of_level(v)] for s, v in levels_seen]
            run["level_mean"] = float(np.mean([v for _, v in levels_seen])) if levels_seen else None
            run["level_end"] = levels_seen[-1][1] if levels_seen else None
            run["clips_end"] = _clips_of_level(levels_seen[-1][1]) if levels_seen else None
            run["steps_at_or_above_eval_level"] = (
                sum(1 for _, v in levels_seen if v >= eval_level - 1e-9) / len(levels_seen)
                if levels_seen
                else None
            )
            target = targets.get(run["seed"])
            reached = steps_to_reach(curve, target) if target is not None and curve else None
            budget = int(curve[-1][0]) if curve else 0
            run["steps_to_target"] = {
                "target": target,
                "steps": reached,
                "fraction_of_budget": None if reached is None or not budget else reached / budget,
            }
    differences: dict[str, list[dict[str, Any]]] = {}
    for a, b in DIFFERENCES:
        rows = []
        for seed in seeds:
            ia, ib = _end_items(out / a / f"seed{seed}"), _end_items(out / b / f"seed{seed}")
            if ia is None or ib is None:
                continue
            mean, lo, hi = cluster_bootstrap(np.asarray(ia) - np.asarray(ib), videos)
            rows.append({"seed": int(seed), "mean": mean, "interval": [lo, hi]})
        if rows:
            differences[f"{a} - {b}"] = rows
    entry["differences"] = differences
    fixed_runs = entry["arms"].get(TARGET_ARM, [])
    pairs = []
    for target_run in fixed_runs:
        for other in fixed_runs:
            if other is target_run or not other["dev_curve"] or not target_run["dev_curve"]:
                continue
            target = late_mean(target_run["dev_curve"])
            reached = steps_to_reach(other["dev_curve"], target)
            budget = int(other["dev_curve"][-1][0])
            pairs.append(
                {
                    "seed": other["seed"],
                    "against_seed": target_run["seed"],
                    "target": target,
                    "steps": reached,
                    "fraction_of_budget": None if reached is None or not budget else reached / budget,
                }
            )
    first = fixed_runs[0]["seed"] if fixed_runs else None
    second = fixed_runs[1]["seed"] if len(fixed_runs) > 1 else None
    entry["noise_floor"] = {
        "second_against_first": next(
            (p for p in pairs if p["seed"] == second and p["against_seed"] == first), None
        ),
        "pairs": pairs,
    }
    entry["criteria"] = _criteria(entry, seeds)
    entry["levels"] = levels
    entry["measures"] = MEASURES
    return entry


def _criteria(entry: dict[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """The issue's two thresholds per seed (``None`` where a run is missing)."""
    rescue = {d["seed"]: d for d in entry["differences"].get("curriculum-strict - fixed-strict", [])}
    by_arm = {arm: {r["seed"]: r for r in runs} for arm, runs in entry["arms"].items()}
    per_seed = {}
    for seed in seeds:
        diff = rescue.get(seed)
        cur = by_arm.get("curriculum-strict", {}).get(seed)
        fix = by_arm.get("fixed-strict", {}).get(seed)
        zero_cur = cur and cur.get("mean_frac_reward_zero_std")
        zero_fix = fix and fix.get("mean_frac_reward_zero_std")
        per_seed[str(seed)] = {
            "rescue": None if diff is None else bool(diff["mean"] >= RESCUE_GAP and diff["interval"][0] > 0),
            "fewer_zero_variance_groups": None
            if zero_cur is None or zero_fix is None
            else bool(cur["mean_frac_reward_zero_std"] < fix["mean_frac_reward_zero_std"]),
        }
    every = {
        key: all(s[key] is True for s in per_seed.values()) if per_seed else False
        for key in ("rescue", "fewer_zero_variance_groups")
    }
    return {"rescue_gap": RESCUE_GAP, "per_seed": per_seed, "every_seed": every}


def write_curriculum_summary(
    path: str | os.PathLike, entry: dict[str, Any], minutes: float
) -> dict[str, Any]:
    """Write the bed's ``summary.json`` (the entry and its wall time) and return it."""
    summary = dict(entry, minutes=round(float(minutes), 2))
    Path(path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _f(value: float | None, fmt: str = ".3f") -> str:
    return "" if value is None else format(value, fmt)


def _iv(values: Sequence[float]) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def curriculum_markdown(summary: dict[str, Any]) -> str:
    """The tables of the bed (what ``summary.md`` holds): the levels, the arms per seed, the differences,
    the noise floor and the criteria."""
    levels = summary["levels"]
    split = summary["split"]
    seeds = sorted(levels["pass_rates"], key=int)
    clip_counts = sorted({int(n) for by in levels["pass_rates"].values() for n in by})
    lines = [
        f"### Jigsaw curriculum bed: evaluation level {levels['eval_clips']} clips "
        f"(knob {levels['eval_level']:g}), {split['test_items']} test items on "
        f"{len(split['test_videos'])} unseen videos",
        "",
        "Evaluation level: "
        + levels["rules"]["evaluation_level"]
        + ". Comfortable start: "
        + levels["rules"]["comfortable_start"]
        + ". 2 clips: "
        + levels["rules"]["two_clips"]
        + ".",
        "",
        "| start model's dev pass rate (exact order) | "
        + " | ".join(f"{n} clips" for n in clip_counts)
        + " | curriculum start |",
        "|---|" + "---|" * (len(clip_counts) + 1),
    ]
    parsable = levels.get("parsable", {})
    for seed in seeds:
        by = levels["pass_rates"][seed]
        shape = parsable.get(seed, {})
        start = levels["start"][seed]
        cells = [
            _f(by.get(str(n)), ".3f") + (f" ({shape[str(n)]:.2f})" if shape.get(str(n)) is not None else "")
            for n in clip_counts
        ]
        lines.append(
            f"| seed {seed} | " + " | ".join(cells) + f" | {start['clips']} clips (knob {start['level']:g}) |"
        )
    if parsable:
        lines += ["", "In brackets: the share of the start's replies that are an order of the clips at all."]
    base = summary["baselines"]
    lines += [
        "",
        f"Test baselines at {levels['eval_clips']} clips: best constant fitted on the training rows "
        f"({summary['best_constant_answer']}) {base['best_constant']:.3f} "
        f"{_iv(base['best_constant_interval'])}; random guess {base['random']:.3f}; heuristic solver "
        f"{base['heuristic']:.3f}. Intervals: 95 %, resampling test videos.",
        "",
        "| arm | seed | test start | test end [interval] | dev area | zero-variance groups | "
        "steps to fixed-smooth's late mean | level: mean, end (clips) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, runs in summary["arms"].items():
        for run in runs:
            zero = run.get("mean_frac_reward_zero_std")
            reach = run.get("steps_to_target") or {}
            steps = reach.get("steps")
            level = (
                f"{run['level_mean']:.3f}, {run['level_end']:g} ({run['clips_end']})"
                if run.get("level_mean") is not None
                else "fixed"
            )
            lines.append(
                f"| {arm} | {run['seed']} | {run['start']:.3f} | {run['end']:.3f} {_iv(run['interval'])} | "
                f"{_f(run.get('area'))} | {'' if zero is None else f'{100 * zero:.1f} %'} | "
                + ("never" if steps is None and reach.get("target") is not None else _f(steps, "d"))
                + (f" (target {reach['target']:.3f})" if reach.get("target") is not None else "")
                + f" | {level} |"
            )
    lines += ["", "| difference of end test accuracy | seed | mean [interval] |", "|---|---|---|"]
    for name, rows in summary["differences"].items():
        for row in rows:
            label = name.replace(" - ", " − ")
            lines.append(f"| {label} | {row['seed']} | {row['mean']:+.3f} {_iv(row['interval'])} |")
    floor = summary["noise_floor"]
    pair = floor.get("second_against_first")
    if pair:
        lines += [
            "",
            f"Noise floor: fixed-smooth seed {pair['seed']} reaches seed {pair['against_seed']}'s late mean "
            f"({pair['target']:.3f}) at step "
            + ("never" if pair["steps"] is None else str(pair["steps"]))
            + ". Every pair: "
            + "; ".join(
                f"{p['seed']} vs {p['against_seed']}: " + ("never" if p["steps"] is None else str(p["steps"]))
                for p in floor["pairs"]
            )
            + ".",
        ]
    crit = summary["criteria"]
    met = {key: "met" if ok else "not met" for key, ok in crit["every_seed"].items()}
    lines += [
        "",
        f"Criteria (fixed in the issue): curriculum-strict − fixed-strict ≥ {crit['rescue_gap']} with its "
        f"interval above 0, every seed: {met['rescue']} "
        f"({_per_seed(crit, 'rescue')}); fewer zero-variance groups under curriculum-strict than "
        f"fixed-strict, every seed: {met['fewer_zero_variance_groups']} "
        f"({_per_seed(crit, 'fewer_zero_variance_groups')}).",
        "",
    ]
    return "\n".join(lines)


def _per_seed(criteria: dict[str, Any], key: str) -> str:
    marks = {True: "yes", False: "no", None: "not run"}
    return ", ".join(f"seed {s} {marks[v[key]]}" for s, v in criteria["per_seed"].items())


#: Colours of the four arms in the figure.
ARM_COLOURS = {
    "fixed-strict": "tab:red",
    "curriculum-strict": "tab:blue",
    "fixed-smooth": "tab:orange",
    "curriculum-smooth": "tab:green",
}


def plot_curriculum_bed(summary: dict[str, Any], path: str | os.PathLike) -> Path:
    """The bed's figure: dev accuracy at the evaluation level against step for the four arms (thin: seeds;
    thick: their mean), the curriculum arms' level against step (as clip counts), and the fraction of
    zero-variance groups against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from videossr.training import save_figure

    levels = summary["levels"]
    fig, (dev_ax, level_ax, zero_ax) = plt.subplots(1, 3, figsize=(15, 4.2), dpi=110)
    for arm, runs in summary["arms"].items():
        colour = ARM_COLOURS.get(arm, "tab:gray")
        curves = [r["dev_curve"] for r in runs if r.get("dev_curve")]
        for curve in curves:
            steps, values = zip(*curve)
            dev_ax.plot(steps, values, color=colour, lw=0.7, alpha=0.4)
        if curves and len({tuple(s for s, _ in c) for c in curves}) == 1:
            steps = [s for s, _ in curves[0]]
            mean = np.mean([[v for _, v in c] for c in curves], axis=0)
            dev_ax.plot(steps, mean, color=colour, lw=2.2, label=f"{arm} ({len(curves)} seeds)")
        elif curves:
            dev_ax.plot([], [], color=colour, lw=2.2, label=f"{arm} ({len(curves)} seeds)")
        for run in runs:
            if run.get("level_curve"):
                steps, values = zip(*run["level_curve"])
                level_ax.plot(steps, values, color=colour, lw=1.0, alpha=0.8)
            if run.get("frac_reward_zero_std_curve"):
                steps, values = zip(*run["frac_reward_zero_std_curve"])
                zero_ax.plot(steps, values, color=colour, lw=1.0, alpha=0.7)
        if any(r.get("level_curve") for r in runs):
            level_ax.plot([], [], color=colour, lw=1.0, label=f"{arm} (each seed)")
    dev_ax.set_title(
        f"dev exact order at {levels['eval_clips']} clips ({summary['split'].get('dev_items', '?')} items)",
        fontsize=9,
    )
    dev_ax.set_xlabel("GRPO step")
    dev_ax.set_ylim(0, 1)
    dev_ax.grid(alpha=0.3)
    dev_ax.legend(fontsize=7, loc="upper left")
    level_ax.axhline(levels["eval_level"], color="k", ls="--", lw=1, label="evaluation level")
    ticks = sorted({clips_level(n) for n in range(2, 10)})
    level_ax.set_yticks(ticks, [f"{_clips_of_level(t)} clips ({t:g})" for t in ticks], fontsize=7)
    level_ax.set_ylim(-0.03, 0.9)
    level_ax.set_title("curriculum level (controller's difficulty, logged mean per logging step)", fontsize=9)
    level_ax.set_xlabel("GRPO step")
    level_ax.grid(alpha=0.3)
    level_ax.legend(fontsize=7, loc="upper left")
    zero_ax.set_title("groups with zero reward variance (frac_reward_zero_std)", fontsize=9)
    zero_ax.set_xlabel("GRPO step")
    zero_ax.set_ylim(0, 1.02)
    zero_ax.grid(alpha=0.3)
    return save_figure(fig, path)


__all__ = [
    "ARM_REWARDS",
    "CURRICULUM_ARMS",
    "DIFFERENCES",
    "MEASURES",
    "RESCUE_GAP",
    "TARGET_ARM",
    "arm_settings",
    "curriculum_markdown",
    "level_curve",
    "plot_curriculum_bed",
    "summarize_curriculum_bed",
    "write_curriculum_summary",
]
