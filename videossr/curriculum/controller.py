"""The decision: :class:`DifficultyController` reads each task's rewards and moves its level to hold the
pass rate inside a band (see :mod:`videossr.curriculum`)."""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.curriculum.state import (
    MAX_STATE_BYTES,
    CurriculumStateError,
    TaskLevel,
    _is_real,
    _is_whole,
    _refuse_constant,
    _task_name,
    check_state,
)
from videossr.tasks.base import PAPER_DIFFICULTY, parse_difficulty


def usable_reward(value: Any) -> float | None:
    """``value`` as a float when it is a usable reward, else ``None``.

    The one definition every input goes through: a real number (Python, NumPy or a one-element tensor),
    not a bool or a string, finite and in ``[0, 1]``. Anything else is "no reward" and is neither a pass
    nor a failure: a NaN from a verifier's ``np.float32`` must not count as a failure where a Python NaN
    is skipped, and a reward of 5 or ``"0.9"`` must not move a level.
    """
    if value is None or isinstance(value, (str, bytes, bool)):
        return None
    if not isinstance(value, numbers.Real):
        # NumPy 0-d arrays, torch tensors: their one element. A bool tensor gives a bool, refused below.
        item = getattr(value, "item", None)
        if not callable(item):
            return None
        try:
            value = item()
        except Exception:  # noqa: BLE001 - several elements, or no item() of that kind: not a reward
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(out) and 0.0 <= out <= 1.0):
        return None
    return out + 0.0  # -0.0 -> 0.0


def _level_of(value: Any) -> float | None:
    """A row's level when it is a point of the knob (finite, in [0, 1]), else ``None``."""
    if not _is_real(value) or not 0.0 <= float(value) <= 1.0:
        return None
    return float(value) + 0.0


@dataclass
class DifficultyController:
    """Holds each task's difficulty and moves it to keep the task's pass rate inside ``band``.

    A rollout *passes* when its reward is at least ``pass_threshold`` (``None``: the pass rate is the mean
    reward itself). Per task, each batch's pass fraction is folded into an exponential moving average
    (weight ``ema`` on the new batch). Once at least ``min_rows`` rows have been seen at the current level
    and the average is above the band, the level rises by ``step``; below it, it falls by ``step`` (within
    ``[0, 1]``). A move starts a fresh average at the new level.

    With ``num_generations`` given, each sync also reports per task the fraction of groups (``G``
    consecutive rows of the gathered batch, TRL's grouping) whose rewards are all equal: the groups with a
    zero advantage.

    Args:
        tasks: task names or short names (``"grounding"``, ``"object_counting"``...).
        band: ``(low, high)`` target pass rate. The default keeps the chance that a group of 8 rollouts is
            all right or all wrong under about 6 % (``0.7^8 + 0.3^8``) while the pass rate is in the band.
        start: every task's first level (0.5: the paper's settings).
        step: how far one move goes.
        ema: weight of the newest batch in the running pass rate.
        min_rows: fresh rows needed at a level before it may move.
        pass_threshold: the reward a rollout needs to count as a pass; ``None`` uses the reward itself.
        num_generations: rows per group, for the zero-variance fraction (``None``: not reported).
    """

    tasks: Sequence[str] = ("anomaly_grounding", "object_counting", "temporal_jigsaw")
    band: tuple[float, float] = (0.3, 0.7)
    start: float = PAPER_DIFFICULTY
    step: float = 0.05
    ema: float = 0.3
    min_rows: int = 16
    pass_threshold: float | None = 0.5
    num_generations: int | None = None
    state: dict[str, TaskLevel] = field(default_factory=dict)
    updates: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from videossr.tasks import task_class

        band = tuple(self.band)
        if len(band) != 2 or not all(_is_real(x) for x in band):
            raise ValueError(f"curriculum band must be two numbers (low, high), got {band!r}")
        low, high = (float(x) + 0.0 for x in band)
        # NaN fails every comparison, so each check is written to hold only for a good value.
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"curriculum band must satisfy 0 <= low <= high <= 1, got {band}")
        if not (_is_real(self.step) and 0.0 < self.step <= 1.0):
            raise ValueError(f"curriculum step must be in (0, 1], got {self.step!r}")
        if not (_is_real(self.ema) and 0.0 < self.ema <= 1.0):
            raise ValueError(f"curriculum ema must be in (0, 1], got {self.ema!r}")
        if not (_is_whole(self.min_rows) and self.min_rows >= 1):
            raise ValueError(f"curriculum min_rows must be a whole number, at least 1, got {self.min_rows!r}")
        if self.pass_threshold is not None and not (
            _is_real(self.pass_threshold) and 0.0 <= self.pass_threshold <= 1.0
        ):
            raise ValueError(
                f"curriculum pass_threshold must be a number in [0, 1] or None, got {self.pass_threshold!r}"
            )
        if self.num_generations is not None and not (
            _is_whole(self.num_generations) and self.num_generations >= 1
        ):
            raise ValueError(
                f"curriculum num_generations must be a whole number, at least 1, got {self.num_generations!r}"
            )
        self.band = (low, high)
        self.step, self.ema, self.min_rows = float(self.step), float(self.ema), int(self.min_rows)
        if self.pass_threshold is not None:
            self.pass_threshold = float(self.pass_threshold) + 0.0
        if self.num_generations is not None:
            self.num_generations = int(self.num_generations)
        if isinstance(self.start, bool):
            raise ValueError(f"curriculum start must be a level in [0, 1], got {self.start!r}")
        self.start = parse_difficulty(self.start) + 0.0  # -0.0 -> 0.0
        self.tasks = tuple(dict.fromkeys(task_class(t).name for t in self.tasks))
        for name in self.tasks:
            self.state.setdefault(name, TaskLevel(level=self.start))
        self._pending: list[tuple[str, int, float, float | None]] = []
        self._local_rows = 0  # rows of this process's batch (positions restart on every process)

    # -- what the stream reads ----------------------------------------------------------------------------
    def difficulty(self, task: str) -> float | None:
        """The current level of ``task`` (name or short name); ``None`` for a task the controller does
        not run."""
        entry = self.state.get(_task_name(task))
        return None if entry is None else entry.level

    def levels(self) -> dict[str, float]:
        """``{task name: level}`` now."""
        return {name: entry.level for name, entry in self.state.items()}

    # -- what the reward wrappers feed ---------------------------------------------------------------------
    def observe(
        self,
        task: str,
        rewards: Sequence[float | None],
        levels: Sequence[float | None] | None = None,
    ) -> None:
        """Queue this process's rewards of one reward function for the next :meth:`sync`.

        ``rewards`` is the function's output for the process's rows; only usable rewards count
        (:func:`usable_reward`: ``None`` on other tasks' rows, NaN, values outside ``[0, 1]``, strings and
        bools are skipped, never taken as a failure). ``levels`` the level each row was made at (``None``:
        unknown, counted as fresh). The row positions are kept, so the sync can rebuild TRL's groups.
        """
        name = _task_name(task)
        self._local_rows = max(self._local_rows, len(rewards))
        for i, value in enumerate(rewards):
            reward = usable_reward(value)
            if reward is None:
                continue
            level = levels[i] if levels is not None and i < len(levels) else None
            self._pending.append((name, i, reward, level))

    def sync(self, step: int | None = None) -> dict[str, float]:
        """Gather every process's queued rewards, update the levels (identically everywhere) and return the
        metrics to log. A collective: every process must call it at the same point."""
        local = (self._local_rows, self._pending)
        self._pending, self._local_rows = [], 0
        rows: list[tuple[str, int, float, float | None]] = []
        offset = 0
        for width, batch in _all_gather(local):
            # TRL lays the gathered batch out rank after rank; positions continue across ranks.
            rows += [(name, offset + i, reward, level) for name, i, reward, level in batch]
            offset += width
        return self.update(rows, step=step)

    # -- the decision ----------------------------------------------------------------------------------------
    def update(
        self, rows: Iterable[tuple[str, int, float, float | None]], step: int | None = None
    ) -> dict[str, float]:
        """Fold one gathered batch of ``(task, position, reward, level)`` rows in and move levels.

        Deterministic in its input: the same batch on the same state gives the same new state. Rows whose
        reward is not usable (:func:`usable_reward`) are skipped, and so are rows whose level is given but
        is not a point of the knob (they cannot have been made at the current level).
        """
        by_task: dict[str, list[tuple[int, float, float | None]]] = {}
        for name, pos, value, given in rows:
            reward = usable_reward(value)
            level = _level_of(given)
            if reward is None or (given is not None and level is None):
                continue
            by_task.setdefault(name, []).append((pos, reward, level))
        metrics: dict[str, float] = {}
        low, high = self.band
        for name in self.tasks:
            entry = self.state[name]
            got = by_task.get(name, [])
            fresh = [r for _, r, lv in got if lv is None or abs(lv - entry.level) < 1e-9]
            stale = len(got) - len(fresh)
            zero_std = self._zero_std_fraction(got)
            short = _short(name)
            if zero_std is not None:
                metrics[f"curriculum/{short}/frac_zero_std"] = zero_std
            record: dict[str, Any] = {
                "update": self.updates,
                "step": step,
                "task": name,
                "level": entry.level,
                "rows": len(fresh),
                "stale": stale,
            }
            if fresh:
                if self.pass_threshold is None:
                    batch_rate = sum(fresh) / len(fresh)
                else:
                    batch_rate = sum(r >= self.pass_threshold for r in fresh) / len(fresh)
                entry.pass_rate = (
                    batch_rate
                    if entry.pass_rate is None
                    else (1 - self.ema) * entry.pass_rate + self.ema * batch_rate
                )
                entry.rows += len(fresh)
                record["batch_pass_rate"] = batch_rate
                if entry.rows >= self.min_rows:
                    direction = 1 if entry.pass_rate > high else -1 if entry.pass_rate < low else 0
                    new = min(1.0, max(0.0, round(entry.level + direction * self.step, 3)))
                    if new != entry.level:
                        entry.level, entry.pass_rate, entry.rows = new, None, 0
                        entry.moves += 1
                        record["moved_to"] = new
            record["pass_rate"] = entry.pass_rate
            if got:
                self.history.append(record)
            metrics[f"curriculum/{short}/difficulty"] = entry.level
            if entry.pass_rate is not None:
                metrics[f"curriculum/{short}/pass_rate"] = entry.pass_rate
        self.updates += 1
        return metrics

    def _zero_std_fraction(self, got: list[tuple[int, float, float | None]]) -> float | None:
        """Fraction of this task's groups (``num_generations`` consecutive positions) with equal rewards."""
        g = self.num_generations
        if not g or g < 2 or not got:
            return None
        groups: dict[int, list[float]] = {}
        for pos, reward, _ in got:
            groups.setdefault(pos // g, []).append(reward)
        whole = [rs for rs in groups.values() if len(rs) == g]
        if not whole:
            return None
        return sum(max(rs) - min(rs) < 1e-6 for rs in whole) / len(whole)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly where this controller is."""
        return {
            "version": 1,
            "config": {
                "band": list(self.band),
                "start": self.start,
                "step": self.step,
                "ema": self.ema,
                "min_rows": self.min_rows,
                "pass_threshold": self.pass_threshold,
                "num_generations": self.num_generations,
            },
            "updates": self.updates,
            "tasks": {
                name: {"level": e.level, "pass_rate": e.pass_rate, "rows": e.rows, "moves": e.moves}
                for name, e in self.state.items()
            },
            "history": list(self.history),
        }

    def load_state_dict(self, data: Any) -> None:
        """Restore levels, running pass rates and history (the configuration stays this controller's own).

        The whole state is checked before anything changes (:func:`check_state`): a bad one raises
        :class:`CurriculumStateError` with one line and leaves this controller as it was.
        """
        tasks, updates, history = check_state(data, self.tasks)
        for name, entry in tasks.items():
            self.state[name] = entry
        self.updates = updates
        self.history = history
        self._pending, self._local_rows = [], 0

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: a state this module writes is always one it would read back.
        path.write_text(json.dumps(self.state_dict(), indent=1, sort_keys=True, allow_nan=False))
        return path

    def load(self, path: str | os.PathLike) -> None:
        """Resume from a ``curriculum.json``; raises :class:`CurriculumStateError` (one line, naming the
        file) for anything but a valid state of this controller's tasks, and then changes nothing."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_STATE_BYTES + 1)
        except OSError as err:
            raise CurriculumStateError(
                f"{path}: cannot be read ({err.strerror or type(err).__name__})"
            ) from None
        if len(raw) > MAX_STATE_BYTES:
            raise CurriculumStateError(
                f"{path}: larger than {MAX_STATE_BYTES // 2**20} MB; not a curriculum state"
            )
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            detail = (
                "nested too deeply" if isinstance(err, RecursionError) else " ".join(str(err).split())[:160]
            )
            raise CurriculumStateError(f"{path}: not valid JSON ({detail})") from None
        try:
            self.load_state_dict(data)
        except CurriculumStateError as err:
            raise CurriculumStateError(f"{path}: {err}") from None


def _short(name: str) -> str:
    from videossr.tasks import TASKS

    cls = TASKS.get(name)
    return cls.short if cls is not None else name


def _all_gather(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]``; ``[obj]`` when not distributed."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a training dependency
        return [obj]
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
