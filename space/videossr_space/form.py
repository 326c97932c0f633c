"""The page's form, read from the registered tasks (``videossr.tasks.TASKS``) when it is built: the task
list, one option widget per option keyword, how many clip players the page needs; and the checks every
value from the form or an API caller passes (:func:`make_task`, the seed)."""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any

import gradio as gr

import videossr
from videossr.tasks import TASKS

MAX_SEED = 2**31 - 1


def task_choices() -> list[tuple[str, str]]:
    """The page's task choices, one per task registered in ``videossr.tasks.TASKS``: (label, name)."""
    return [(name.replace("_", " ").capitalize(), name) for name in TASKS]


@dataclass(frozen=True)
class OptionWidget:
    """One option widget of the page: a task keyword some registered task declares in its ``options``.

    Attributes:
        key: the keyword (``perturbation``, ``difficulty``...).
        choices: ``(label, value)`` pairs, every choice some task declares for it, in first-seen order.
        value: the preselected value: a task's ``option_defaults``, else its constructor's default when that
            is one of the choices, else ``None`` (the task keeps its own default).
        info: the declaring task's help text.
    """

    key: str
    choices: tuple[tuple[str, Any], ...]
    value: Any
    info: str


def _preselect(cls: type[videossr.Task], key: str) -> Any:
    if key in cls.option_defaults:
        return cls.option_defaults[key]
    parameter = inspect.signature(cls).parameters.get(key)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def option_widgets() -> list[OptionWidget]:
    """The page's option widgets, one per keyword that any registered task declares with choices.

    ``perturbation`` and ``difficulty`` come first (the ``/generate`` API takes them by position); the others
    follow in first-seen order. Read from ``TASKS`` now, so a task registered later brings its own widget.
    """
    found: dict[str, list[type[videossr.Task]]] = {key: [] for key in ("perturbation", "difficulty")}
    for cls in TASKS.values():
        for key, (choices, _help) in cls.options.items():
            if choices is not None:
                found.setdefault(key, []).append(cls)
    widgets = []
    for key, owners in found.items():
        pairs: dict[Any, str] = {}
        for cls in owners:
            for value, label in cls.option_labels(key):
                pairs.setdefault(value, label)
        value = next((v for v in map(functools.partial(_preselect, key=key), owners) if v in pairs), None)
        info = " ".join(cls.options[key][1] for cls in owners)
        widgets.append(OptionWidget(key, tuple((label, v) for v, label in pairs.items()), value, info))
    return widgets


def max_clips() -> int:
    """How many clip players the page needs: the most clips any registered task can show, the largest of
    the ``clips`` choices the tasks declare (the jigsaw's 2 to 9), and at least one."""
    counts = [int(v) for cls in TASKS.values() for v in (cls.options.get("clips", ((), ""))[0] or ())]
    return max([1, *counts])


def make_task(task: str, perturbation: Any = None, difficulty: Any = None, **options: Any) -> videossr.Task:
    """The task object for the page's choices (validated: these arrive from API callers too).

    Each task takes the option widgets that appear in its own ``options`` (grounding: the perturbation;
    counting and jigsaw: the difficulty), checked against the choices it declares; it ignores the others.
    A widget left empty (``None``) keeps the task's own default.
    """
    cls = TASKS.get(str(task))
    if cls is None:
        raise gr.Error(f"Unknown task {task!r}. Choose one of: {', '.join(v for _, v in task_choices())}.")
    values = {"perturbation": perturbation, "difficulty": difficulty, **options}
    kwargs = {}
    for key in cls.options:
        if values.get(key) is None:
            continue
        try:
            kwargs[key] = cls.check_option(key, values[key])
        except ValueError:
            choices = cls.options[key][0] or ()
            raise gr.Error(
                f"Unknown {key} {values[key]!r}. Choose one of: {', '.join(map(str, choices))}."
            ) from None
    return cls(**kwargs)


def _seed(seed: Any) -> int:
    """A whole number in ``[0, MAX_SEED]`` from what the page or an API caller sent, or the app's message.

    Text is read too (raw HTTP callers send ``"7"``), but never rounded: ``1.5`` is refused, not
    silently turned into 2, and huge, ``nan`` or ``inf`` values get the same plain message.
    """
    message = f"The seed must be a whole number between 0 and {MAX_SEED}."
    if seed is None or seed == "":
        return 0
    if isinstance(seed, bool):
        raise gr.Error(message)
    if isinstance(seed, str):
        text = seed.strip()
        # longer than any allowed seed can be written, or not ASCII: int() would read "٣" as 3 and
        # "１２" as 12, a seed nobody typed on purpose.
        if len(text) > 32 or not text.isascii():
            raise gr.Error(message)
        try:
            seed = int(text)
        except ValueError:
            try:
                seed = float(text)
            except ValueError:
                raise gr.Error(message) from None
    if isinstance(seed, float):
        if not math.isfinite(seed) or not seed.is_integer():
            raise gr.Error(message)
        seed = int(seed)
    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise gr.Error(message)
    return seed
