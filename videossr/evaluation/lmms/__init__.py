"""VIUBench inside lmms-eval: the functions behind ``hub/lmms_eval/viubench/`` and
``videossr bench --via lmms-eval``.

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
``viubench`` group's ``score`` is the plain mean of the subtypes (the paper's 9), computed from the
unrounded subtype scores exactly as ``videossr bench`` computes Overall.

The package: :mod:`~videossr.evaluation.lmms.config` (supported releases, names, paths),
:mod:`~videossr.evaluation.lmms.clips` (clips as video files), :mod:`~videossr.evaluation.lmms.hooks` (the
task's hooks and aggregations), :mod:`~videossr.evaluation.lmms.model` (the lmms-eval model class wrapping a
backend; it imports lmms-eval, so it is loaded on first use) and :mod:`~videossr.evaluation.lmms.runner`
(``--via lmms-eval``). Every name is importable from ``videossr.evaluation.lmms``.
"""

from __future__ import annotations

from typing import Any

from videossr.evaluation.lmms.clips import cache_dir, clip_paths, read_clip, write_clip
from videossr.evaluation.lmms.config import (
    CACHE_ENV,
    DATA_ENV,
    DEFAULT_DATA,
    GROUP,
    REQUIRED_COLUMNS,
    SUPPORTED_LMMS_EVAL,
    TASK_PREFIX,
    LmmsEvalError,
    dataset_path,
    group_names,
    lmms_eval_version,
    subtask_names,
    subtype_of_task,
    task_folder,
)
from videossr.evaluation.lmms.hooks import (
    SubtypeScore,
    aggregate_group,
    aggregate_score,
    aggregate_unparsed,
    check_docs,
    doc_to_messages,
    doc_to_target,
    doc_to_text,
    doc_to_visual,
    process_results,
)
from videossr.evaluation.lmms.runner import check_viubench, run_lmms_bench

#: Names of :mod:`~videossr.evaluation.lmms.model`, which imports lmms-eval (optional): loaded when
#: first read.
_MODEL_NAMES = ("VideoSSRModel", "lmms_model")


def __getattr__(name: str) -> Any:
    if name in _MODEL_NAMES:
        from videossr.evaluation.lmms import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "DEFAULT_DATA",
    "GROUP",
    "REQUIRED_COLUMNS",
    "SUPPORTED_LMMS_EVAL",
    "TASK_PREFIX",
    "LmmsEvalError",
    "SubtypeScore",
    "VideoSSRModel",
    "aggregate_group",
    "aggregate_score",
    "aggregate_unparsed",
    "cache_dir",
    "check_docs",
    "check_viubench",
    "clip_paths",
    "dataset_path",
    "doc_to_messages",
    "doc_to_target",
    "doc_to_text",
    "doc_to_visual",
    "group_names",
    "lmms_eval_version",
    "lmms_model",
    "process_results",
    "read_clip",
    "run_lmms_bench",
    "subtask_names",
    "subtype_of_task",
    "task_folder",
    "write_clip",
]
