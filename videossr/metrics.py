"""VIUBench metrics (docs/method.md §7): per-item scores, aggregation into Table 1, and the paper's rows.

These are benchmark metrics, not the training rewards: each task's ``score`` (grounding is mIoU, counting
is per-shape exact match averaged over the three shapes, jigsaw is exact sequence match). Unparsable
replies score 0 and stay in the denominator. The subtypes, their groups and Table 1's headers are read
from the tasks (``benchmark_subtypes`` and friends), not written here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from videossr.parsing import Mode
from videossr.tasks import (
    TASKS,
    benchmark_subtypes,
    benchmark_tasks,
    get_task,
    task_for_subtype,
    task_name_of_subtype,
)
from videossr.tasks.registry import LiveMapping, LiveTuple, live


def _viubench_subtypes() -> tuple[str, ...]:
    return benchmark_subtypes()


def _task_groups() -> dict[str, tuple[str, ...]]:
    return {cls.short: cls.benchmark_subtypes for cls in benchmark_tasks()}


def _table1_columns() -> tuple[str, ...]:
    tasks = benchmark_tasks()
    return (
        *(h for cls in tasks for h in cls.benchmark_headers),
        *(cls.benchmark_group_header for cls in tasks),
        "Overall",
    )


def _table1_keys() -> tuple[str, ...]:
    return (*_viubench_subtypes(), *_task_groups(), "overall")


def viubench_subtypes() -> tuple[str, ...]:
    """The VIUBench subtypes, in Table 1's column order, read from the registered tasks now
    (each task's ``benchmark_subtypes``; see :func:`videossr.tasks.benchmark_tasks`)."""
    return TASKS.derived(_viubench_subtypes)


def task_groups() -> dict[str, tuple[str, ...]]:
    """Table 1's task averages: a task's short name -> its subtypes, in Table 1 order."""
    return dict(TASKS.derived(_task_groups))


def table1_columns() -> tuple[str, ...]:
    """Table 1's short column headers (the tasks' own), aligned with :func:`table1_keys`."""
    return TASKS.derived(_table1_columns)


def table1_keys() -> tuple[str, ...]:
    """Table 1's columns as keys of an :func:`aggregate` result: the subtypes, the groups, ``overall``."""
    return TASKS.derived(_table1_keys)


# The same as names to import. They are read from the registry on every use (never a copy made at
# import), so a task registered later has its columns here too.
#: The subtypes of VIUBench, in the column order of Table 1 (the paper's 9, plus any registered later).
VIUBENCH_SUBTYPES: Sequence[str] = LiveTuple(live(_viubench_subtypes), "VIUBENCH_SUBTYPES")
TASK_GROUPS: Mapping[str, tuple[str, ...]] = LiveMapping(live(_task_groups), "TASK_GROUPS")
#: Short column headers of Table 1, aligned with ``TABLE1_KEYS``.
TABLE1_COLUMNS: Sequence[str] = LiveTuple(live(_table1_columns), "TABLE1_COLUMNS")
TABLE1_KEYS: Sequence[str] = LiveTuple(live(_table1_keys), "TABLE1_KEYS")

#: The paper's Table 1 columns, as keys of an :func:`aggregate` result (fixed: these are the paper's).
PAPER_KEYS = (
    "counting_easy",
    "counting_hard",
    "grounding_channel_swap",
    "grounding_rotate180",
    "grounding_zoom_out",
    "grounding_mirror",
    "grounding_shuffle",
    "jigsaw_easy",
    "jigsaw_hard",
    "counting",
    "grounding",
    "jigsaw",
    "overall",
)

# The numbers as the paper prints them, in the order of PAPER_KEYS.
_PAPER_ROWS: dict[str, tuple[float, ...]] = {
    "Random guess": (11.1, 6.3, 25.9, 25.4, 25.4, 25.2, 25.2, 0.1, 0.0, 8.7, 25.4, 0.1, 16.1),
    "GPT-5": (88.4, 70.3, 82.6, 81.8, 56.5, 48.9, 34.1, 39.0, 27.0, 79.4, 60.8, 33.0, 58.7),
    "Gemini-2.5-Pro": (80.8, 61.3, 84.6, 82.3, 51.0, 55.7, 52.1, 25.3, 17.7, 71.1, 65.1, 21.5, 56.7),
    "Gemini-2.5-Flash": (35.7, 22.4, 75.8, 73.7, 28.5, 30.2, 28.6, 8.3, 4.0, 29.1, 47.4, 6.2, 34.1),
    "Seed1.5-VL": (72.3, 52.0, 79.0, 70.7, 19.4, 31.4, 24.1, 20.7, 9.3, 62.6, 44.9, 15.0, 42.2),
    "Qwen2.5-VL-7B-Instruct": (11.3, 5.3, 6.4, 13.7, 8.1, 5.2, 7.0, 0.7, 0.0, 8.3, 8.1, 0.3, 6.4),
    "VideoJigsaw-7B": (12.1, 5.4, 1.5, 4.5, 1.2, 1.1, 2.0, 20.3, 5.0, 8.8, 2.1, 12.7, 5.9),
    "Qwen3-VL-8B-Instruct": (13.8, 7.7, 50.1, 53.4, 21.4, 13.6, 14.1, 1.3, 0.0, 10.7, 30.5, 0.7, 19.5),
    "Qwen3-VL-32B-Instruct": (20.1, 13.0, 66.1, 63.0, 17.6, 29.4, 18.9, 1.3, 0.0, 16.6, 39.0, 0.7, 25.5),
    "Qwen3-VL-235B-A22B-Instruct": (
        23.8,
        14.8,
        68.9,
        67.8,
        32.9,
        28.3,
        26.8,
        7.7,
        3.3,
        19.3,
        45.0,
        5.5,
        30.5,
    ),
    "GLM-4.5V": (59.1, 45.4, 66.4, 61.0, 21.2, 29.8, 15.3, 11.0, 3.3, 52.3, 38.7, 7.2, 34.7),
    "InternVL-3.5-8B": (15.2, 9.6, 25.9, 42.4, 6.1, 9.8, 3.1, 0.0, 0.0, 12.4, 17.5, 0.0, 12.5),
    "InternVL-3.5-38B": (28.0, 15.9, 47.0, 54.5, 9.6, 18.2, 12.4, 0.0, 0.0, 21.9, 28.3, 0.0, 20.6),
    "VideoSSR-8B": (29.0, 24.6, 88.7, 89.0, 94.4, 67.8, 41.0, 24.3, 8.0, 26.8, 76.2, 16.2, 51.9),
}

#: The paper's Table 1 (percentages): model -> {column key -> value}. Keyed by name, so a column a task
#: registered later adds is simply absent from the paper's rows (see :func:`paper_row`).
PAPER_TABLE1: dict[str, dict[str, float]] = {
    model: dict(zip(PAPER_KEYS, values, strict=True)) for model, values in _PAPER_ROWS.items()
}


def paper_row(model: str) -> list[float | None]:
    """The paper's numbers for ``model`` under the current :func:`table1_keys` (``None`` where the paper
    has no such column); ``KeyError`` for a model the paper does not list."""
    row = PAPER_TABLE1[model]
    return [row.get(key) for key in table1_keys()]


def _verifier(task: str):
    # Not cached across calls: a task registered (or replaced) later must be the one that scores.
    return _built(task, TASKS.get(task) or TASKS.get(_name_of(task)))


def _name_of(subtype: str) -> str:
    try:
        return task_name_of_subtype(subtype)
    except ValueError:
        return ""


@functools.lru_cache(maxsize=1024)
def _built(task: str, cls: type | None):
    # Keyed by the class too, so the cache never answers for a class that is no longer registered.
    return get_task(task) if task in TASKS else task_for_subtype(task)


def score(task: str, completion: Any, answer: str, mode: Mode = "strict") -> float:
    """The VIUBench metric of one reply, in ``[0, 1]``; ``task`` may also be a subtype name.

    Example:
        >>> score("object_counting", "3,1,5", "3,1,4")
        0.6666666666666666
    """
    try:
        return _verifier(task).score(completion, answer, mode)
    except ValueError:
        return 0.0


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def aggregate(per_subtype: Mapping[str, Iterable[float]], decimals: int = 1) -> dict[str, Any]:
    """Table 1 numbers from per-item scores grouped by subtype.

    Returns ``{"subtypes": {name: %}, "tasks": {"counting"|"grounding"|"jigsaw": %}, "overall": %,
    "counts": {name: n}}``. Task averages are means over their subtypes, and Overall is the plain mean
    of the subtype scores (docs/method.md §7); all are computed unrounded, then rounded to ``decimals``.
    Subtypes that are absent are left out of the averages (and reported as missing).
    """
    lists = {name: list(scores) for name, scores in per_subtype.items()}  # accept generators too
    raw = {name: _mean(scores) for name, scores in lists.items()}
    raw = {k: v for k, v in raw.items() if v is not None}
    counts = {name: len(v) for name, v in lists.items()}

    def pct(x: float | None) -> float | None:
        return None if x is None else round(100.0 * x, decimals)

    subtypes = viubench_subtypes()
    tasks = {g: _mean(raw[s] for s in subs if s in raw) for g, subs in task_groups().items()}
    ordered = [s for s in subtypes if s in raw] + sorted(s for s in raw if s not in subtypes)
    bench = [raw[s] for s in subtypes if s in raw]
    return {
        "subtypes": {s: pct(raw[s]) for s in ordered},
        "tasks": {g: pct(v) for g, v in tasks.items()},
        "overall": pct(_mean(bench)),
        "counts": counts,
        "missing": [s for s in subtypes if s not in raw],
    }


def table1_row(result: Mapping[str, Any]) -> list[float | None]:
    """An ``aggregate`` result as the numbers of a Table 1 row, aligned with :func:`table1_keys`."""
    return [
        *(result["subtypes"].get(s) for s in viubench_subtypes()),
        *(result["tasks"].get(g) for g in task_groups()),
        result.get("overall"),
    ]
