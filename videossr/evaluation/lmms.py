"""VIUBench inside lmms-eval: the functions behind ``hub/lmms_eval/viubench/`` and ``videossr bench --via lmms-eval``.

lmms-eval (https://github.com/EvolvingLMMs-Lab/lmms-eval) describes a benchmark as task YAML files whose
hooks (``doc_to_visual``, ``doc_to_text``, ``doc_to_messages``, ``process_results``, aggregations) are
Python functions. The task folder in this repository only points its hooks at this module, so the
prompt, the parsing and the scoring are the package's own and never copied.

What a model sees through lmms-eval:

* **Chat models** (``is_simple = False``, e.g. ``qwen3_vl_chat``) get :func:`doc_to_messages`: the
  prompt exactly as this project stores it (every turn), text parts and clips interleaved in order
  (jigsaw's "Clip 1: <clip> Clip 2: <clip> ...").
* **Simple models** (e.g. ``qwen3_vl``) get :func:`doc_to_visual` (the clips) and :func:`doc_to_text`
  (the question text); they place every clip before the text.
* A clip is handed over as a video *file*, the form lmms-eval's video models read. The file is written
  once, losslessly (FFV1 in AVI, an extension every lmms-eval video wrapper accepts), so the decoded
  frames are bit-identical to the dataset's; its
  container frame rate is the row's fps rounded by OpenCV's writer (within 0.001 fps). How many frames
  and pixels a wrapper then feeds its model is the wrapper's choice (see ``docs/evaluation.md``).

The per-subtype metric is ``score`` (percent, one decimal, :func:`videossr.metrics.aggregate`); the
``viubench`` group's ``score`` is the plain mean of the 9 subtypes, computed from the unrounded subtype
scores exactly as ``videossr bench`` computes Overall.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from videossr.errors import VideoSSRError
from videossr.metrics import TASK_GROUPS, VIUBENCH_SUBTYPES

#: lmms-eval releases the task folder is written and tested against (``>=`` first, ``<`` second).
SUPPORTED_LMMS_EVAL = ("0.7", "0.8")
#: The name of the group task and the prefix of the per-subtype tasks.
GROUP = "viubench"
TASK_PREFIX = "viubench_"
#: Environment variable naming the VIUBench to read (a local folder or a Hub id).
DATA_ENV = "VIUBENCH_DATA"
DEFAULT_DATA = "demo_out/data/viubench"
#: Environment variable naming the folder where the clips are written as video files.
CACHE_ENV = "VIUBENCH_VIDEO_CACHE"
#: Columns a VIUBench row must have (this project's layout, see :mod:`videossr.rows`).
REQUIRED_COLUMNS = ("id", "prompt", "videos", "fps", "answer", "task", "subtype")


class LmmsEvalError(VideoSSRError):
    """lmms-eval is missing or unsupported, or its input is not VIUBench."""


# ---------------------------------------------------------------------------------------------- setup
def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def lmms_eval_version(check: bool = True) -> str:
    """The installed lmms-eval version; with ``check``, raise unless it is one this task folder supports.

    Raises:
        LmmsEvalError: lmms-eval is not installed, or its version is outside ``SUPPORTED_LMMS_EVAL``.
    """
    from importlib import metadata

    try:
        version = metadata.version("lmms-eval")
    except metadata.PackageNotFoundError:
        raise LmmsEvalError(
            "lmms-eval is not installed: pip install 'videossr[lmms]' (see docs/evaluation.md)"
        ) from None
    low, high = SUPPORTED_LMMS_EVAL
    if check and not (_version_tuple(low) <= _version_tuple(version) < _version_tuple(high)):
        raise LmmsEvalError(
            f"lmms-eval {version} is not supported: the VIUBench task folder needs lmms-eval>={low},<{high}"
        )
    if check and _version_tuple(version) >= (0, 7, 1):
        import importlib.util

        # lmms-eval 0.7.1-0.7.3 patch filelock's 3.x internals at the start of every evaluation.
        if importlib.util.find_spec("filelock") is not None and importlib.util.find_spec("filelock._api") is None:
            raise LmmsEvalError(
                f"lmms-eval {version} needs filelock<4 (its evaluator imports filelock._api, gone in filelock 4); "
                "install lmms-eval==0.7 (the `lmms` extra) or filelock<4"
            )
    return version


def task_folder() -> Path:
    """The ``hub/lmms_eval`` folder of a source checkout (lmms-eval's ``--include_path``)."""
    folder = Path(__file__).resolve().parents[2] / "hub" / "lmms_eval"
    if not (folder / GROUP / f"{GROUP}.yaml").is_file():
        raise LmmsEvalError(
            f"the lmms-eval task folder is not at {folder}: run from a source checkout of videossr "
            "or pass the folder holding viubench/ explicitly"
        )
    return folder


def dataset_path() -> str:
    """The VIUBench the task YAML reads: ``$VIUBENCH_DATA`` (folder or Hub id), else the demo's folder."""
    return os.environ.get(DATA_ENV, "").strip() or DEFAULT_DATA


def subtype_of_task(task_name: str) -> str:
    """``viubench_grounding_mirror`` -> ``grounding_mirror``."""
    return task_name[len(TASK_PREFIX) :] if task_name.startswith(TASK_PREFIX) else task_name


# ---------------------------------------------------------------------------------------------- docs
def check_docs(dataset: Any) -> Any:
    """lmms-eval ``process_docs``: refuse rows that are not this project's VIUBench rows (clear error)."""
    columns = set(getattr(dataset, "column_names", None) or [])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise LmmsEvalError(
            f"not a VIUBench built by `videossr build viubench`: columns {sorted(columns)} lack {missing}"
        )
    unknown = sorted(set(dataset["subtype"]) - set(VIUBENCH_SUBTYPES))
    if unknown:
        raise LmmsEvalError(f"not VIUBench: subtypes {unknown} are not among {list(VIUBENCH_SUBTYPES)}")
    return dataset


def _clip_frames(clip: Any) -> np.ndarray:
    from videossr.rows import decode_frame

    if isinstance(clip, np.ndarray) and clip.ndim == 4:
        return clip.astype(np.uint8, copy=False)
    return np.stack([decode_frame(f) for f in clip])


def cache_dir() -> Path:
    """Where the clips are written as video files (``$VIUBENCH_VIDEO_CACHE``, else ``~/.cache/videossr``)."""
    root = os.environ.get(CACHE_ENV, "").strip()
    return Path(root) if root else Path.home() / ".cache" / "videossr" / "lmms_eval_clips"


def write_clip(frames: np.ndarray, fps: float, path: str | os.PathLike) -> Path:
    """Write ``(T, H, W, 3)`` RGB frames losslessly (FFV1 in AVI) at ``fps``.

    FFV1 keeps every pixel: decord and OpenCV read back exactly the frames written. It needs no
    ffmpeg binary (OpenCV's bundled FFmpeg writes it).
    """
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    _, h, w, _ = frames.shape
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"FFV1"), float(fps), (w, h))
    if not writer.isOpened():
        raise LmmsEvalError(f"OpenCV cannot write FFV1 video to {tmp}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, path)  # a reader never sees a half-written file
    return path


def read_clip(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video file as ``(T, H, W, 3)`` RGB uint8 (OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise LmmsEvalError(f"no frames could be read from {path}")
    return np.stack(frames)


def clip_paths(doc: dict[str, Any]) -> list[str]:
    """The clips of a VIUBench row as lossless video files (written once, named by their content)."""
    fps = float(doc["fps"])
    safe_id = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(doc["id"]))
    folder = cache_dir()
    out = []
    for k, clip in enumerate(doc["videos"]):
        frames = _clip_frames(clip)
        digest = hashlib.sha1(frames.tobytes())
        digest.update(repr((frames.shape, fps)).encode())
        path = folder / f"{safe_id}-{k}-{digest.hexdigest()[:12]}.avi"
        if not path.is_file():
            write_clip(frames, fps, path)
        out.append(str(path))
    return out


def _messages(doc: dict[str, Any]) -> list[tuple[str, list[str | int]]]:
    """The stored prompt as ``(role, parts)`` per message: text chunks and clip indices, in order."""
    out: list[tuple[str, list[str | int]]] = []
    k = 0
    for message in doc["prompt"]:
        content = message.get("content")
        parts: list[str | int] = []
        for item in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            if item.get("type") == "video":
                parts.append(k)
                k += 1
            elif item.get("text") is not None:
                parts.append(item["text"])
        out.append((str(message.get("role", "user")), parts))
    return out


def doc_to_visual(doc: dict[str, Any]) -> list[str]:
    """lmms-eval ``doc_to_visual``: the row's clips as video file paths, in prompt order."""
    return clip_paths(doc)


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """lmms-eval ``doc_to_text``: the question with the clips left out (simple models put them first).

    A stored system turn (simple models have no channel for one) comes first, on its own line.
    ``lmms_eval_specific_kwargs`` may set ``pre_prompt``, ``post_prompt`` (both empty by default: the
    paper asks the question as stored) and ``video_marker``, text put where each clip was.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    marker = kwargs.get("video_marker", "")
    turns = ["".join(p if isinstance(p, str) else marker for p in parts) for _, parts in _messages(doc)]
    text = "\n".join(t for t in turns if t)
    return f"{kwargs.get('pre_prompt', '')}{text}{kwargs.get('post_prompt', '')}"


def doc_to_messages(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """lmms-eval ``doc_to_messages``: the prompt as stored (every turn), text and clips (video files) interleaved.

    ``pre_prompt`` / ``post_prompt`` from ``lmms_eval_specific_kwargs`` go around the user turn.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    paths = clip_paths(doc)
    messages = []
    for role, parts in _messages(doc):
        content: list[dict[str, Any]] = []
        if role == "user" and kwargs.get("pre_prompt"):
            content.append({"type": "text", "text": kwargs["pre_prompt"]})
        for part in parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            else:
                content.append({"type": "video", "url": paths[part]})
        if role == "user" and kwargs.get("post_prompt"):
            content.append({"type": "text", "text": kwargs["post_prompt"]})
        messages.append({"role": role, "content": content})
    return messages


def doc_to_target(doc: dict[str, Any]) -> str:
    """lmms-eval ``doc_to_target``: the ground truth in the answer format of docs/method.md."""
    return str(doc["answer"])


def _reply_text(result: Any) -> str:
    if isinstance(result, (list, tuple)):
        result = result[0] if result else ""
    text = getattr(result, "text", result)  # lmms-eval's GenerationResult or a plain string
    return text if isinstance(text, str) else str(text)


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """lmms-eval ``process_results``: one reply scored with the VIUBench metric (strict parser).

    Every metric gets the same per-item record; the aggregations below read the fields they need.
    """
    from videossr.evaluation.data import BenchItem
    from videossr.evaluation.harness import is_parsed
    from videossr.metrics import score

    reply = _reply_text(results[0] if results else "")
    subtype = str(doc["subtype"])
    item = BenchItem(
        id=str(doc["id"]), task=str(doc["task"]), subtype=subtype, answer=str(doc["answer"]),
        fps=float(doc["fps"]), num_videos=len(doc["videos"]), prompt_text="",
    )  # fmt: skip
    record = {
        "id": item.id,
        "subtype": subtype,
        "answer": item.answer,
        "prediction": reply,
        "score": float(score(item.task, reply, item.answer, mode="strict")),
        "parsed": is_parsed(item, reply, "strict"),
    }
    return {"score": record, "unparsed": record}


# ---------------------------------------------------------------------------------------------- aggregation
class SubtypeScore(float):
    """A Table 1 cell (percent, rounded) that remembers its unrounded fraction and its subtype.

    lmms-eval shows and saves it as a plain number; the group aggregation reads ``fraction`` so that
    Overall is the mean of the unrounded subtype scores, as in ``videossr bench``.
    """

    fraction: float
    subtype: str

    def __new__(cls, value: float, fraction: float, subtype: str) -> SubtypeScore:
        obj = super().__new__(cls, value)
        obj.fraction = float(fraction)
        obj.subtype = subtype
        return obj

    def __reduce__(self):  # pickling (lmms-eval gathers results across processes) keeps the fields
        return (SubtypeScore, (float(self), self.fraction, self.subtype))


def aggregate_score(items: Iterable[dict[str, Any]]) -> float:
    """lmms-eval aggregation of one subtype: its VIUBench score in percent with one decimal."""
    from videossr.metrics import aggregate

    items = list(items)
    per_subtype: dict[str, list[float]] = {}
    for item in items:
        per_subtype.setdefault(item["subtype"], []).append(float(item["score"]))
    if len(per_subtype) != 1:
        raise LmmsEvalError(f"a VIUBench subtask must hold one subtype, got {sorted(per_subtype)}")
    (subtype, scores), = per_subtype.items()
    table = aggregate(per_subtype)
    return SubtypeScore(table["subtypes"][subtype], sum(scores) / len(scores), subtype)


def aggregate_unparsed(items: Iterable[dict[str, Any]]) -> int:
    """lmms-eval aggregation: replies the strict parser could not read (they score 0 and still count)."""
    return int(sum(0 if item.get("parsed") else 1 for item in items))


def aggregate_group(metrics: Sequence[float], sizes: Sequence[int], weight_by_size: bool = False) -> float:
    """lmms-eval group aggregation: the plain mean of the subtype scores (never weighted by size).

    With the subtypes' unrounded fractions at hand (the normal case) the result is exactly
    ``videossr bench``'s Overall (or task average); scores read back from a saved file carry only
    the rounded value, and the mean of those is returned instead.
    """
    from videossr.metrics import aggregate

    if metrics and all(isinstance(m, SubtypeScore) for m in metrics):
        table = aggregate({m.subtype: [m.fraction] for m in metrics})  # type: ignore[union-attr]
        return float(table["overall"])
    return round(sum(float(m) for m in metrics) / len(metrics), 1) if metrics else float("nan")


# ---------------------------------------------------------------------------------------------- task files
def subtask_names(subtypes: Sequence[str] = VIUBENCH_SUBTYPES) -> list[str]:
    return [f"{TASK_PREFIX}{s}" for s in subtypes]


def group_names() -> dict[str, list[str]]:
    """The groups of the task folder: ``viubench_counting`` ... and ``viubench`` (all 9 subtypes)."""
    groups = {f"{TASK_PREFIX}{g}": subtask_names(subs) for g, subs in TASK_GROUPS.items()}
    return {**groups, GROUP: list(groups)}


# ---------------------------------------------------------------------------------------------- model
@functools.cache
def _model_class():
    """The lmms-eval model class wrapping a videossr backend (built on first use: lmms-eval is optional)."""
    from lmms_eval.api.model import lmms

    class VideoSSRModel(lmms):
        """Any ``videossr bench`` backend (``hf:``, ``openai:``, ``random``, ``heuristic``) as an lmms-eval chat model.

        It reads what the task hands a chat model, ``doc_to_messages``: the text parts and the clip
        files, which it decodes back into frames. The row's fps (which a video container can only
        approximate) and its id, subtype and source come from the document. All requests go to the
        backend in one call, so it batches them exactly as ``videossr bench`` does.
        """

        is_simple = False

        def __init__(self, backend: Any, batch_size: int | None = None):
            super().__init__()
            self.backend = backend
            self.batch_size_per_gpu = int(batch_size or backend.default_batch_size)
            self.inputs: dict[str, dict[str, Any]] = {}  # what the model saw, by item id

        def _item(self, messages: list[dict[str, Any]], doc: dict[str, Any]):
            from videossr.evaluation.data import item_from_row

            prompt: list[dict[str, Any]] = []
            clips: list[np.ndarray] = []
            for message in messages:  # every turn as the task gave it; clips decoded from their files
                content: list[dict[str, Any]] = []
                for part in message["content"]:
                    if part.get("type") == "video":
                        clips.append(read_clip(part["url"]))
                        content.append({"type": "video", "text": None})
                    elif part.get("type") == "text":
                        content.append({"type": "text", "text": part["text"]})
                prompt.append({"role": message["role"], "content": content})
            row = {**doc, "prompt": prompt, "videos": clips}
            return item_from_row(row, str(doc["subtype"]), lambda: row)

        def generate_until(self, requests: list[Any]) -> list[str]:
            from videossr.evaluation.harness import prompt_sha1

            items = []
            for request in requests:
                _, doc_to_messages_fn, _, doc_id, task, split = request.args
                doc = self.task_dict[task][split][doc_id]
                items.append(self._item(doc_to_messages_fn(doc), doc))
            replies: dict[str, str] = {}
            for batch in self.backend.predict(items, self.batch_size_per_gpu):
                for pred in batch:
                    replies[pred.item.id] = pred.reply if isinstance(pred.reply, str) else str(pred.reply)
                    record = dict(pred.inputs)
                    # The question as the model read it, by hash (as in ``videossr bench``'s records).
                    record["prompt_sha1"] = prompt_sha1(pred.item.prompt_text)
                    self.inputs[pred.item.id] = record
            return [replies[item.id] for item in items]

        # lmms-eval's base class declares these two abstract, so the class must define them. Every
        # VIUBench task is `output_type: generate_until`, so lmms-eval never calls them; a task folder
        # that asked for them would get this error instead of a silent wrong score.
        def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
            raise NotImplementedError("VIUBench tasks are single-turn: output_type is generate_until")

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            raise NotImplementedError("VIUBench tasks score generated replies, not log-likelihoods")

    return VideoSSRModel


def lmms_model(backend: Any, batch_size: int | None = None) -> Any:
    """Wrap a videossr :class:`~videossr.evaluation.backends.Backend` as an lmms-eval model instance."""
    return _model_class()(backend, batch_size=batch_size)


# ---------------------------------------------------------------------------------------------- run
def check_viubench(data: str | os.PathLike, subtypes: Sequence[str] | None = None) -> list[str]:
    """The subtypes to score in ``data``; raise a clear error when it is not VIUBench or lacks some.

    Args:
        data: a folder built by ``videossr build viubench`` or a Hub id.
        subtypes: the subtypes wanted (all 9 by default: a missing one is an error).
    """
    import datasets

    wanted = list(subtypes) if subtypes else list(VIUBENCH_SUBTYPES)
    unknown = [s for s in wanted if s not in VIUBENCH_SUBTYPES]
    if unknown:
        raise LmmsEvalError(f"unknown VIUBench subtypes {unknown}; the 9 are {list(VIUBENCH_SUBTYPES)}")
    try:
        configs = datasets.get_dataset_config_names(str(data))
    except Exception as err:  # noqa: BLE001 - datasets raises many kinds; all mean "cannot open"
        raise LmmsEvalError(f"cannot open {data} as a dataset: {str(err).splitlines()[0][:200]}") from err
    if not set(configs) & set(VIUBENCH_SUBTYPES):
        raise LmmsEvalError(
            f"{data} is not VIUBench: its configs {configs} include none of the 9 subtypes "
            f"{list(VIUBENCH_SUBTYPES)} (build one with `videossr build viubench`)"
        )
    missing = [s for s in wanted if s not in configs]
    if missing:
        raise LmmsEvalError(
            f"{data} has no config for subtype(s) {missing}: Overall needs all 9; "
            "pass --subtypes to score the others alone"
        )
    return wanted


def _task_names(subtypes: Sequence[str]) -> list[str]:
    if list(subtypes) == list(VIUBENCH_SUBTYPES):
        return [GROUP]
    return subtask_names(subtypes)


def _records(samples: dict[str, list[dict[str, Any]]], inputs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    for task in sorted(samples, key=lambda t: VIUBENCH_SUBTYPES.index(subtype_of_task(t))):
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

    version = lmms_eval_version()
    wanted = check_viubench(data, subtypes)
    tasks = _task_names(wanted)
    folder = Path(include_path) if include_path is not None else task_folder()
    os.environ[DATA_ENV] = str(data)

    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    spec = model if isinstance(model, str) else getattr(model, "name", "backend")
    owned = False
    wrapper = None
    if isinstance(model, str) and model.startswith("lmms-eval:"):
        lm: Any = model.partition(":")[2]
        description: dict[str, Any] = {"backend": "lmms-eval", "model": lm, "model_args": lmms_model_args}
    else:
        backend = model if isinstance(model, Backend) else load_backend(model, **(backend_options or {}))
        owned = not isinstance(model, Backend)
        wrapper = lm = lmms_model(backend, batch_size)
        description = backend.describe()
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
    scores, unparsed = tally(records)
    lmms_numbers = {
        name: {k.partition(",")[0]: v for k, v in values.items() if k.endswith(",none") and "_stderr" not in k}
        for name, values in evaluated["results"].items()
    }
    results = {
        "name": model_name or spec,
        "model": spec,
        "via": "lmms-eval",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scores": scores,
        "unparsed": unparsed,
        "num_items": len(records),
        "scoring": {
            "mode": "strict",
            "metrics": "VIUBench (docs/method.md §7) through lmms-eval: the task folder's process_results calls "
            "videossr.metrics.score; Overall = mean of the unrounded subtype scores",
            "unparsable": "scored 0 and kept in the denominator",
        },
        "backend": description,
        "benchmark": {"data": str(data), "configs": wanted, "split": "test", "limit": limit},
        "inputs": _inputs_summary(records),
        "lmms_eval": {"version": version, "tasks": tasks, "results": lmms_numbers,
                      "include_path": str(folder)},  # fmt: skip
        "timing": {"new_items": len(records), "seconds": round(elapsed, 3),
                   "items_per_s": round(len(records) / elapsed, 4) if elapsed > 0 and records else None},  # fmt: skip
        "versions": {**package_versions(), "lmms-eval": version},
        "files": {"predictions": PREDICTIONS, "table": TABLE},
    }
    with (out / PREDICTIONS).open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    (out / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    if report:
        from videossr.evaluation.report import table1_markdown

        (out / TABLE).write_text(table1_markdown([results]))
    return results
