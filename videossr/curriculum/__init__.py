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

The package's modules: :mod:`~videossr.curriculum.controller` (the decision),
:mod:`~videossr.curriculum.state` (the saved state and its check), :mod:`~videossr.curriculum.hooks` (the
reward wrappers and the callback); every name is importable from ``videossr.curriculum``.
"""

from __future__ import annotations

from videossr.curriculum.controller import DifficultyController, usable_reward
from videossr.curriculum.hooks import CurriculumCallback, CurriculumReward, wrap_reward_funcs
from videossr.curriculum.state import (
    MAX_STATE_BYTES,
    STATE_FILE,
    CurriculumStateError,
    TaskLevel,
    check_state,
)

__all__ = [
    "STATE_FILE",
    "CurriculumCallback",
    "CurriculumStateError",
    "CurriculumReward",
    "DifficultyController",
    "MAX_STATE_BYTES",
    "TaskLevel",
    "check_state",
    "usable_reward",
    "wrap_reward_funcs",
]
