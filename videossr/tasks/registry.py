"""The task registry, and the one way the rest of the package reads what is derived from it.

:class:`Registry` maps a task's name to its class, in registration order. The package's own tasks are
registered when ``videossr.tasks`` is imported; installed plugins are found once, on the registry's first
read, through the entry-point group :data:`TASK_ENTRY_POINTS` (``videossr.tasks``): each entry point
names a :class:`~videossr.tasks.base.Task` subclass, which is registered. A plugin installed in the
environment is therefore seen by the CLI, the Space and spawned build workers alike, with no edit to the
package.

Everything computed from the registry (short names, reward functions, the benchmark's columns) is read
through :meth:`Registry.derived`: the value is built when first asked for and kept until a task is
registered or removed, never copied at import. :class:`LiveMapping` and :class:`LiveTuple` (over
:func:`live`) are that same read, shaped as a mapping or a tuple, for names that other code imports as
constants (``videossr.tasks.ALIASES``, ``videossr.rewards.REWARD_FUNCS``,
``videossr.metrics.VIUBENCH_SUBTYPES``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any, TypeVar

from videossr.tasks.base import Task

#: The entry-point group of installed task plugins: ``name = "package.module:TaskClass"``.
TASK_ENTRY_POINTS = "videossr.tasks"

T = TypeVar("T")


def load_entry_points(group: str) -> list[tuple[str, Any]]:
    """``(name, object)`` for every entry point of ``group`` in the environment, in name order.

    A plugin that fails to import is reported with a warning and left out: a broken third-party package
    must not stop the package's own tasks from working.
    """
    found = []
    for point in sorted(metadata.entry_points(group=group), key=lambda p: p.name):
        try:
            found.append((point.name, point.load()))
        except Exception as err:  # noqa: BLE001 - any import error of a third-party plugin
            warnings.warn(f"videossr: plugin {point.name!r} ({group}) failed to load: {err}", stacklevel=2)
    return found


class Registry(Mapping[str, type[Task]]):
    """Task name -> task class, in registration order; installed plugins join on the first read.

    Reads (``[]``, iteration, ``len``, ``in``, ``.get``, ``.items()``) are those of a dict. Writes go through
    :meth:`register` and :meth:`unregister`, which also drop every value :meth:`derived` holds.
    """

    def __init__(self, group: str = TASK_ENTRY_POINTS):
        self._tasks: dict[str, type[Task]] = {}
        self._group = group
        self._discovered = False
        self._derived: dict[Callable[[], Any], Any] = {}

    # -- reading ------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> type[Task]:
        self.discover()
        return self._tasks[name]

    def __iter__(self) -> Iterator[str]:
        self.discover()
        return iter(list(self._tasks))

    def __len__(self) -> int:
        self.discover()
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"TASKS({list(self)})"

    def derived(self, build: Callable[[], T]) -> T:
        """``build()``, computed once per state of the registry (again after a task is added or removed).

        ``build`` is a function of the registry alone; its result is shared, so callers must not mutate it.
        """
        self.discover()
        if build not in self._derived:
            self._derived[build] = build()
        return self._derived[build]

    # -- writing ------------------------------------------------------------------------------------
    def register(self, cls: type[Task]) -> type[Task]:
        """Add ``cls``; ``ValueError`` when its ``name`` or ``short`` belongs to another task."""
        for name, other in self._tasks.items():
            if other is not cls and (name == cls.name or other.short == cls.short):
                raise ValueError(
                    f"task {cls.__name__} clashes with {other.__name__} ({cls.name!r}/{cls.short!r})"
                )
        self._tasks[cls.name] = cls
        self._derived.clear()
        return cls

    def unregister(self, name: str) -> None:
        """Remove a task (no error when it is not registered)."""
        self._tasks.pop(name, None)
        self._derived.clear()

    # Item assignment is register / unregister under the task's own name, so a test can add a task for its
    # duration with ``monkeypatch.setitem(TASKS, cls.name, cls)`` and have it removed afterwards.
    def __setitem__(self, name: str, cls: type[Task]) -> None:
        if name != cls.name:
            raise ValueError(f"a task is registered under its own name {cls.name!r}, not {name!r}")
        self._tasks.pop(name, None)  # replacing a task of the same name is allowed here, as for a dict
        self.register(cls)

    def __delitem__(self, name: str) -> None:
        if name not in self._tasks:
            raise KeyError(name)
        self.unregister(name)

    def discover(self) -> None:
        """Register the installed plugins' tasks (entry-point group ``videossr.tasks``), once per process."""
        if self._discovered:
            return
        self._discovered = True  # first: a plugin that reads the registry while it is imported is fine
        for name, obj in load_entry_points(self._group):
            if not (isinstance(obj, type) and issubclass(obj, Task)):
                warnings.warn(f"videossr: task plugin {name!r} is not a Task subclass: {obj!r}", stacklevel=2)
                continue
            try:
                self.register(obj)
            except ValueError as err:
                warnings.warn(f"videossr: task plugin {name!r} not registered: {err}", stacklevel=2)


#: The registry every part of the package reads (``videossr.tasks.TASKS``).
TASKS = Registry()


def live(build: Callable[[], T]) -> Callable[[], T]:
    """A reader of ``TASKS.derived(build)`` (what :class:`LiveMapping` and :class:`LiveTuple` read)."""
    return functools.partial(TASKS.derived, build)


class LiveMapping(Mapping[str, Any]):
    """A mapping whose contents are ``read()``, read on every use (``read``: usually :func:`live`)."""

    def __init__(self, read: Callable[[], Mapping[str, Any]], label: str):
        self._read, self._label = read, label

    def _now(self) -> Mapping[str, Any]:
        return self._read()

    def __getitem__(self, key: str) -> Any:
        return self._now()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())

    def __repr__(self) -> str:
        return f"{self._label}({dict(self._now())!r})"


class LiveTuple(Sequence[Any]):
    """A tuple whose items are ``read()``, read on every use (``read``: usually :func:`live`)."""

    def __init__(self, read: Callable[[], tuple[Any, ...]], label: str):
        self._read, self._label = read, label

    def _now(self) -> tuple[Any, ...]:
        return self._read()

    def __getitem__(self, index: Any) -> Any:
        return self._now()[index]

    def __len__(self) -> int:
        return len(self._now())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._now())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment] - its contents change

    def __repr__(self) -> str:
        return f"{self._label}{self._now()!r}"
