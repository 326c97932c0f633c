"""Rewards as TRL reward functions.

Each function scores one signal, takes the batch TRL passes (``completions`` plus every dataset
column as a keyword list) and returns one value per row: a float in ``[0, 1]``, or ``None`` for rows of
another task so that multi-task runs can combine one function per task. They are module-level class
instances, hence picklable (multi-process data loaders, ``accelerate`` launches).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from videossr.parsing import Mode, completion_text
from videossr.tasks import TASKS, aliases


class TaskReward:
    """A reward for one task.

    Args:
        task: ``"anomaly_grounding"``, ``"object_counting"`` or ``"temporal_jigsaw"``.
        kind: ``"smooth"`` (the paper's partial-credit reward), ``"strict01"`` (exact match, for the
            ablation) or ``"metric"`` (the VIUBench metric).
        mode: answer parsing, ``"strict"`` (the paper's) or ``"lenient"`` (see ``videossr.parsing``).
        name: the name TRL logs it under (``rewards/<name>/mean``).

    Example:
        >>> reward = TaskReward("object_counting")
        >>> reward(["3,1,4", "3,1,2", "no idea"], answer=["3,1,4"] * 3, task=["object_counting"] * 3)
        [1.0, 0.8333333333333334, 0.0]
        >>> reward(["0.0-4.0"], answer=["0.0-4.0"], task=["anomaly_grounding"])
        [None]
    """

    def __init__(self, task: str, kind: str = "smooth", mode: Mode = "strict", name: str | None = None):
        task = aliases().get(task, task)
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
        if kind not in ("smooth", "strict01", "metric"):
            raise ValueError(f"unknown reward kind {kind!r}")
        self.task, self.kind, self.mode = task, kind, mode
        self.__name__ = name or f"{task}_{kind}"

    def _verifier(self):
        from videossr.tasks import get_task

        return get_task(self.task)

    def __call__(
        self,
        completions: Sequence[Any] | None = None,
        answer: Sequence[str] | None = None,
        task: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        completions = list(completions or [])
        answers = list(answer) if answer is not None else list(kwargs.get("solution") or [""] * len(completions))
        tasks = list(task) if task is not None else [self.task] * len(completions)
        short = aliases()
        verifier = self._verifier()
        fn = {"smooth": verifier.reward, "strict01": verifier.strict_reward, "metric": verifier.score}[self.kind]
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            row_task = short.get(str(tasks[i]), str(tasks[i])) if i < len(tasks) else self.task
            if row_task != self.task:
                out.append(None)
                continue
            out.append(fn(completion, answers[i] if i < len(answers) else "", self.mode))
        return out

    def __repr__(self) -> str:
        return f"TaskReward(task={self.task!r}, kind={self.kind!r}, mode={self.mode!r})"


_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


class FormatReward:
    """1.0 when a reply is ``<think>...</think><answer>...</answer>`` and nothing else, else 0.0.

    Only meaningful with reasoning prompts (``reasoning=True``); applies to every task.

    Example:
        >>> FormatReward()(["<think>hm</think><answer>3124</answer>", "3124"])
        [1.0, 0.0]
    """

    __name__ = "format"

    def __call__(self, completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        return [float(bool(_FORMAT.match(completion_text(c)))) for c in (completions or [])]


def _build() -> dict[str, Any]:
    funcs: dict[str, Any] = {}
    for short, task in aliases().items():
        funcs[short] = TaskReward(task, "smooth", "strict", name=short)
        funcs[f"{short}_strict01"] = TaskReward(task, "strict01", "strict", name=f"{short}_strict01")
        funcs[f"{short}_lenient"] = TaskReward(task, "smooth", "lenient", name=f"{short}_lenient")
        funcs[f"{short}_strict01_lenient"] = TaskReward(task, "strict01", "lenient", name=f"{short}_strict01_lenient")
    funcs["format"] = FormatReward()
    return funcs


#: Reward functions by name, as recipes select them in YAML.
REWARD_FUNCS: dict[str, Any] = _build()

#: The paper's setting: one smooth reward per task, strict parsing.
DEFAULT_REWARDS = ("grounding", "counting", "jigsaw")


def get_reward_funcs(names: Sequence[str]) -> list[Any]:
    """Reward callables for the given names (see ``REWARD_FUNCS``)."""
    missing = [n for n in names if n not in REWARD_FUNCS]
    if missing:
        raise ValueError(f"unknown reward(s) {missing}; choose from {sorted(REWARD_FUNCS)}")
    return [REWARD_FUNCS[n] for n in names]
