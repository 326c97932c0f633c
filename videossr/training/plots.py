"""Curves of a run's log history: the reward per step (and per reward function) and, for a curriculum
run, each task's difficulty; drawn with matplotlib (imported inside the functions).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _history(log_history: Sequence[dict[str, Any]], wanted: Any) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for the logged metrics whose key ``wanted(key)`` accepts
    (NaN skipped)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if wanted(key) and isinstance(value, (int, float)) and not math.isnan(float(value)):
                curves.setdefault(key, []).append((int(step), float(value)))
    return curves


def reward_history(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for the reward metrics (``reward`` and ``rewards/<name>/mean``)."""
    return _history(
        log_history, lambda k: k == "reward" or (k.startswith("rewards/") and k.endswith("/mean"))
    )


def curriculum_history(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for a curriculum run: ``curriculum/<task>/difficulty`` and
    ``frac_reward_zero_std``; empty when the run logged no difficulty (no curriculum)."""
    curves = _history(
        log_history,
        lambda k: k == "frac_reward_zero_std" or (k.startswith("curriculum/") and k.endswith("/difficulty")),
    )
    if not any(k.startswith("curriculum/") for k in curves):
        return {}
    return curves


def _plot_curriculum(ax: Any, curves: dict[str, list[tuple[int, float]]]) -> None:
    for key in sorted(curves, key=lambda k: (k == "frac_reward_zero_std", k)):
        steps, values = zip(*curves[key])
        zero_std = key == "frac_reward_zero_std"
        task = key.removeprefix("curriculum/").removesuffix("/difficulty")
        label = "zero-variance groups" if zero_std else f"{task} difficulty"
        ax.plot(
            steps,
            values,
            ls="--" if zero_std else "-",
            color="0.4" if zero_std else None,
            marker="o" if len(steps) < 30 else None,
            lw=1,
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("difficulty / fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_reward_curve(
    log_history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = ""
) -> Path | None:
    """Write a PNG of the mean reward (and each reward function's mean) against the step; a curriculum run
    adds a panel with each task's difficulty and the fraction of zero-variance groups.

    Returns the path, or ``None`` when the log has no reward yet.
    """
    curves = reward_history(log_history)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A run with the curriculum gets a second panel: each task's difficulty and the zero-variance fraction.
    curriculum = curriculum_history(log_history)
    extra = None
    if curriculum:
        fig, (ax, extra) = plt.subplots(2, 1, figsize=(6.4, 6.4), dpi=120, sharex=True)
    else:
        fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    for key in sorted(curves, key=lambda k: (k != "reward", k)):
        steps, values = zip(*curves[key])
        label = "mean reward" if key == "reward" else key.removeprefix("rewards/").removesuffix("/mean")
        ax.plot(
            steps,
            values,
            marker="o" if len(steps) < 30 else None,
            lw=2 if key == "reward" else 1,
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "GRPO reward")
    if extra is not None:
        _plot_curriculum(extra, curriculum)
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Lay out, write (making the folder) and close a matplotlib figure; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
