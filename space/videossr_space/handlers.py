"""The Space's logic as plain functions: choose a video, generate a task, answer it, score it.

``app.py`` only lays out components and wires these functions to them, so everything here can be called
from tests (or a notebook) without a browser. Errors meant for people are raised as ``gr.Error`` with a
plain message; anything unexpected is logged with its stack trace on the server and shown to the person
as a short message with a reference code (see :func:`friendly`).

The rest lives next to this module: operator settings and the shared context in ``settings.py``, videos
(examples, uploads, decoded clips, gradio's bounded file cache) in ``uploads.py``, the VIUBench tab in
``bench.py``, who answers in ``answerers.py``. Their public names are re-exported here, so ``handlers``
stays the one import of the layout. Nothing here names a task: the option widgets, the task list and the
timeline come from the registered tasks (``videossr.tasks.TASKS``).
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np

import videossr
from videossr.export import save_sample
from videossr.metrics import TABLE1_KEYS
from videossr.tasks import TASKS
from videossr.types import Sample

from .answerers import BackendUnavailable, reply_for
from .bench import bench_figure, bench_table, local_results, result_row
from .settings import Abandoned, Budget, Context, Settings, current_budget, run_budgeted
from .tempstore import UnknownSample
from .uploads import (
    CLIPS,
    ClipCache,
    check_upload,
    decode,
    default_example,
    discard_upload,
    examples,
    in_use,
    resolve_video,
    sweep_cache,
    upload_roots,
)

log = logging.getLogger("videossr.space")
T = TypeVar("T")


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


MAX_CLIPS = 8  # the hard jigsaw has 8 clips: the page holds that many players
MAX_SEED = 2**31 - 1


# --------------------------------------------------------------------------------------------------
# Errors and timeouts
# --------------------------------------------------------------------------------------------------
def friendly(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn unexpected exceptions into a short ``gr.Error``; the stack trace goes to the server log only."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except BackendUnavailable as err:
                raise gr.Error(str(err)) from None
            except Exception:
                ref = uuid.uuid4().hex[:8]
                log.exception("%s failed (ref %s)", action, ref)
                raise gr.Error(
                    f"Something went wrong while {action}. Please try again (ref {ref})."
                ) from None

        return inner

    return wrap


def run_with_timeout(
    ctx: Context, seconds: float, what: str, fn: Callable[..., T], *args: Any, hint: str = "Please try again."
) -> T:
    """Run ``fn(*args)`` on the worker pool and give up waiting after ``seconds``.

    The work gets a :class:`~settings.Budget` (see :func:`settings.current_budget`): it stops at its
    next step once the request gives up, its decoder process is killed at the deadline, and its model
    or endpoint call is bounded by the time left. So work that was given up frees its worker within
    one step instead of starving the requests that come after it.
    """
    assert ctx.pool is not None
    budget = Budget(seconds)
    future = ctx.pool.submit(run_budgeted, budget, fn, *args)
    message = f"{what} took longer than {seconds:.0f} s and was given up. {hint}"
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        budget.abandon()
        future.cancel()
        raise gr.Error(message) from None
    except Abandoned:
        raise gr.Error(message) from None


# --------------------------------------------------------------------------------------------------
# Generate
# --------------------------------------------------------------------------------------------------
@dataclass
class Generated:
    """A generated sample as the page shows it."""

    sample_id: str
    question: str
    videos: list[str]  # mp4 paths: one for grounding/counting, the clips in display order for jigsaw
    labels: list[str]
    info: dict[str, Any]
    answer: str


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


def _other_example(source: Path) -> Path:
    """Another bundled video for the cross-video ``swap`` perturbation: the smallest file, quick to decode."""
    paths = sorted((p for p in examples().values() if p != source), key=lambda p: (p.stat().st_size, p.name))
    if not paths:
        raise gr.Error("The swap perturbation needs a second video, and none is bundled.")
    return paths[0]


def _save(sample: Sample, folder: Path) -> None:
    """Playable clips and ``sample.json`` (``videossr.export``) plus raw frames for the answering models."""
    save_sample(sample, folder)
    for i, frames in enumerate(sample.videos):
        np.save(folder / f"frames_{i}.npy", np.ascontiguousarray(frames))


def _servable(sample_id: str, clips: list[Path]) -> list[Path]:
    """The clips at paths gradio agrees to serve.

    gradio only serves returned files from the working directory, the temp dir, its own upload folder or
    ``allowed_paths``. A store set elsewhere (``VIDEOSSR_SPACE_TMP=/data/...``) is not added to
    ``allowed_paths``: that would serve every file under it (answers, frames, or anything else in a
    shared folder) to whoever can name it. Its clips are linked (or copied, across file systems) into
    gradio's upload folder instead, whose size :func:`sweep_cache` bounds.
    """
    import os
    import shutil
    import tempfile

    if not clips:
        return clips
    folder = clips[0].parent.resolve()
    if any(folder.is_relative_to(Path(root).resolve()) for root in (os.getcwd(), tempfile.gettempdir())):
        return clips
    target = upload_roots()[0] / "videossr-clips" / sample_id
    target.mkdir(parents=True, exist_ok=True)
    served = []
    for clip in clips:
        copy = target / clip.name
        try:
            os.link(clip, copy)  # no second copy on disk where the two folders share a file system
        except OSError:
            shutil.copyfile(clip, copy)
        served.append(copy)
    return served


def _generate(ctx: Context, path: Path, name: str, task: videossr.Task, seed: int) -> Generated:
    settings = ctx.settings
    assert ctx.store is not None
    budget = current_budget()
    upload = name == "your upload"
    clip = decode(path, settings, budget, upload=upload)
    other = None
    if task.needs_other_clip:  # e.g. grounding's swap borrows frames from another video
        other = decode(_other_example(path), settings, budget)
    budget.check()
    sample = task.generate(clip, seed=seed, other=other)
    budget.check()  # nothing is written for a request that was given up
    with ctx.store.new() as (sample_id, folder):
        _save(sample, folder)
        budget.check()
    n = len(sample.videos)
    # `save_sample` names the clips clip.mp4, or clip_1.mp4 .. clip_n.mp4 in display order for jigsaw.
    videos = _servable(
        sample_id, [folder / ("clip.mp4" if n == 1 else f"clip_{i + 1}.mp4") for i in range(n)]
    )
    labels = ["Video"] if n == 1 else [f"Clip {i + 1}" for i in range(n)]
    info = {
        "subtype": sample.subtype,
        "source": name,  # never the server path
        "seed": seed,
        "frames": int(sum(v.shape[0] for v in sample.videos)),
        "frame_size": list(sample.videos[0].shape[1:3]),
        "fps": round(sample.fps, 4),
        "duration_s": round(sum(v.shape[0] for v in sample.videos) / sample.fps, 2),
        "num_videos": n,  # one player, or n clip players
    }
    # What the task chose, when it says (grounding: the perturbation and its family; jigsaw: the clips).
    info.update({k: sample.params[k] for k in ("perturbation", "family", "clips") if k in sample.params})
    return Generated(sample_id, sample.prompt, [str(v) for v in videos], labels, info, sample.answer)


@friendly("generating the task")
def generate(
    ctx: Context,
    upload: Any,
    example: str | None,
    task: str,
    perturbation: str | None,
    difficulty: str | None,
    seed: Any,
    **options: Any,
) -> Generated:
    """Make one pretext question from the chosen video (validated input, bounded time and disk)."""
    try:
        path, name = resolve_video(upload, example, ctx.settings)
        task_obj = make_task(task, perturbation, difficulty, **options)
        value = _seed(seed)
        with in_use(path):
            return run_with_timeout(
                ctx,
                ctx.settings.timeout_s,
                "Generating the task",
                _generate,
                ctx,
                path,
                name,
                task_obj,
                value,
                hint="Try a shorter or smaller video.",
            )
    finally:
        sweep_cache(ctx.settings)  # gradio's cache of uploads and served clips stays within its limits


# --------------------------------------------------------------------------------------------------
# Answer
# --------------------------------------------------------------------------------------------------
def load_sample(ctx: Context, sample_id: str) -> Sample:
    """The stored sample ``sample_id`` (frames memory-mapped from disk)."""
    assert ctx.store is not None
    try:
        folder = ctx.store.path(str(sample_id or ""))
        meta = json.loads((folder / "sample.json").read_text())
        videos = [np.load(folder / f"frames_{i}.npy", mmap_mode="r") for i in range(meta["num_videos"])]
    except (UnknownSample, FileNotFoundError):
        raise gr.Error(
            "This task is no longer available (tasks are kept for a while only). Generate a new one."
        ) from None
    return Sample(
        task=meta["task"],
        subtype=meta["subtype"],
        parts=meta["parts"],
        answer=meta["answer"],
        videos=videos,
        fps=meta["fps"],
        params=meta["params"],
        source=meta["source"],
        seed=meta["seed"],
    )


@dataclass
class Verdict:
    """A reply and what the verifiers make of it."""

    reply: str
    reward: float  # the paper's smooth training reward
    score: float  # the VIUBench metric of this item
    exact: float  # the strict 0/1 reward (exact match)
    answer: str
    sample: Sample
    parsing: str = "strict"

    @property
    def summary(self) -> str:
        mark = (
            # Plain words, no emoji: not every browser or font can draw them.
            "Exactly right" if self.exact == 1.0 else ("Partly right" if self.reward > 0 else "No credit")
        )
        return (
            f"**{mark}** · reward {self.reward:.3f} · VIUBench score {self.score:.3f} · "
            f"true answer `{self.answer}` ({self.parsing} parsing)"
        )


def verify(sample: Sample, reply: str, parsing: str = "strict") -> Verdict:
    """Score ``reply`` against the sample with the task's own verifiers (they never raise)."""
    if parsing not in ("strict", "lenient"):
        raise gr.Error("Parsing must be 'strict' or 'lenient'.")
    task = videossr.task_for_subtype(sample.subtype)
    return Verdict(
        reply=reply,
        reward=task.reward(reply, sample.answer, parsing),
        score=task.score(reply, sample.answer, parsing),
        exact=task.strict_reward(reply, sample.answer, parsing),
        answer=sample.answer,
        sample=sample,
        parsing=parsing,
    )


def _reply(who: Any, sample: Sample, sample_id: str, typed: str, endpoint: tuple[str, str, str]) -> str:
    # An endpoint call gets only the time the request has left, so it cannot outlive the request.
    return reply_for(who, sample, sample_id, typed, endpoint, max(current_budget().remaining(), 0.1))


def _scrub(message: str, secret: str) -> str:
    return message.replace(secret, "***") if secret else message


@friendly("answering")
def answer(
    ctx: Context,
    sample_id: str,
    answerer: str,
    typed: str = "",
    parsing: str = "strict",
    endpoint_url: str = "",
    endpoint_model: str = "",
    api_key: str = "",
) -> Verdict:
    """Get a reply from ``answerer`` (or take the typed one) and verify it."""
    who = ctx.answerer(answerer)
    sample = load_sample(ctx, sample_id)
    if who.key == "person" and not (typed or "").strip():
        raise gr.Error("Type your answer first (see the question for the format).")
    try:
        reply = run_with_timeout(
            ctx,
            ctx.settings.timeout_s,
            "The answer",
            _reply,
            who,
            sample,
            str(sample_id),
            typed,
            (endpoint_url or "", endpoint_model or "", api_key or ""),
        )
    except gr.Error:
        raise
    except BackendUnavailable as err:
        raise gr.Error(_scrub(str(err), api_key or "")) from None
    except Exception as err:
        # A model or endpoint failing is expected now and then; say so without its internals or the key.
        ref = uuid.uuid4().hex[:8]
        log.error("answerer %s failed (ref %s): %s", who.key, ref, _scrub(repr(err), api_key or ""))
        raise gr.Error(
            f"{who.label} could not answer (ref {ref}). Try again or pick another answerer."
        ) from None
    return verify(sample, reply, parsing)


@friendly("showing the answer")
def reveal(ctx: Context, sample_id: str) -> str:
    """The true answer of a stored sample."""
    return load_sample(ctx, sample_id).answer


# --------------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------------
def has_timeline(task: str) -> bool:
    """Whether the task draws its replies on the clip's timeline (its ``timeline`` view; grounding)."""
    cls = TASKS.get(task)
    return cls is not None and cls.has_timeline()


def timeline_figure(verdict: Verdict) -> Any:
    """The task's timeline view, the true and the predicted interval on the clip (``None`` for tasks
    without one)."""
    sample = verdict.sample
    if not has_timeline(sample.task):
        return None
    view = (
        TASKS[sample.task]
        .from_subtype(sample.subtype)
        .timeline(verdict.reply, sample.answer, verdict.parsing)
    )
    if view is None:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure

    true, pred = view
    duration = sample.videos[0].shape[0] / sample.fps
    fig = Figure(figsize=(7, 1.8), layout="constrained")
    ax = fig.add_subplot()
    rows = [("true", true, "#2e7d32")]
    rows.append(("predicted", pred, "#ef6c00"))
    for y, (_name, interval, color) in enumerate(rows):
        if interval is not None:
            start, end = interval
            ax.barh(y, max(end - start, duration * 0.004), left=start, height=0.6, color=color)
            ax.text(
                min(end, duration) + duration * 0.01, y, f"{start:.1f}-{end:.1f} s", va="center", fontsize=9
            )
        else:
            ax.text(duration * 0.01, y, "unparsable reply", va="center", fontsize=9, color="#b71c1c")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlim(0, duration * 1.18)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.axvline(duration, color="#9e9e9e", lw=1, ls="--")
    ax.set_xlabel("seconds on the clip's timeline")
    ax.set_title(f"{TASKS[sample.task].metric_name} {verdict.score:.3f}", fontsize=10)
    return fig


__all__ = [
    "CLIPS",
    "ClipCache",
    "Context",
    "OptionWidget",
    "Generated",
    "Settings",
    "TABLE1_KEYS",
    "Verdict",
    "answer",
    "bench_figure",
    "bench_table",
    "check_upload",
    "current_budget",
    "default_example",
    "discard_upload",
    "examples",
    "generate",
    "has_timeline",
    "load_sample",
    "local_results",
    "make_task",
    "option_widgets",
    "resolve_video",
    "result_row",
    "reveal",
    "sweep_cache",
    "task_choices",
    "timeline_figure",
    "upload_roots",
    "verify",
]
