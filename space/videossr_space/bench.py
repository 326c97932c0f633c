"""The VIUBench tab: the paper's Table 1 next to the operator's own ``videossr bench`` results.

Its columns and bars are the registered tasks' (``videossr.metrics``, read when the tab loads): a task
with benchmark subtypes brings its columns and its average's bar, and the paper's rows leave them empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from videossr.metrics import PAPER_TABLE1, paper_row, table1_columns, task_groups, viubench_subtypes
from videossr.tasks import benchmark_tasks

_AGGREGATE_KEYS = ("results", "summary", "metrics", "viubench", "aggregate", "scores")


def _find_aggregate(data: Any) -> dict | None:
    if isinstance(data, dict):
        if isinstance(data.get("subtypes"), dict):
            return data
        for key in _AGGREGATE_KEYS:
            found = _find_aggregate(data.get(key))
            if found is not None:
                return found
    return None


def result_row(data: Any, fallback_name: str) -> tuple[str, list[float | None]] | None:
    """A Table 1 row from one ``videossr bench`` result JSON, or ``None`` if it holds no VIUBench numbers.

    Reads the ``aggregate`` layout (``subtypes`` / ``tasks`` / ``overall``, percentages) wherever it sits
    in the file; missing task averages and Overall are recomputed from the subtypes present.
    """
    agg = _find_aggregate(data)
    if agg is None:
        return None
    subtypes = {k: float(v) for k, v in agg["subtypes"].items() if isinstance(v, (int, float))}
    bench, groups = viubench_subtypes(), task_groups()
    if not any(s in subtypes for s in bench):
        return None
    tasks = dict(agg.get("tasks") or {})
    for group, members in groups.items():
        if tasks.get(group) is None:
            present = [subtypes[s] for s in members if s in subtypes]
            tasks[group] = round(sum(present) / len(present), 1) if present else None
    overall = agg.get("overall")
    if overall is None:
        present = [subtypes[s] for s in bench if s in subtypes]
        overall = round(sum(present) / len(present), 1)
    name = str(
        (data.get("name") or data.get("model") or fallback_name) if isinstance(data, dict) else fallback_name
    )
    row = [subtypes.get(s) for s in bench] + [tasks.get(g) for g in groups] + [overall]
    return name[:80], [None if v is None else float(v) for v in row]


def local_results(
    folder: Path | None, max_files: int = 200, max_bytes: int = 5_000_000
) -> list[tuple[str, list]]:
    """Rows from the result JSONs in the operator's results folder (bounded: it is read on every load)."""
    if folder is None or not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.rglob("*.json"))[:max_files]:
        try:
            if path.stat().st_size > max_bytes:
                continue
            row = result_row(json.loads(path.read_text()), path.stem)
        except (OSError, ValueError):
            continue
        if row is not None:
            rows.append(row)
    return rows


def bench_table(folder: Path | None) -> Any:
    """The paper's Table 1 plus local results, as a DataFrame (one row per model)."""
    import pandas as pd

    columns = table1_columns()
    records = [
        {"Model": name, "From": "paper", **dict(zip(columns, paper_row(name)))} for name in PAPER_TABLE1
    ]
    records += [
        {"Model": name, "From": "local", **dict(zip(columns, values))}
        for name, values in local_results(folder)
    ]
    return pd.DataFrame.from_records(records, columns=["Model", "From", *columns])


#: Bar colours, task by task in Table 1 order (then round again); Overall has its own.
_COLORS = ("#42a5f5", "#66bb6a", "#ffa726", "#ef5350", "#26c6da", "#ab47bc", "#8d6e63", "#d4e157")
_OVERALL_COLOR = "#5e35b1"


def figure_bars() -> list[tuple[str, str, str]]:
    """``(column, label, colour)`` of the figure's bars: each benchmark task's average, then Overall."""
    bars = [
        (cls.benchmark_group_header, cls.short.replace("_", " ").capitalize(), _COLORS[k % len(_COLORS)])
        for k, cls in enumerate(benchmark_tasks())
    ]
    return [*bars, ("Overall", "Overall", _OVERALL_COLOR)]


def bench_figure(table: Any) -> Any:
    """Grouped horizontal bars: task averages and Overall per model, sorted by Overall."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    metrics = figure_bars()
    data = table.sort_values("Overall", na_position="first")
    n = len(data)
    fig = Figure(figsize=(8, 0.42 * n + 1.2), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(metrics)
    y = np.arange(n)
    for k, (column, label, color) in enumerate(metrics):
        values = data[column].astype(float).fillna(0.0).to_numpy()
        ax.barh(y + (k - (len(metrics) - 1) / 2) * height, values, height=height, color=color, label=label)
    names = [f"{m} (local)" if src == "local" else m for m, src in zip(data["Model"], data["From"])]
    ax.set_yticks(y, names, fontsize=8)
    for tick, src in zip(ax.get_yticklabels(), data["From"]):
        if src == "local":
            tick.set_fontweight("bold")
    ax.set_xlim(0, 100)
    ax.set_xlabel("VIUBench score (%)")
    ax.legend(loc="lower right", fontsize=8, reverse=True)  # same top-to-bottom order as the bars
    ax.grid(axis="x", alpha=0.3)
    return fig
