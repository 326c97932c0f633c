"""What the VIUBench task folder of lmms-eval is bound to: the supported lmms-eval releases, the task and
group names, the environment variables the task reads, and where the task folder and the data are.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from videossr.errors import VideoSSRError
from videossr.metrics import task_groups, viubench_subtypes

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
        # lmms-eval 0.7.1-0.7.3 patch filelock's 3.x internals at the start of every evaluation.
        if (
            importlib.util.find_spec("filelock") is not None
            and importlib.util.find_spec("filelock._api") is None
        ):
            raise LmmsEvalError(
                f"lmms-eval {version} needs filelock<4 (its evaluator imports filelock._api, gone in "
                "filelock 4); install lmms-eval==0.7 (the `lmms` extra) or filelock<4"
            )
    return version


def task_folder() -> Path:
    """The ``hub/lmms_eval`` folder of a source checkout (lmms-eval's ``--include_path``)."""
    folder = Path(__file__).resolve().parents[3] / "hub" / "lmms_eval"
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


# ---------------------------------------------------------------------------------------------- task files
def subtask_names(subtypes: Sequence[str] | None = None) -> list[str]:
    """``viubench_<subtype>`` for ``subtypes`` (default: every VIUBench subtype, read now)."""
    return [f"{TASK_PREFIX}{s}" for s in (viubench_subtypes() if subtypes is None else subtypes)]


def group_names() -> dict[str, list[str]]:
    """The groups of the task folder: ``viubench_counting`` ... and ``viubench`` (every subtype)."""
    groups = {f"{TASK_PREFIX}{g}": subtask_names(subs) for g, subs in task_groups().items()}
    return {**groups, GROUP: list(groups)}
