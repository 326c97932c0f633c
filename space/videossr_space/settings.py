"""Operator settings of the Space and the context its handlers share (store, worker pool, budgets)."""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from .answerers import Answerer, answerers, parse_model_list
from .tempstore import TempStore

log = logging.getLogger("videossr.space")
T = TypeVar("T")


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, default))
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, env.get(name), default)
        return default
    if not math.isfinite(value):
        log.warning("%s=%r is not a finite number; using %s", name, env.get(name), default)
        return default
    return value


@dataclass(frozen=True)
class Settings:
    """Operator settings, read from environment variables (see the Space README).

    Attributes:
        max_upload_mb: largest accepted upload (also enforced by gradio's ``max_file_size``).
        max_duration_s: longest accepted uploaded video.
        timeout_s: wall-clock budget of one request (decoding + generation, or one answer).
        concurrency: requests doing heavy work at the same time; the rest wait in the queue.
        queue_size: requests allowed to wait for a worker. A request beyond it is refused at once (HTTP 503;
            the page says "This application is currently busy. Please try again."); a waiting one is shown
            its place ("queue: 3/16"). The last in the queue waits about ``queue_size`` x the time of one
            call / ``concurrency``: 16 keeps that under a minute at the few seconds a call takes on a
            small CPU machine, where 64 let 50 users wait minutes (issue 28).
        keep: generated samples kept on disk (older ones are deleted).
        max_pixels: frame area of generated samples (the paper trains at 256x256).
        cache_max_mb: bytes gradio's file cache (uploads and the copies of served clips) may hold; the
            oldest files are deleted beyond it, after every request.
        cache_max_files: files gradio's file cache may hold, likewise.
        results_dir: folder of ``videossr bench`` result JSONs shown in the VIUBench tab.
        models: operator-configured model answerers.
        allow_custom_endpoint: let people type their own OpenAI-compatible endpoint (local use only).
        tmp_root: where per-sample folders go (a fresh temp folder when unset).
    """

    max_upload_mb: float = 50.0
    max_duration_s: float = 180.0
    timeout_s: float = 120.0
    concurrency: int = 2
    queue_size: int = 16
    keep: int = 64
    max_pixels: int = 256 * 256
    cache_max_mb: float = 512.0
    cache_max_files: int = 64
    results_dir: Path | None = None
    models: tuple[Answerer, ...] = ()
    allow_custom_endpoint: bool = False
    tmp_root: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        results = env.get("VIDEOSSR_SPACE_RESULTS") or env.get("VIDEOSSR_RESULTS_DIR")
        tmp = env.get("VIDEOSSR_SPACE_TMP")
        return cls(
            max_upload_mb=_env_float(env, "VIDEOSSR_SPACE_MAX_UPLOAD_MB", cls.max_upload_mb),
            max_duration_s=_env_float(env, "VIDEOSSR_SPACE_MAX_SECONDS", cls.max_duration_s),
            timeout_s=_env_float(env, "VIDEOSSR_SPACE_TIMEOUT", cls.timeout_s),
            concurrency=max(1, int(_env_float(env, "VIDEOSSR_SPACE_CONCURRENCY", cls.concurrency))),
            queue_size=max(1, int(_env_float(env, "VIDEOSSR_SPACE_QUEUE", cls.queue_size))),
            keep=max(1, int(_env_float(env, "VIDEOSSR_SPACE_KEEP", cls.keep))),
            max_pixels=max(128 * 128, int(_env_float(env, "VIDEOSSR_SPACE_MAX_PIXELS", cls.max_pixels))),
            cache_max_mb=max(1.0, _env_float(env, "VIDEOSSR_SPACE_CACHE_MB", cls.cache_max_mb)),
            cache_max_files=max(8, int(_env_float(env, "VIDEOSSR_SPACE_CACHE_FILES", cls.cache_max_files))),
            results_dir=Path(results) if results else None,
            models=tuple(parse_model_list(env.get("VIDEOSSR_SPACE_MODELS"))),
            allow_custom_endpoint=env.get("VIDEOSSR_SPACE_ALLOW_CUSTOM_ENDPOINT", "") in ("1", "true", "yes"),
            tmp_root=Path(tmp) if tmp else None,
        )


class Abandoned(Exception):
    """The request that started this work has given up waiting for it (its time budget ran out)."""


@dataclass
class Budget:
    """The time left to one request, shared between the waiting request and the worker doing its work.

    Python cannot stop a thread, so work run for a request checks its budget between steps
    (:meth:`check`) and hands :meth:`remaining` to whatever it waits on (a decoder process, an HTTP
    call), which then ends by itself; the request marks the budget :meth:`abandon`-ed when it stops
    waiting. Work given up this way frees its worker within one step instead of running to the end.
    """

    seconds: float
    start: float = field(default_factory=time.monotonic)
    _abandoned: threading.Event = field(default_factory=threading.Event)

    def remaining(self) -> float:
        # Capped at a day: lock and pipe waits take finite timeouts only.
        return min(max(0.0, self.start + self.seconds - time.monotonic()), 86400.0)

    @property
    def abandoned(self) -> bool:
        return self._abandoned.is_set() or self.remaining() <= 0.0

    def abandon(self) -> None:
        self._abandoned.set()

    def check(self) -> None:
        """Raise :class:`Abandoned` when the request has stopped waiting for this work."""
        if self.abandoned:
            raise Abandoned


#: The budget of the request whose work the current thread is doing (none outside request work).
# The budget of the request whose work runs on this worker thread (set by run_budgeted only).
_CURRENT = threading.local()


def run_budgeted(budget: Budget, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on this thread under ``budget``: :func:`current_budget` returns it meanwhile.

    Work that was given up while it waited for a worker does not start (``Abandoned``).
    """
    _CURRENT.budget = budget
    try:
        budget.check()
        return fn(*args)
    finally:
        _CURRENT.budget = None


def current_budget() -> Budget:
    """The budget of the running request's work, or an unlimited one when called outside of it."""
    return getattr(_CURRENT, "budget", None) or Budget(float("inf"))


@dataclass
class Context:
    """What the handlers share for the life of the app: settings, the sample store, a worker pool."""

    settings: Settings = field(default_factory=Settings)
    store: TempStore | None = None
    pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        if self.store is None:
            self.store = TempStore(self.settings.tmp_root, keep=self.settings.keep)
        if self.pool is None:
            # A couple more workers than the queue lets in: work that was given up frees its worker at
            # its next step (see Budget), and the spares absorb that short overlap.
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.settings.concurrency + 2, thread_name_prefix="videossr-space"
            )

    @property
    def menu(self) -> list[Answerer]:
        return answerers(list(self.settings.models), self.settings.allow_custom_endpoint)

    def answerer(self, key: str) -> Answerer:
        for item in self.menu:
            if key in (item.key, item.label):
                return item
        raise gr.Error(f"Unknown answerer {key!r}. Choose one from the list.")

    def close(self) -> None:
        assert self.pool is not None and self.store is not None
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.store.clear()
