"""Corpus-level metric functions behind the ``evaluate`` modules in ``hub/metrics/``.

The per-item metrics are :func:`videossr.metrics.score` (VIUBench) and the tasks' rewards; these
functions only average them over a list of replies and add the usual companions (recall at IoU
thresholds, exact match, the number of unparsable replies). Unparsable replies always count, as 0.

The task functions return fractions in ``[0, 1]`` (like ``evaluate``'s ``accuracy``); :func:`viubench`
returns percentages with one decimal, exactly as Table 1 prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videossr.parsing import Mode


def _check(predictions: Sequence[Any], references: Sequence[str], *others: Sequence[Any]) -> None:
    if len(predictions) != len(references) or any(len(o) != len(predictions) for o in others):
        raise ValueError(
            f"predictions ({len(predictions)}), references ({len(references)})"
            + "".join(f" and {len(o)}" for o in others)
            + " must have the same length"
        )


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def grounding(predictions: Sequence[Any], references: Sequence[str], mode: Mode = "strict") -> dict[str, Any]:
    """Anomaly grounding: mIoU and recall at IoU 0.3 / 0.5 / 0.7.

    Example:
        >>> grounding(["1.0-3.0", "oops"], ["1.0-3.0", "2.0-4.0"])["miou"]
        0.5
    """
    from videossr.metrics import score
    from videossr.parsing import parse_interval

    _check(predictions, references)
    ious = [score("anomaly_grounding", p, r, mode=mode) for p, r in zip(predictions, references)]
    out: dict[str, Any] = {"miou": _mean(ious)}
    for t in (0.3, 0.5, 0.7):
        out[f"recall@{t}"] = _mean([float(i >= t) for i in ious])
    out["unparsed"] = sum(parse_interval(p, mode) is None for p in predictions)
    out["count"] = len(ious)
    return out


def counting(predictions: Sequence[Any], references: Sequence[str], mode: Mode = "strict") -> dict[str, Any]:
    """Object counting: per-shape accuracy (the VIUBench metric), all-three exact match, smooth reward.

    Example:
        >>> counting(["3,1,5"], ["3,1,4"])["per_shape_accuracy"]
        0.6666666666666666
    """
    from videossr.metrics import score
    from videossr.parsing import parse_counts
    from videossr.tasks import get_task

    _check(predictions, references)
    task = get_task("object_counting")
    pairs = list(zip(predictions, references))
    return {
        "per_shape_accuracy": _mean([score("object_counting", p, r, mode=mode) for p, r in pairs]),
        "exact_match": _mean([task.strict_reward(p, r, mode=mode) for p, r in pairs]),
        "mean_reward": _mean([task.reward(p, r, mode=mode) for p, r in pairs]),
        "unparsed": sum(parse_counts(p, mode) is None for p in predictions),
        "count": len(pairs),
    }


def jigsaw(predictions: Sequence[Any], references: Sequence[str], mode: Mode = "strict") -> dict[str, Any]:
    """Temporal jigsaw: exact sequence match (the VIUBench metric) and the smooth displacement reward.

    Example:
        >>> jigsaw(["3124", "1234"], ["3124", "3124"])["exact_match"]
        0.5
    """
    from videossr.metrics import score
    from videossr.parsing import parse_order
    from videossr.tasks import get_task

    _check(predictions, references)
    task = get_task("temporal_jigsaw")
    pairs = list(zip(predictions, references))
    return {
        "exact_match": _mean([score("temporal_jigsaw", p, r, mode=mode) for p, r in pairs]),
        "mean_reward": _mean([task.reward(p, r, mode=mode) for p, r in pairs]),
        "unparsed": sum(parse_order(p, len(str(r).strip()), mode) is None for p, r in pairs),
        "count": len(pairs),
    }


def viubench(
    predictions: Sequence[Any],
    references: Sequence[str],
    subtypes: Sequence[str],
    mode: Mode = "strict",
    decimals: int = 1,
) -> dict[str, Any]:
    """VIUBench Table 1 numbers (percentages): the 9 subtype scores, 3 task averages and Overall.

    Returns a flat dict: one key per subtype present (``counting_easy`` ... ``jigsaw_hard``),
    ``counting``, ``grounding``, ``jigsaw`` (means over their subtypes), ``overall`` (plain mean of
    the subtype scores), plus ``counts`` (items per subtype) and ``missing`` (Table 1 subtypes with no
    items; they are left out of the averages).

    Example:
        >>> viubench(["3,1,4", "1-2"], ["3,1,4", "1.0-2.0"], ["counting_easy", "grounding_mirror"])["overall"]
        100.0
    """
    from videossr.metrics import aggregate, score

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
