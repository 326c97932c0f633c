"""Where the controller hooks into TRL: reward wrappers that report each task's rewards and close the batch,
and the callback that keeps the controller's state in every checkpoint."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videossr.curriculum.controller import DifficultyController
from videossr.curriculum.state import STATE_FILE, _task_name
from videossr.tasks.base import split_level

logger = logging.getLogger("videossr.curriculum")


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
