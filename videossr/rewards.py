"""Rewards as TRL reward functions.

Each function scores one signal, takes the batch TRL passes (``completions`` plus every dataset
column as a keyword list) and returns one value per row: a float in ``[0, 1]``, or ``None`` for rows of
another task so that multi-task runs can combine one function per task. They are module-level class
instances, hence picklable (multi-process data loaders, ``accelerate`` launches).

:data:`REWARD_FUNCS` holds every reward by name: four per registered task, built once per state of the
task registry, plus ``format`` and the rewards users add. A reward of your own registers by name, either
with :func:`register_reward` before the recipe runs or, from an installed package, with an entry point in
the ``videossr.rewards`` group (``my_reward = "my_package.rewards:my_reward"``); a recipe's YAML then
selects it in ``reward_funcs`` like the built-in ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from videossr.parsing import Mode, completion_text
from videossr.tasks import TASKS, aliases, get_task
from videossr.tasks.registry import LiveMapping, load_entry_points

#: The entry-point group of installed reward functions: ``name = "package.module:function"``.
REWARD_ENTRY_POINTS = "videossr.rewards"


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
        return get_task(self.task)

    def __call__(
        self,
        completions: Sequence[Any] | None = None,
        answer: Sequence[str] | None = None,
        task: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        # Columns may come as numpy arrays, whose truth value is an error: test for None, never `or`.
        completions = [] if completions is None else list(completions)
        solution = kwargs.get("solution")
        if answer is not None:
            answers = list(answer)
        else:
            answers = list(solution) if solution is not None else [""] * len(completions)
        tasks = list(task) if task is not None else [self.task] * len(completions)
        short = aliases()
        verifier = self._verifier()
        fn = {"smooth": verifier.reward, "strict01": verifier.strict_reward, "metric": verifier.score}[
            self.kind
        ]
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


#: The separator between the two blocks. Possessive: a long run of spaces after "</think>" is crossed once.
_THINK_TO_ANSWER = re.compile(r"</think>\s*+<answer>")


def is_reasoning_format(text: str) -> bool:
    """Whether ``text`` is ``<think>...</think><answer>...</answer>`` (whitespace around and between).

    The same replies as ``^\\s*<think>.*?</think>\\s*<answer>.*?</answer>\\s*$`` (DOTALL), in linear time:
    that pattern retries its lazy ``.*?`` from every ``</think>`` and took 22 s on a 400 KB reply of
    repeated tags. With the reply stripped, it must start with ``<think>`` and end with ``</answer>``;
    the earliest ``</think>\\s*<answer>`` after the opening tag leaves the most room, so one search
    decides, and the closing ``</answer>`` must begin at or after its end.
    """
    body = text.strip()
    if not (body.startswith("<think>") and body.endswith("</answer>")):
        return False
    middle = _THINK_TO_ANSWER.search(body, len("<think>"))
    return middle is not None and middle.end() <= len(body) - len("</answer>")


class FormatReward:
    """1.0 when a reply is ``<think>...</think><answer>...</answer>`` and nothing else, else 0.0.

    Only meaningful with reasoning prompts (``reasoning=True``); applies to every task.

    Example:
        >>> FormatReward()(["<think>hm</think><answer>3124</answer>", "3124"])
        [1.0, 0.0]
    """

    __name__ = "format"

    def __call__(self, completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        return [
            float(is_reasoning_format(completion_text(c)))
            for c in ([] if completions is None else completions)
        ]


#: Rewards registered by name with :func:`register_reward` (the entry-point group is read with them).
_USER_REWARDS: dict[str, Callable[..., list[float | None]]] = {}
_ENTRY_POINTS_READ = False


def register_reward(name: str, fn: Callable[..., list[float | None]]) -> Callable[..., list[float | None]]:
    """Make ``fn`` selectable as ``name`` (in :func:`get_reward_funcs` and a recipe's ``reward_funcs``).

    ``fn`` follows TRL's contract: ``fn(completions, **columns) -> list[float | None]`` (``None``: not my
    row). It is logged as ``rewards/<name>/mean``. ``ValueError`` when ``name`` is a built-in reward's or
    already taken by another function. For launches that spawn processes, register it in a module that
    every process imports (or use the ``videossr.rewards`` entry-point group).

    Example:
        >>> def short_reply(completions, **columns):
        ...     return [float(len(c) < 9) for c in completions]
        >>> _ = register_reward("short_reply", short_reply)
        >>> get_reward_funcs(["short_reply"])[0](["3,1,4"])
        [1.0]
        >>> unregister_reward("short_reply")
    """
    if not callable(fn):
        raise ValueError(f"reward {name!r} must be callable, got {fn!r}")
    _read_entry_points()
    if name in _task_rewards() or (name in _USER_REWARDS and _USER_REWARDS[name] is not fn):
        raise ValueError(f"reward name {name!r} is taken")
    _USER_REWARDS[name] = fn
    return fn


def unregister_reward(name: str) -> None:
    """Remove a reward added with :func:`register_reward` (tests)."""
    _USER_REWARDS.pop(name, None)


def _read_entry_points() -> None:
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    for name, fn in load_entry_points(REWARD_ENTRY_POINTS):
        _USER_REWARDS.setdefault(name, fn)


def _task_rewards() -> dict[str, Any]:
    # Built once per state of the task registry (TASKS.derived): per task its smooth reward,
    # <short>_strict01, <short>_lenient and <short>_strict01_lenient; then format.
    funcs: dict[str, Any] = {}
    for short, task in aliases().items():
        funcs[short] = TaskReward(task, "smooth", "strict", name=short)
        funcs[f"{short}_strict01"] = TaskReward(task, "strict01", "strict", name=f"{short}_strict01")
        funcs[f"{short}_lenient"] = TaskReward(task, "smooth", "lenient", name=f"{short}_lenient")
        funcs[f"{short}_strict01_lenient"] = TaskReward(
            task, "strict01", "lenient", name=f"{short}_strict01_lenient"
        )
    funcs["format"] = FormatReward()
    return funcs


def reward_funcs() -> dict[str, Any]:
    """Every reward by name: the registered tasks' (see :data:`REWARD_FUNCS`), ``format`` and the users'."""
    _read_entry_points()
    return {**TASKS.derived(_task_rewards), **_USER_REWARDS}


#: Reward functions by name, as recipes select them in YAML (live: a task or reward registered later is
#: here too).
REWARD_FUNCS: Mapping[str, Any] = LiveMapping(reward_funcs, "REWARD_FUNCS")

#: The paper's setting: one smooth reward per task, strict parsing.
DEFAULT_REWARDS = ("grounding", "counting", "jigsaw")


def get_reward_funcs(names: Sequence[str]) -> list[Any]:
    """Reward callables for the given names (see :func:`reward_funcs`)."""
    funcs = reward_funcs()
    missing = [n for n in names if n not in funcs]
    if missing:
        raise ValueError(f"unknown reward(s) {missing}; choose from {sorted(funcs)}")
    return [funcs[n] for n in names]
