"""The controller's saved state: its pieces, the file it is written to, and the check a state passes before
it is restored (:func:`check_state`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from videossr.errors import VideoSSRError

#: The file the controller's state is written to inside each checkpoint folder.
STATE_FILE = "curriculum.json"
#: The largest ``curriculum.json`` read back: a real one is a few hundred kB after a long run.
MAX_STATE_BYTES = 64 * 1024 * 1024


class CurriculumStateError(VideoSSRError, ValueError):
    """A ``curriculum.json`` (or a state dict) that cannot be resumed from; the message is one line."""


@dataclass
class TaskLevel:
    """One task's state: its level, its running pass rate at that level, and the rows behind it."""

    level: float
    pass_rate: float | None = None  # exponential moving average over batches at this level; None: no data yet
    rows: int = 0  # fresh rows seen since the level last moved
    moves: int = 0  # how many times the level has moved


def _is_real(value: Any) -> bool:
    """A finite real number that is not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond any float
        return False


def _is_whole(value: Any) -> bool:
    """A whole number that is not a bool (``16`` or ``16.0``; not NaN, not 16.5)."""
    return _is_real(value) and float(value) == int(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this file can hold")


#: Keys of a saved state (:meth:`DifficultyController.state_dict`).
_STATE_KEYS = {"version", "config", "updates", "tasks", "history"}
_TASK_KEYS = {"level", "pass_rate", "rows", "moves"}
#: Counters above this are not from a real run (and would not survive a float round trip).
_MAX_COUNT = 2**53


def check_state(data: Any, tasks: Sequence[str]) -> tuple[dict[str, TaskLevel], int, list[dict[str, Any]]]:
    """Check a saved state as a whole and return what it restores: ``(task levels, updates, history)``.

    Schema and ranges: ``version`` 1; ``tasks`` maps tasks of ``tasks`` (names or short names) to a level
    in ``[0, 1]``, a pass rate in ``[0, 1]`` or null, and whole ``rows`` and ``moves`` from 0; ``updates``
    a whole number from 0; ``history`` a list of objects. Raises :class:`CurriculumStateError` with one
    line naming the first bad field.
    """

    def bad(where: str, what: str, got: Any) -> CurriculumStateError:
        shown = repr(got)
        return CurriculumStateError(f"{where} must be {what}, got {shown[:80]}")

    def count(where: str, value: Any) -> int:
        if not (_is_whole(value) and 0 <= value <= _MAX_COUNT):
            raise bad(where, f"a whole number from 0 to {_MAX_COUNT}", value)
        return int(value)

    if not isinstance(data, dict):
        raise bad("the curriculum state", "a JSON object", type(data).__name__)
    unknown = sorted(set(data) - _STATE_KEYS, key=str)
    if unknown:
        raise CurriculumStateError(f"unknown key {unknown[0]!r} in the curriculum state")
    version = data.get("version")
    if isinstance(version, bool) or version != 1:
        raise CurriculumStateError(f"unknown curriculum state version {version!r}")
    if not isinstance(data.get("config", {}), dict):
        raise bad("config", "an object", data.get("config"))
    saved = data.get("tasks")
    if not isinstance(saved, dict):
        raise bad("tasks", "an object of task name -> state", saved)
    known = {_task_name(t): t for t in tasks}
    out: dict[str, TaskLevel] = {}
    for key, entry in saved.items():
        name = _task_name(str(key))
        if name not in known:
            raise CurriculumStateError(
                f"tasks names {str(key)[:80]!r}, which this run does not train (it trains {', '.join(known)})"
            )
        if name in out:
            raise CurriculumStateError(f"tasks names {name} twice")
        where = f"tasks.{name}"
        if not isinstance(entry, dict):
            raise bad(where, "an object", entry)
        extra = sorted(set(entry) - _TASK_KEYS, key=str)
        if extra:
            raise CurriculumStateError(f"unknown key {extra[0]!r} in {where}")
        for need in ("level", "pass_rate", "rows"):
            if need not in entry:
                raise CurriculumStateError(f"{where} has no {need!r}")
        level = entry["level"]
        if not (_is_real(level) and 0.0 <= level <= 1.0):
            raise bad(f"{where}.level", "a number in [0, 1]", level)
        rate = entry["pass_rate"]
        if rate is not None and not (_is_real(rate) and 0.0 <= rate <= 1.0):
            raise bad(f"{where}.pass_rate", "a number in [0, 1] or null", rate)
        out[name] = TaskLevel(
            level=float(level) + 0.0,
            pass_rate=None if rate is None else float(rate) + 0.0,
            rows=count(f"{where}.rows", entry["rows"]),
            moves=count(f"{where}.moves", entry.get("moves", 0)),
        )
    updates = count("updates", data.get("updates", 0))
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise bad("history", "a list of objects", history if not isinstance(history, list) else "a list")
    return out, updates, [dict(r) for r in history]


def _task_name(task: str) -> str:
    from videossr.tasks import task_class

    try:
        return task_class(task).name
    except ValueError:
        return task
