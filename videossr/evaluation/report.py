"""Reports of benchmark runs: Table 1 in Markdown, per-subtype bar plots, and side-by-side comparison."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videossr.metrics import (
    PAPER_TABLE1,
    paper_row,
    table1_columns,
    table1_row,
    task_groups,
    viubench_subtypes,
)

#: Paper rows drawn next to a run in the plot (all rows go in the table).
PLOT_PAPER_MODELS = ("Random guess", "Qwen2.5-VL-7B-Instruct", "Qwen3-VL-8B-Instruct", "GPT-5", "VideoSSR-8B")

#: Settings worth flagging when runs being compared differ in them.
_COMPARED_SETTINGS = (
    ("scoring", "mode"),
    ("benchmark", "data"),
    ("benchmark", "configs"),
    ("benchmark", "split"),
    ("benchmark", "limit"),
    ("inputs", "frames_per_clip"),
    ("inputs", "max_frame_pixels"),
    ("versions", "videossr"),
)


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """A ``results.json`` (or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _row(name: str, values: Sequence[float | None], bold: bool = False) -> str:
    cells = [_fmt(v) for v in values]
    if bold:
        name = f"**{name}**"
        cells = [f"**{c}**" if c != "–" else c for c in cells]
    return "| " + " | ".join([name, *cells]) + " |"


def table1_markdown(
    runs: Sequence[dict[str, Any]],
    paper: bool | Sequence[str] = True,
    title: str | None = None,
) -> str:
    """Table 1 of the paper with the runs' rows below the paper's.

    Args:
        runs: results dicts (as written to ``results.json``).
        paper: ``True`` for every paper row, ``False`` for none, or the names of the rows to keep.
        title: optional heading line.
    """
    columns, subtypes = table1_columns(), viubench_subtypes()  # the registry's, read now
    header = "| Model | " + " | ".join(columns) + " |"
    lines = [f"### {title}", ""] if title else []
    lines += [header, "|" + "---|" * (len(columns) + 1)]
    if paper:
        names = list(PAPER_TABLE1) if paper is True else list(paper)
        for name in names:
            lines.append(_row(f"{name} (paper)", paper_row(name)))
    for run in runs:
        lines.append(_row(str(run.get("name") or run.get("model")), table1_row(run["scores"]), bold=True))
    notes = []
    for run in runs:
        if run.get("source") == "model card":  # no run record: only the card's model-index entries
            notes.append(
                f"- **{run.get('name')}**: from the model-index of `{run.get('model')}` "
                f"(dataset `{run.get('dataset')}`)"
            )
            continue
        scores = run["scores"]
        counts = scores.get("counts", {})
        n = ", ".join(f"{s}={counts[s]}" for s in subtypes if s in counts)
        missing = scores.get("missing") or []
        unparsed = sum((run.get("unparsed") or {}).values())
        note = (
            f"- **{run.get('name') or run.get('model')}**: parser mode "
            f"`{run.get('scoring', {}).get('mode')}`, {run.get('num_items')} items ({n}), "
            f"{unparsed} unparsable replies scored 0"
        )
        if missing:
            note += f"; missing subtypes {missing} (left out of the averages)"
        # Subtypes of tasks outside VIUBench (e.g. a newly registered task): scored, but no Table 1 column.
        others = {s: v for s, v in scores.get("subtypes", {}).items() if s not in subtypes}
        if others:
            note += "; outside Table 1: " + ", ".join(
                f"{s} {_fmt(v)} (n={counts.get(s)})" for s, v in others.items()
            )
        notes.append(note)
    if notes:
        lines += ["", *notes]
    lines += ["", columns_legend()]
    return "\n".join(lines) + "\n"


def columns_legend() -> str:
    """What Table 1's columns are, in one line, from the registered tasks (read now)."""
    groups = task_groups()
    blocks = [
        f"{short} " + ", ".join(s.removeprefix(f"{short}_") for s in subs) for short, subs in groups.items()
    ]
    count = sum(len(subs) for subs in groups.values())
    return (
        "Columns: " + " | ".join(blocks) + f" | task averages | Overall (mean of the {count} subtypes). "
        "Percentages."
    )


def plot_results(
    runs: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    paper_models: Sequence[str] = PLOT_PAPER_MODELS,
) -> Path:
    """Grouped bars per subtype (plus the task averages and Overall): the runs against paper models."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt
    import numpy as np

    series: list[tuple[str, list[float | None], bool]] = [
        (f"{m} (paper)", paper_row(m), False) for m in paper_models if m in PAPER_TABLE1
    ]
    series += [(str(r.get("name") or r.get("model")), table1_row(r["scores"]), True) for r in runs]
    columns = table1_columns()
    x = np.arange(len(columns))
    width = 0.85 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(columns)), 5.6))
    paper_colors = plt.cm.Greys(np.linspace(0.3, 0.75, max(1, len(series) - len(runs))))
    run_colors = plt.cm.tab10(np.arange(len(runs)))
    pi = ri = 0
    for k, (name, values, is_run) in enumerate(series):
        heights = [0.0 if v is None else v for v in values]
        color = run_colors[ri] if is_run else paper_colors[pi]
        if is_run:
            ri += 1
        else:
            pi += 1
        ax.bar(
            x + (k - (len(series) - 1) / 2) * width,
            heights,
            width,
            label=name,
            color=color,
            edgecolor="black" if is_run else "none",
            linewidth=0.6,
        )
    ax.axvline(
        len(viubench_subtypes()) - 0.5, color="0.6", linewidth=0.8, linestyle="--"
    )  # subtypes | averages
    ax.set_xticks(x, columns)
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title("VIUBench: per-subtype scores against the paper's Table 1")
    # Legend below the axes: bars reach 100 % and a legend inside would hide them.
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def compare_markdown(runs: Sequence[dict[str, Any]], paper: bool | Sequence[str] = False) -> str:
    """Several runs side by side in Table 1's layout, with the settings in which they differ."""
    text = table1_markdown(runs, paper=paper, title="Comparison")
    differing = []
    recorded = [r for r in runs if r.get("source") != "model card"]  # a card records no settings
    for section, key in _COMPARED_SETTINGS:
        values = [json.dumps((r.get(section) or {}).get(key), sort_keys=True, default=str) for r in recorded]
        # A backend that never looks at frames (random) records no inputs: that is not a difference.
        if len({v for v in values if v != "null"} if section == "inputs" else set(values)) > 1:
            differing.append(f"- `{section}.{key}`: " + " vs ".join(values))
    backends = [json.dumps(r.get("backend"), sort_keys=True, default=str) for r in recorded]
    if differing:
        text += (
            "\nSettings that differ between these runs (scores may not be comparable):\n"
            + "\n".join(differing)
            + "\n"
        )
    elif len(set(backends)) == len(backends):
        text += "\nAll runs share the data, parser mode and input settings; they differ in the model.\n"
    return text


# ---------------------------------------------------------------------------------------------- leaderboard
def leaderboard_columns() -> tuple[str, ...]:
    """Columns of a leaderboard row: the model, where the row comes from, then Table 1's (read now)."""
    return ("Model", "Source", *table1_columns())


def leaderboard_rows(
    runs: Sequence[dict[str, Any]], paper: bool | Sequence[str] = False
) -> list[dict[str, Any]]:
    """One flat row per model in Table 1's columns (``C-E`` ... ``Overall``), paper rows first.

    Each row is ``{"Model", "Source", <Table 1 columns>}`` (:func:`leaderboard_columns`); ``Source`` is
    ``paper`` for the paper's rows and ``videossr bench``, ``lmms-eval`` or ``model card`` for runs. Missing
    cells are ``None`` (empty in CSV). The format any leaderboard Space can load as a table.
    """
    rows: list[dict[str, Any]] = []
    columns = table1_columns()
    if paper:
        names = list(PAPER_TABLE1) if paper is True else list(paper)
        for name in names:
            rows.append({"Model": name, "Source": "paper", **dict(zip(columns, paper_row(name)))})
    for run in runs:
        source = run.get("source") or ("lmms-eval" if run.get("via") == "lmms-eval" else "videossr bench")
        values = table1_row(run["scores"])
        rows.append(
            {
                "Model": str(run.get("name") or run.get("model")),
                "Source": source,
                **dict(zip(columns, values)),
            }
        )
    return rows


def write_leaderboard(
    runs: Sequence[dict[str, Any]], out_dir: str | os.PathLike, paper: bool | Sequence[str] = False
) -> tuple[Path, Path]:
    """Write ``compare.csv`` and ``compare.json`` (a list of :func:`leaderboard_rows`) into ``out_dir``."""
    import csv

    rows = leaderboard_rows(runs, paper=paper)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / "compare.csv", out / "compare.json"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(leaderboard_columns()))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    json_path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return csv_path, json_path
