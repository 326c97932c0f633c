"""``videossr bench --via lmms-eval``: VIUBench scored by lmms-eval's evaluator through this repository's
task folder, with the results saved in ``videossr bench``'s layout.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from videossr.evaluation.backends import Backend, load_backend
from videossr.evaluation.harness import (
    PREDICTIONS,
    RESULTS,
    TABLE,
    _inputs_summary,
    model_slug,
    package_versions,
    tally,
)
from videossr.evaluation.lmms.config import (
    DATA_ENV,
    GROUP,
    LmmsEvalError,
    lmms_eval_version,
    subtask_names,
    subtype_of_task,
    task_folder,
)
from videossr.evaluation.report import table1_markdown
from videossr.metrics import viubench_subtypes


def check_viubench(data: str | os.PathLike, subtypes: Sequence[str] | None = None) -> list[str]:
    """The subtypes to score in ``data``; raise a clear error when it is not VIUBench or lacks some.

    Args:
        data: a folder built by ``videossr build viubench`` or a Hub id.
        subtypes: the subtypes wanted (all of VIUBench's by default: a missing one is an error).
    """
    import datasets

    bench = viubench_subtypes()
    wanted = list(subtypes) if subtypes else list(bench)
    unknown = [s for s in wanted if s not in bench]
    if unknown:
        raise LmmsEvalError(f"unknown VIUBench subtypes {unknown}; the {len(bench)} are {list(bench)}")
    try:
        configs = datasets.get_dataset_config_names(str(data))
    except Exception as err:  # noqa: BLE001 - datasets raises many kinds; all mean "cannot open"
        raise LmmsEvalError(f"cannot open {data} as a dataset: {str(err).splitlines()[0][:200]}") from err
    if not set(configs) & set(bench):
        raise LmmsEvalError(
            f"{data} is not VIUBench: its configs {configs} include none of the {len(bench)} subtypes "
            f"{list(bench)} (build one with `videossr build viubench`)"
        )
    missing = [s for s in wanted if s not in configs]
    if missing:
        raise LmmsEvalError(
            f"{data} has no config for subtype(s) {missing}: Overall needs all of them; "
            "pass --subtypes to score the others alone"
        )
    return wanted


def _task_names(subtypes: Sequence[str]) -> list[str]:
    if list(subtypes) == list(viubench_subtypes()):
        return [GROUP]
    return subtask_names(subtypes)


def _records(
    samples: dict[str, list[dict[str, Any]]], inputs: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    records = []
    order = viubench_subtypes()
    for task in sorted(samples, key=lambda t: order.index(subtype_of_task(t))):
        for sample in sorted(samples[task], key=lambda s: s["doc_id"]):
            record = dict(sample["score"])
            record.update(inputs.get(record["id"], {}))
            records.append(record)
    return records


def run_lmms_bench(
    data: str | os.PathLike,
    model: str | Any,
    out_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    subtypes: Sequence[str] | None = None,
    batch_size: int | None = None,
    model_name: str | None = None,
    backend_options: dict[str, Any] | None = None,
    lmms_model_args: str | None = None,
    include_path: str | os.PathLike | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Score a model on VIUBench through lmms-eval's evaluator and this repository's task folder.

    Args:
        data: a VIUBench folder or Hub id (exported to the task as ``$VIUBENCH_DATA``).
        model: a ``videossr bench`` model spec (``hf:PATH``, ``openai:URL#MODEL``, ``random``,
            ``heuristic``) wrapped as an lmms-eval model, a videossr ``Backend``, or
            ``lmms-eval:NAME`` for one of lmms-eval's own model wrappers (with ``lmms_model_args``).
        out_dir: output folder (default ``outputs/bench/<model>-lmms``).
        limit: at most this many items per subtype (lmms-eval's ``--limit``).
        subtypes: only these subtypes (default all 9).
        batch_size: items per generation batch.
        model_name: row name in tables.
        backend_options: keyword arguments for :func:`~videossr.evaluation.backends.load_backend`.
        lmms_model_args: lmms-eval ``--model_args`` string for an ``lmms-eval:NAME`` model.
        include_path: the folder holding ``viubench/`` (default: this checkout's ``hub/lmms_eval``).
        report: also write ``table.md``.

    Returns:
        The results dict saved as ``results.json``, in ``videossr bench``'s layout, plus
        ``lmms_eval`` (the version and lmms-eval's own numbers for every task and group).
    """
    version = lmms_eval_version()
    wanted = check_viubench(data, subtypes)
    tasks = _task_names(wanted)
    folder = Path(include_path) if include_path is not None else task_folder()
    os.environ[DATA_ENV] = str(data)

    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    spec = model if isinstance(model, str) else model.name
    lm, wrapper, owned, description = _lmms_model(model, backend_options, batch_size, lmms_model_args)
    out = Path(out_dir) if out_dir is not None else Path("outputs") / "bench" / f"{model_slug(spec)}-lmms"
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    try:
        evaluated = simple_evaluate(
            model=lm,
            model_args=lmms_model_args if isinstance(lm, str) else None,
            tasks=tasks,
            batch_size=batch_size,
            limit=limit,
            log_samples=True,
            task_manager=TaskManager(include_path=str(folder)),
            verbosity="ERROR",
        )
    finally:
        if owned and wrapper is not None:
            wrapper.backend.close()
    elapsed = time.perf_counter() - start
    if not evaluated:  # a non-zero rank of a distributed run
        return {}

    records = _records(evaluated["samples"], wrapper.inputs if wrapper is not None else {})
    results = _results(
        evaluated,
        records,
        model_name or spec,
        spec,
        description,
        {"data": str(data), "configs": wanted, "split": "test", "limit": limit},
        {"version": version, "tasks": tasks, "include_path": str(folder)},
        elapsed,
    )
    with (out / PREDICTIONS).open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    if report:
        (out / TABLE).write_text(table1_markdown([results]))
    return results


def _lmms_model(
    model: str | Any,
    backend_options: dict[str, Any] | None,
    batch_size: int | None,
    lmms_model_args: str | None,
) -> tuple[Any, Any, bool, dict[str, Any]]:
    """``(the model lmms-eval runs, the videossr wrapper or None, whether this run owns the backend,
    the backend's description)``: one of lmms-eval's own models (``lmms-eval:NAME``), or a videossr
    backend wrapped as an lmms-eval model."""
    if isinstance(model, str) and model.startswith("lmms-eval:"):
        lm: Any = model.partition(":")[2]
        return lm, None, False, {"backend": "lmms-eval", "model": lm, "model_args": lmms_model_args}
    backend = model if isinstance(model, Backend) else load_backend(model, **(backend_options or {}))
    owned = not isinstance(model, Backend)
    from videossr.evaluation.lmms.model import lmms_model  # imports lmms-eval (optional)

    wrapper = lmms_model(backend, batch_size)
    return wrapper, wrapper, owned, backend.describe()


def _results(
    evaluated: dict[str, Any],
    records: list[dict[str, Any]],
    name: str,
    spec: str,
    description: dict[str, Any],
    benchmark: dict[str, Any],
    lmms: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    """The run's ``results.json``, in ``videossr bench``'s layout plus lmms-eval's own numbers."""
    scores, unparsed = tally(records)
    lmms_numbers = {
        task: {
            k.partition(",")[0]: v for k, v in values.items() if k.endswith(",none") and "_stderr" not in k
        }
        for task, values in evaluated["results"].items()
    }
    return {
        "name": name,
        "model": spec,
        "via": "lmms-eval",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scores": scores,
        "unparsed": unparsed,
        "num_items": len(records),
        "scoring": {
            "mode": "strict",
            "metrics": "VIUBench (docs/method.md §7) through lmms-eval: the task folder's process_results "
            "calls videossr.metrics.score; Overall = mean of the unrounded subtype scores",
            "unparsable": "scored 0 and kept in the denominator",
        },
        "backend": description,
        "benchmark": benchmark,
        "inputs": _inputs_summary(records),
        "lmms_eval": {
            "version": lmms["version"],
            "tasks": lmms["tasks"],
            "results": lmms_numbers,
            "include_path": lmms["include_path"],
        },
        "timing": {
            "new_items": len(records),
            "seconds": round(elapsed, 3),
            "items_per_s": round(len(records) / elapsed, 4) if elapsed > 0 and records else None,
        },
        "versions": {**package_versions(), "lmms-eval": lmms["version"]},
        "files": {"predictions": PREDICTIONS, "table": TABLE},
    }
