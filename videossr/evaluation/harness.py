"""Score a model on VIUBench: predictions, resumable per-item records, Table 1 results.

The run writes into its output folder:

* ``run.json``: the settings that change a score (written first; a later run in the same folder must
  match them to resume).
* ``predictions.jsonl``: one line per finished item (id, subtype, answer, reply, score, whether it
  parsed, and what the model was shown), appended and flushed batch by batch, so a crash loses no
  finished item and a re-run skips them.
* ``results.json``: the Table 1 numbers and the full record of the run.
* ``table.md``: Table 1 with the paper's rows and this run's row; ``plot.png``: per-subtype bars.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from videossr.errors import VideoSSRError
from videossr.evaluation.backends import Backend, Prediction, load_backend
from videossr.evaluation.data import BenchItem, Benchmark, load_benchmark
from videossr.evaluation.report import plot_results, table1_markdown
from videossr.metrics import aggregate, score
from videossr.tasks import TASKS, task_for_subtype

PREDICTIONS = "predictions.jsonl"
RUN_FILE = "run.json"
RESULTS = "results.json"
TABLE = "table.md"
PLOT = "plot.png"


class BenchError(VideoSSRError):
    """The benchmark run cannot go on (e.g. resuming with different settings)."""


def package_versions() -> dict[str, str | None]:
    """Versions of everything that can change a score or the speed of a run."""
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in (
        "videossr",
        "torch",
        "transformers",
        "datasets",
        "evaluate",
        "numpy",
        "opencv-python-headless",
        "decord",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("videossr") is None:  # running from a source tree that is not pip-installed
        from videossr import __version__

        versions["videossr"] = __version__
    return versions


def model_slug(spec: str) -> str:
    """A folder-friendly name for a model spec (``hf:/x/Qwen3-VL-8B`` -> ``hf-Qwen3-VL-8B``)."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        rest = rest.rpartition("#")[2]
    tail = rest.rstrip("/").split("/")[-1] if rest else ""
    slug = f"{kind}-{tail}" if tail else kind
    return re.sub(r"[^A-Za-z0-9._-]+", "_", slug)


def is_parsed(item: BenchItem, reply: str, mode: str) -> bool:
    """Whether the task's parser could read a reply at all (an unparsable reply still counts, as 0)."""
    try:
        task = task_for_subtype(item.subtype)
    except ValueError:
        if item.task not in TASKS:
            return False
        task = TASKS[item.task]()
    return task.is_parsed(reply, item.answer, mode)  # type: ignore[arg-type]


def read_predictions(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Finished items of a run by id; a torn last line (a crash mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    path = Path(path)
    if not path.is_file():
        return done
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record:
                done[str(record["id"])] = record
    return done


def _resume_key(
    spec: str, description: dict[str, Any], mode: str, bench_info: dict[str, Any]
) -> dict[str, Any]:
    """The settings a resumed run must share with the run it continues."""
    backend = {k: v for k, v in description.items() if k not in ("device", "attn_implementation")}
    return {
        "model": spec,
        "backend": backend,
        "mode": mode,
        "data": bench_info.get("data"),
        "configs": bench_info.get("configs"),
        "split": bench_info.get("split"),
        "max_pixels": bench_info.get("max_pixels"),
    }


def _inputs_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the model was shown, summarised over items: frame counts, frame sizes, fps range."""
    frames = sorted({n for r in records for n in (r.get("frames") or [])})
    sizes = sorted({tuple(r["size"]) for r in records if r.get("size")})
    fps = [r["fps"] for r in records if r.get("fps")]
    tokens = [r["prompt_tokens"] for r in records if r.get("prompt_tokens")]
    out: dict[str, Any] = {
        "frames_per_clip": frames or None,
        "frame_sizes": [list(s) for s in sizes][:20] or None,
        "max_frame_pixels": max((h * w for h, w in sizes), default=None),
        "fps_range": [round(min(fps), 4), round(max(fps), 4)] if fps else None,
    }
    if tokens:
        out["prompt_tokens"] = {
            "min": min(tokens),
            "mean": round(sum(tokens) / len(tokens), 1),
            "max": max(tokens),
        }
    return out


def run_bench(
    data: str | os.PathLike | Benchmark,
    model: str | Backend,
    out_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    configs: Sequence[str] | None = None,
    split: str | None = None,
    subtypes: Sequence[str] | None = None,
    batch_size: int | None = None,
    mode: str = "strict",
    overwrite: bool = False,
    model_name: str | None = None,
    backend_options: dict[str, Any] | None = None,
    progress: bool = True,
    report: bool = True,
) -> dict[str, Any]:
    """Score a model on a VIUBench-style dataset and write the results.

    Args:
        data: dataset folder, Hub id or Parquet file(s) (see :func:`load_benchmark`), or a loaded
            :class:`Benchmark`.
        model: a model spec (``random``, ``heuristic``, ``hf:PATH``, ``openai:URL#MODEL``) or a backend.
        out_dir: output folder (default ``outputs/bench/<model>``).
        limit: at most this many items per subtype.
        configs: dataset configs to score (all by default).
        split: dataset split (default ``test`` when present).
        subtypes: only these subtypes.
        batch_size: items per generation batch (backend default when ``None``).
        mode: parser mode, ``"strict"`` (the paper's) or ``"lenient"``.
        overwrite: discard earlier predictions in ``out_dir`` instead of resuming.
        model_name: the name of the run's row in tables (default: the model spec).
        backend_options: keyword arguments for :func:`load_backend`.
        progress: show a progress bar.
        report: also write ``table.md`` and ``plot.png``.

    Returns:
        The results dict that is saved as ``results.json``.

    Raises:
        BenchError: when ``out_dir`` holds a run with different settings (and ``overwrite`` is off).
    """
    if mode not in ("strict", "lenient"):
        raise ValueError(f"mode must be 'strict' or 'lenient', got {mode!r}")
    bench = (
        data
        if isinstance(data, Benchmark)
        else load_benchmark(data, configs=configs, split=split, limit=limit, subtypes=subtypes)
    )
    owned = not isinstance(model, Backend)  # close only what this call created
    backend = model if not owned else load_backend(model, **(backend_options or {}))
    spec = model if isinstance(model, str) else backend.name
    out = Path(out_dir) if out_dir is not None else Path("outputs") / "bench" / model_slug(spec)
    out.mkdir(parents=True, exist_ok=True)
    description = backend.describe()
    _start_run(out, _resume_key(spec, description, mode, bench.info), overwrite)

    done = read_predictions(out / PREDICTIONS)
    batch_size = batch_size or backend.default_batch_size
    new, elapsed = _predict_missing(
        backend, bench, done, out / PREDICTIONS, mode, batch_size, spec, progress, owned
    )

    wanted = {item.id for item in bench.items}
    records = [done[i] for i in (item.id for item in bench.items) if i in wanted and i in done]
    results = _results(model_name or spec, spec, mode, records, description, bench, new, elapsed, batch_size)
    _write_results(out, results, report)
    return results


def _start_run(out: Path, key: dict[str, Any], overwrite: bool) -> None:
    """Check that ``out`` holds no run with other settings (unless ``overwrite``, which discards its
    predictions) and write this run's ``run.json``."""
    pred_path, run_path = out / PREDICTIONS, out / RUN_FILE
    if overwrite:
        pred_path.unlink(missing_ok=True)
    elif run_path.is_file() and pred_path.is_file():
        previous = json.loads(run_path.read_text()).get("resume_key")
        if previous is not None and previous != key:
            changed = sorted(k for k in key if key.get(k) != previous.get(k))
            raise BenchError(
                f"{out} holds a run with different settings ({', '.join(changed)}); "
                "use another --out or --overwrite to start over"
            )
    run_path.write_text(
        json.dumps({"resume_key": key, "versions": package_versions()}, indent=2, default=str)
    )


def _predict_missing(
    backend: Backend,
    bench: Benchmark,
    done: dict[str, dict[str, Any]],
    pred_path: Path,
    mode: str,
    batch_size: int,
    spec: str,
    progress: bool,
    owned: bool,
) -> tuple[int, float]:
    """Predict and score the items not in ``done``, appending each batch's records to ``pred_path`` (and
    to ``done``); closes the backend when ``owned``. Returns ``(new items, seconds)``."""
    from tqdm.auto import tqdm

    todo = [item for item in bench.items if item.id not in done]
    start = time.perf_counter()
    new = 0
    bar = tqdm(
        total=len(bench.items),
        initial=len(bench.items) - len(todo),
        desc=f"bench {spec}",
        disable=not progress,
        unit="item",
    )
    try:
        if todo:
            batches = backend.predict(todo, batch_size)
            with pred_path.open("a", encoding="utf-8") as fh:
                for batch in batches:
                    for pred in batch:
                        record = _record(pred, mode, score)
                        done[record["id"]] = record
                        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    # Flushed per batch: a crash loses at most the batch in flight.
                    fh.flush()
                    os.fsync(fh.fileno())
                    new += len(batch)
                    bar.update(len(batch))
    finally:
        bar.close()
        if owned:
            backend.close()
    return new, time.perf_counter() - start


def _results(
    name: str,
    spec: str,
    mode: str,
    records: list[dict[str, Any]],
    description: dict[str, Any],
    bench: Benchmark,
    new: int,
    elapsed: float,
    batch_size: int,
) -> dict[str, Any]:
    """The run's ``results.json``: Table 1 scores and the full record of the run."""
    scores, unparsed = tally(records)
    return {
        "name": name,
        "model": spec,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scores": scores,
        "unparsed": unparsed,
        "num_items": len(records),
        "scoring": {
            "mode": mode,
            "metrics": "VIUBench (docs/method.md §7): grounding mIoU, counting per-shape exact match "
            "averaged over the 3 shapes, jigsaw exact sequence match; task averages over subtypes; "
            "Overall = mean of subtypes",
            "unparsable": "scored 0 and kept in the denominator",
        },
        "backend": description,
        "benchmark": bench.info,
        "inputs": _inputs_summary(records),
        "timing": {
            "new_items": new,
            "resumed_items": len(records) - new,
            "seconds": round(elapsed, 3),
            "items_per_s": round(new / elapsed, 4) if new and elapsed > 0 else None,
            "batch_size": batch_size,
        },
        "versions": package_versions(),
        "files": {"predictions": PREDICTIONS, "table": TABLE, "plot": PLOT},
    }


def _write_results(out: Path, results: dict[str, Any], report: bool) -> None:
    """``results.json``, and with ``report`` the table and the plot (matplotlib being optional)."""
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    if report:
        (out / TABLE).write_text(table1_markdown([results]))
        try:
            plot_results([results], out / PLOT)
        except ImportError:  # matplotlib is optional: the table and JSON are the results
            pass


def prompt_sha1(text: str) -> str:
    """A short hash of the question as the model read it (recorded with every prediction)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def tally(records: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    """Table 1 scores (``videossr.metrics.aggregate``) and unparsable replies per subtype, from records."""
    per_subtype: dict[str, list[float]] = {}
    unparsed: dict[str, int] = {}
    for r in records:
        per_subtype.setdefault(r["subtype"], []).append(float(r["score"]))
        unparsed[r["subtype"]] = unparsed.get(r["subtype"], 0) + (0 if r.get("parsed") else 1)
    return aggregate(per_subtype), unparsed


def _record(pred: Prediction, mode: str, score_fn) -> dict[str, Any]:
    item = pred.item
    reply = pred.reply if isinstance(pred.reply, str) else str(pred.reply)
    return {
        "id": item.id,
        "task": item.task,
        "subtype": item.subtype,
        "answer": item.answer,
        "prediction": reply,
        "score": float(score_fn(item.task, reply, item.answer, mode=mode)),
        "parsed": is_parsed(item, reply, mode),
        # The question as the model read it, by hash: a changed prompt shows up when runs are compared.
        "prompt_sha1": prompt_sha1(item.prompt_text),
        **pred.inputs,
    }
