"""VIUBench results as Hub-native evaluation results: the ``model-index`` block of a model card.

The Hub renders a model card's ``model-index`` metadata as an evaluation-results widget and links each
entry to its dataset. One VIUBench run becomes one entry per subtype (``dataset.config`` names the
subtype, ``metric.type`` is its task's ``metric_type``; the paper's 9, and any a registered task adds) and
Overall (the plain mean of the subtypes:
``metric.type`` ``viubench_overall``, no config), each a percentage with one decimal as in Table 1. The
helpers go through :mod:`huggingface_hub` (``ModelCard`` / ``EvalResult``), so what is written is what
the Hub parses: ``ModelCard.load(path).data.eval_results``. A run that also scored a registered task
outside the benchmark
gets one more entry per subtype of it, named by that task's own metric; Overall stays VIUBench's.

Example:
    >>> from videossr.evaluation.model_index import write_model_index  # doctest: +SKIP
    >>> write_model_index("outputs/grpo/README.md", "outputs/bench/tiny/results.json",
    ...                   dataset_id="org/VIUBench")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from videossr.errors import VideoSSRError
from videossr.evaluation.report import load_results
from videossr.metrics import task_groups, viubench_subtypes
from videossr.tasks import task_class, task_name_of_subtype

#: ``dataset.name`` of every VIUBench entry; entries with this name are replaced on rewrite.
DATASET_NAME = "VIUBench"
#: ``dataset.type`` when the run's data is not a Hub id (a local folder): the benchmark's name.
DEFAULT_DATASET_TYPE = "viubench"
TASK_TYPE = "video-text-to-text"
TASK_NAME = "Video intrinsic understanding"
#: ``metric.type`` of the Overall entry (a dataset-level entry: no ``dataset.config``).
OVERALL_METRIC = "viubench_overall"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelIndexError(VideoSSRError):
    """Results or a model card that cannot carry (or do not carry) VIUBench model-index entries."""


def _scores(results: Mapping[str, Any] | str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(scores, run)`` from a results dict, a ``results.json`` path / run folder, or a bare aggregate."""
    if isinstance(results, (str, os.PathLike)):
        results = load_results(results)
    run = dict(results)
    scores = run.get("scores", run)
    if not isinstance(scores, Mapping) or not isinstance(scores.get("subtypes"), Mapping):
        raise ModelIndexError(
            "not VIUBench results: expected `scores.subtypes` (a results.json of `videossr bench`)"
        )
    return dict(scores), run


def _task_of(subtype: str) -> str | None:
    try:
        return task_name_of_subtype(subtype)
    except ValueError:
        return None


def _check(scores: Mapping[str, Any]) -> dict[str, float]:
    """The subtype scores to publish: every VIUBench subtype (all required), then the subtypes of other
    registered tasks the run scored (a task outside the benchmark gets its entries too)."""
    bench = viubench_subtypes()
    subtypes = {k: v for k, v in scores["subtypes"].items() if v is not None}
    foreign = sorted(s for s in subtypes if s not in bench and _task_of(s) is None)
    if foreign:
        raise ModelIndexError(f"not VIUBench results: subtypes {foreign} are not among {list(bench)}")
    missing = [s for s in bench if s not in subtypes]
    if missing:
        raise ModelIndexError(
            f"VIUBench results lack subtype(s) {missing}: the model-index needs all {len(bench)} "
            "(and Overall)"
        )
    if scores.get("overall") is None:
        raise ModelIndexError("VIUBench results have no Overall score")
    others = sorted(s for s in subtypes if s not in bench)
    return {s: float(subtypes[s]) for s in (*bench, *others)}


def dataset_type_of(data: str | None) -> str:
    """The Hub ``dataset.type`` for a run's data: the Hub id, or ``viubench`` for a local folder."""
    if data and _HUB_ID.match(str(data)) and not Path(str(data)).exists():
        return str(data)
    return DEFAULT_DATASET_TYPE


def eval_results(
    results: Mapping[str, Any] | str | os.PathLike,
    dataset_id: str | None = None,
    dataset_revision: str | None = None,
    source_name: str | None = None,
    source_url: str | None = None,
) -> list[Any]:
    """The ``huggingface_hub.EvalResult`` entries (one per subtype, then Overall) of a VIUBench run.

    Args:
        results: a ``videossr bench`` results dict or ``results.json`` path, or the bare
            ``videossr.metrics.aggregate`` dict the GRPO recipe saves as ``viubench.json``.
        dataset_id: the Hub id of the VIUBench scored (default: the run's ``--data`` when it is a Hub
            id, else ``viubench``).
        dataset_revision: the dataset commit, when known.
        source_name, source_url: where the numbers come from (shown by the Hub; the name needs the URL).

    Raises:
        ModelIndexError: the results are not VIUBench's, or a subtype or Overall is missing.
    """
    from huggingface_hub import EvalResult

    scores, run = _scores(results)
    subtypes = _check(scores)
    dataset_type = dataset_id or dataset_type_of((run.get("benchmark") or {}).get("data"))
    split = (run.get("benchmark") or {}).get("split") or "test"
    common = {
        "task_type": TASK_TYPE,
        "task_name": TASK_NAME,
        "dataset_type": dataset_type,
        "dataset_name": DATASET_NAME,
        "dataset_split": split,
        "dataset_revision": dataset_revision,
        # The Hub accepts a source name only with its URL.
        "source_name": source_name if source_url else None,
        "source_url": source_url,
    }
    entries = []
    for subtype, value in subtypes.items():
        # Each task names its own metric (``metric_type``: the Hub's id; ``metric_name``: in words).
        cls = task_class(task_name_of_subtype(subtype))
        metric_type, metric_name = cls.metric_type, cls.metric_name
        entries.append(
            EvalResult(
                **common,
                dataset_config=subtype,
                metric_type=metric_type,
                metric_name=f"{subtype} ({metric_name}, %)",
                metric_value=value,
            )
        )
    entries.append(
        EvalResult(
            **common,
            metric_type=OVERALL_METRIC,
            metric_name=f"Overall (mean of the {len(viubench_subtypes())} subtypes, %)",
            metric_value=float(scores["overall"]),
        )
    )
    return entries


def _card_path(card: str | os.PathLike) -> Path:
    path = Path(card)
    return path / "README.md" if path.is_dir() else path


def _load_card(path: Path) -> Any:
    from huggingface_hub import ModelCard

    if not path.is_file():
        raise ModelIndexError(f"no model card at {path}")
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("---"):
        raise ModelIndexError(
            f"{path} has no metadata block (YAML between '---' lines at the top): the Hub would not read a "
            "model-index from it; write the card with huggingface_hub.ModelCard or add the block"
        )
    try:
        return ModelCard.load(path)
    except ValueError as err:  # invalid YAML or an unparsable model-index already there
        raise ModelIndexError(f"cannot read the metadata of {path}: {err}") from err


def write_model_index(
    card: str | os.PathLike,
    results: Mapping[str, Any] | str | os.PathLike,
    model_name: str | None = None,
    dataset_id: str | None = None,
    dataset_revision: str | None = None,
    source_name: str | None = None,
    source_url: str | None = None,
) -> Path:
    """Put a VIUBench run into a model card's ``model-index`` (earlier VIUBench entries are replaced).

    Args:
        card: the card (``README.md``) or the folder holding it; it must have a metadata block.
        results: see :func:`eval_results`.
        model_name: the model-index name (default: the card's, else the run's ``--name`` unless it is a
            model spec, else the card's folder name).
        dataset_id, dataset_revision, source_name, source_url: see :func:`eval_results`.

    Returns:
        The card's path.

    Raises:
        ModelIndexError: no card, a card without metadata, or results that are not complete VIUBench ones.
    """
    path = _card_path(card)
    model_card = _load_card(path)
    _, run = _scores(results)  # read once (results may be a path)
    entries = eval_results(run, dataset_id, dataset_revision, source_name, source_url)
    kept = [e for e in (model_card.data.eval_results or []) if e.dataset_name != DATASET_NAME]
    model_card.data.eval_results = kept + entries
    run_name = str(run.get("name") or "")
    if ":" in run_name or "/" in run_name:  # a model spec such as hf:/ckpt/path is no model name
        run_name = ""
    model_card.data.model_name = (
        model_name or model_card.data.model_name or run_name or path.parent.resolve().name
    )
    model_card.save(path)
    return path


def read_model_index(card: str | os.PathLike) -> dict[str, Any]:
    """The VIUBench scores in a model card, as ``{"name", "scores": {"subtypes", "tasks", "overall"}}``.

    The card stores the subtypes and Overall only; the task averages are recomputed from the rounded
    subtype entries (so they may differ from the run's own by 0.1). The result can go next to
    ``results.json`` files in ``videossr compare``.

    Raises:
        ModelIndexError: no card, no metadata, or no VIUBench entries.
    """
    path = _card_path(card)
    model_card = _load_card(path)
    entries = [e for e in (model_card.data.eval_results or []) if e.dataset_name == DATASET_NAME]
    if not entries:
        raise ModelIndexError(f"{path} has no VIUBench entries in its model-index")
    bench = viubench_subtypes()
    # Entries of VIUBench subtypes and of any other registered task's subtypes (see ``_check``).
    subtypes = {
        e.dataset_config: float(e.metric_value)
        for e in entries
        if e.dataset_config and (e.dataset_config in bench or _task_of(e.dataset_config) is not None)
    }
    overall = next((float(e.metric_value) for e in entries if e.metric_type == OVERALL_METRIC), None)
    tasks = {}
    for group, names in task_groups().items():
        values = [subtypes[s] for s in names if s in subtypes]
        tasks[group] = round(sum(values) / len(values), 1) if len(values) == len(names) else None
    return {
        "name": model_card.data.model_name or path.parent.name,
        "model": str(path),
        "scores": {
            "subtypes": {
                s: subtypes[s] for s in (*bench, *sorted(set(subtypes) - set(bench))) if s in subtypes
            },
            "tasks": tasks,
            "overall": overall,
            "counts": {},
            "missing": [s for s in bench if s not in subtypes],
        },
        "source": "model card",
        "dataset": entries[0].dataset_type,
    }


def model_index_yaml(card: str | os.PathLike) -> str:
    """The card's metadata block as the Hub reads it (for reports and docs)."""
    return _load_card(_card_path(card)).data.to_yaml()


__all__ = [
    "DATASET_NAME",
    "ModelIndexError",
    "dataset_type_of",
    "eval_results",
    "model_index_yaml",
    "read_model_index",
    "write_model_index",
]
