"""Corpus-level metric functions behind the ``evaluate`` modules in ``hub/metrics/``.

The per-item metrics are :func:`videossr.metrics.score` (VIUBench) and the tasks' rewards; these
functions only average them over a list of replies and add the usual companions (recall at IoU
thresholds, exact match, the number of unparsable replies). Unparsable replies always count, as 0.

:func:`task_metrics` returns fractions in ``[0, 1]`` (like ``evaluate``'s ``accuracy``), from the task's own
``corpus_metrics``; :func:`viubench` returns percentages with one decimal, exactly as Table 1 prints them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from videossr.metrics import aggregate, score
from videossr.parsing import Mode
from videossr.tasks import aliases, get_task
from videossr.tasks.registry import LiveMapping, live


def _check(predictions: Sequence[Any], references: Sequence[str], *others: Sequence[Any]) -> None:
    if len(predictions) != len(references) or any(len(o) != len(predictions) for o in others):
        raise ValueError(
            f"predictions ({len(predictions)}), references ({len(references)})"
            + "".join(f" and {len(o)}" for o in others)
            + " must have the same length"
        )


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def task_metrics(
    task: str, predictions: Sequence[Any], references: Sequence[str], mode: Mode = "strict"
) -> dict[str, Any]:
    """One task's corpus metrics (its ``corpus_metrics``): the VIUBench metric, its companions, the count.

    ``task`` is a task's name or short name. Each registered task answers with its own keys, e.g.
    grounding: ``miou``, ``recall@0.3/0.5/0.7``; counting: ``per_shape_accuracy``, ``exact_match``,
    ``mean_reward``; jigsaw: ``exact_match``, ``mean_reward``; all: ``unparsed`` and ``count``.

    Example:
        >>> task_metrics("anomaly_grounding", ["1.0-3.0", "oops"], ["1.0-3.0", "2.0-4.0"])["miou"]
        0.5
        >>> task_metrics("counting", ["3,1,5"], ["3,1,4"])["per_shape_accuracy"]
        0.6666666666666666
        >>> task_metrics("jigsaw", ["3124", "1234"], ["3124", "3124"])["exact_match"]
        0.5
    """
    _check(predictions, references)
    return get_task(task).corpus_metrics(predictions, references, mode=mode)


def _task_metric_funcs() -> dict[str, Callable[..., dict[str, Any]]]:
    return {short: functools.partial(task_metrics, short) for short in aliases()}


#: Each registered task's corpus metrics by its short name (``TASK_METRICS["counting"](preds, refs)``),
#: read from the registry like every other table derived from it.
TASK_METRICS: Mapping[str, Callable[..., dict[str, Any]]] = LiveMapping(
    live(_task_metric_funcs), "TASK_METRICS"
)


def __getattr__(name: str) -> Any:
    # ``scoring.counting(...)`` spells ``TASK_METRICS["counting"](...)``.
    try:
        return TASK_METRICS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def viubench(
    predictions: Sequence[Any],
    references: Sequence[str],
    subtypes: Sequence[str],
    mode: Mode = "strict",
    decimals: int = 1,
) -> dict[str, Any]:
    """VIUBench Table 1 numbers (percentages): the subtype scores, the task averages and Overall.

    Returns a flat dict: one key per subtype present (``counting_easy`` ... ``jigsaw_hard``),
    ``counting``, ``grounding``, ``jigsaw`` (means over their subtypes), ``overall`` (plain mean of
    the subtype scores), plus ``counts`` (items per subtype) and ``missing`` (Table 1 subtypes with no
    items; they are left out of the averages).

    Example:
        >>> viubench(["3,1,4", "1-2"], ["3,1,4", "1.0-2.0"], ["counting_easy", "grounding_mirror"])["overall"]
        100.0
    """
    _check(predictions, references, subtypes)
    per_subtype: dict[str, list[float]] = {}
    for p, r, s in zip(predictions, references, subtypes):
        per_subtype.setdefault(str(s), []).append(score(str(s), p, r, mode=mode))
    table = aggregate(per_subtype, decimals=decimals)
    return {
        **table["subtypes"],
        **table["tasks"],
        "overall": table["overall"],
        "counts": table["counts"],
        "missing": table["missing"],
    }
