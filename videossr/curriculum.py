"""Adaptive difficulty for training on generated data: keep each task's pass rate where the gradient is.

GRPO learns only from groups whose rollouts disagree. A question every rollout gets right, or every
rollout gets wrong, gives a zero advantage and a wasted step. Generated questions have a difficulty knob
(:mod:`videossr.tasks.base`), so the training data can follow the model: :class:`DifficultyController`
reads the rewards of each task as they are computed, keeps a running pass rate per task, and moves that
task's difficulty to hold the pass rate inside a band. The online stream
(:func:`videossr.data.streaming.stream_dataset`) asks the controller for the current level of a task each
time it makes a row.

The pieces and where they hook into TRL:

* :class:`CurriculumReward` wraps each reward function given to ``GRPOTrainer``. It returns exactly what the
  wrapped function returns; on the way it hands the controller the rewards of its task's rows (with the
  level each row was made at, read from the row's ``subtype``, e.g. ``counting@0.45``). The last wrapper of
  the list closes the batch: :meth:`DifficultyController.sync` gathers the batch from every process, updates
  every process's controller identically, and logs ``curriculum/<task>/difficulty``, ``.../pass_rate`` and
  ``.../frac_zero_std`` through TRL's ``log_metric``.
* :class:`CurriculumCallback` saves the controller's state as ``curriculum.json`` in every checkpoint folder
  and reads it back when training resumes from one.

Agreement across processes. Under ``accelerate`` each process computes the rewards of its own rows; TRL then
gathers them. Reward functions are called on every process at the same point of every generation batch, so
the sync there is a collective every process reaches: the batches of all ranks are gathered
(``torch.distributed.all_gather_object``) in rank order, and every rank runs the same deterministic update on
the same data. Every rank therefore holds the same levels at the same point of the stream, and the stream
(which every rank generates in full and slices, see :mod:`videossr.data.streaming`) makes the same rows.

Lag. A changed level reaches the rows generated after it. TRL reads the stream one generation batch at a
time and the dataloader fetches one batch ahead, so the rows of the next one or two generation batches were
already made at the old level. The controller judges a level only by rows made at that level (rows whose
subtype names another level are counted as stale and skipped), so the lag delays a decision but never
corrupts it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.tasks.base import PAPER_DIFFICULTY, parse_difficulty, split_level

logger = logging.getLogger(__name__)

#: The file the controller's state is written to inside each checkpoint folder.
STATE_FILE = "curriculum.json"


@dataclass
class TaskLevel:
    """One task's state: its level, its running pass rate at that level, and the rows behind it."""

    level: float
    pass_rate: float | None = None  # exponential moving average over batches at this level; None: no data yet
    rows: int = 0  # fresh rows seen since the level last moved
    moves: int = 0  # how many times the level has moved


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

        low, high = (float(x) for x in self.band)
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"curriculum band must satisfy 0 <= low <= high <= 1, got {tuple(self.band)}")
        if not 0.0 < self.step <= 1.0 or not 0.0 < self.ema <= 1.0 or self.min_rows < 1:
            raise ValueError("curriculum step and ema must be in (0, 1] and min_rows at least 1")
        self.band = (low, high)
        self.start = parse_difficulty(self.start)
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

        ``rewards`` is the function's output for the process's rows (``None`` on other tasks' rows: skipped);
        ``levels`` the level each row was made at (``None``: unknown, counted as fresh). The row positions
        are kept, so the sync can rebuild TRL's groups.
        """
        name = _task_name(task)
        self._local_rows = max(self._local_rows, len(rewards))
        for i, reward in enumerate(rewards):
            if reward is None or (isinstance(reward, float) and math.isnan(reward)):
                continue
            level = levels[i] if levels is not None and i < len(levels) else None
            self._pending.append((name, i, float(reward), level))

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

        Deterministic in its input: the same batch on the same state gives the same new state.
        """
        by_task: dict[str, list[tuple[int, float, float | None]]] = {}
        for name, pos, reward, level in rows:
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

    def load_state_dict(self, data: dict[str, Any]) -> None:
        """Restore levels, running pass rates and history (the configuration stays this controller's own)."""
        if data.get("version") != 1:
            raise ValueError(f"unknown curriculum state version {data.get('version')!r}")
        for name, saved in data["tasks"].items():
            self.state[_task_name(name)] = TaskLevel(
                level=float(saved["level"]),
                pass_rate=None if saved["pass_rate"] is None else float(saved["pass_rate"]),
                rows=int(saved["rows"]),
                moves=int(saved.get("moves", 0)),
            )
        self.updates = int(data.get("updates", 0))
        self.history = list(data.get("history", []))
        self._pending, self._local_rows = [], 0

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.state_dict(), indent=1, sort_keys=True))
        return path

    def load(self, path: str | os.PathLike) -> None:
        self.load_state_dict(json.loads(Path(path).read_text()))


def _task_name(task: str) -> str:
    from videossr.tasks import task_class

    try:
        return task_class(task).name
    except ValueError:
        return task


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


# ------------------------------------------------------------------------------------------ reward wrapper
class CurriculumReward:
    """A reward function that also reports its rewards to a :class:`DifficultyController`.

    It keeps the wrapped function's ``__name__`` (TRL's ``rewards/<name>/mean`` stays the same) and returns
    its output unchanged. ``task`` is the task whose rows the function scores (``None``: not reported, e.g.
    the format reward); ``closes_batch`` marks the wrapper TRL calls last, which runs the sync.
    """

    def __init__(
        self,
        fn: Callable[..., list[float | None]],
        controller: DifficultyController,
        task: str | None,
        closes_batch: bool = False,
    ):
        self.fn, self.controller, self.task, self.closes_batch = fn, controller, task, closes_batch
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> list[float | None]:
        out = self.fn(*args, **kwargs)
        if self.task is not None:
            subtypes = kwargs.get("subtype")
            levels = [split_level(str(s))[1] for s in subtypes] if subtypes is not None else None
            self.controller.observe(self.task, list(out), levels)
        if self.closes_batch:
            state = kwargs.get("trainer_state")
            metrics = self.controller.sync(step=getattr(state, "global_step", None))
            log_metric = kwargs.get("log_metric")
            if log_metric is not None:
                for name, value in metrics.items():
                    log_metric(name, value)
        return out

    def __repr__(self) -> str:
        return f"CurriculumReward({self.fn!r}, task={self.task!r})"


def wrap_reward_funcs(
    funcs: Sequence[Callable[..., Any]], controller: DifficultyController
) -> list[CurriculumReward]:
    """Wrap a list of reward functions for the controller.

    The first function that scores a task (a ``TaskReward``'s ``task``) reports that task's rewards; later
    ones for the same task (a strict 0/1 variant next to the smooth one) and task-free ones (``format``) do
    not. The last function closes each batch.
    """
    seen: set[str] = set()
    wrapped = []
    for k, fn in enumerate(funcs):
        task = getattr(fn, "task", None)
        if task is not None:
            task = _task_name(str(task))
        report = task if task is not None and task not in seen and task in controller.state else None
        if report is not None:
            seen.add(report)
        wrapped.append(CurriculumReward(fn, controller, report, closes_batch=k == len(funcs) - 1))
    missing = set(controller.tasks) - seen
    if missing:
        logger.warning(
            "curriculum: no reward function scores %s; their levels will not move", sorted(missing)
        )
    return wrapped


# ------------------------------------------------------------------------------------------ callback
def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class CurriculumCallback(_callback_base()):
    """Saves the controller in every checkpoint (``curriculum.json``) and restores it on resume.

    Resuming: at ``on_train_begin`` the Trainer has already loaded the checkpoint's state, so a
    ``global_step`` above 0 names the checkpoint folder ``<output_dir>/checkpoint-<step>``, whose
    ``curriculum.json`` is read (``resume_from`` overrides the folder).
    """

    def __init__(self, controller: DifficultyController, resume_from: str | os.PathLike | None = None):
        self.controller = controller
        self.resume_from = resume_from

    def on_train_begin(self, args, state, control, **kwargs):
        folder = self.resume_from
        if folder is None and state.global_step > 0:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder is None:
            return
        path = Path(folder) / STATE_FILE
        if path.is_file():
            self.controller.load(path)
            logger.info("curriculum: resumed levels %s from %s", self.controller.levels(), path)
        else:
            logger.warning("curriculum: %s not found; starting from level %s", path, self.controller.start)

    def on_save(self, args, state, control, **kwargs):
        # Every process holds the same state; one writes it.
        if state.is_world_process_zero:
            self.controller.save(Path(args.output_dir) / f"checkpoint-{state.global_step}" / STATE_FILE)


__all__ = [
    "STATE_FILE",
    "CurriculumCallback",
    "CurriculumReward",
    "DifficultyController",
    "TaskLevel",
    "wrap_reward_funcs",
]
