"""The Space's logic as plain functions: choose a video, generate a task, answer it, score it.

``app.py`` only lays out components and wires these functions to them, so everything here can be called
from tests (or a notebook) without a browser. Errors meant for people are raised as ``gr.Error`` with a
plain message; anything unexpected is logged with its stack trace on the server and shown to the person
as a short message with a reference code (see :func:`friendly`).

The rest lives next to this module: operator settings and the shared context in ``settings.py``, videos
(examples, uploads, decoded clips, gradio's bounded file cache) in ``uploads.py``, the VIUBench tab in
``bench.py``, who answers in ``answerers.py``, the form (task list, option widgets, clip players, input
checks) in ``form.py``, the verdict on a reply and its timeline in ``verdicts.py``. Their public names are
re-exported here, so ``handlers`` stays the one import of the layout. Nothing here names a task: the option
widgets, the task list, the clip players and the timeline come from the registered tasks
(``videossr.tasks.TASKS``).
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
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
from videossr.types import Sample

from .answerers import BackendUnavailable, reply_for
from .bench import bench_figure, bench_table, local_results, result_row
from .form import MAX_SEED, OptionWidget, _seed, make_task, max_clips, option_widgets, task_choices
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
from .verdicts import Verdict, has_timeline, timeline_figure, verify

log = logging.getLogger("videossr.space")
T = TypeVar("T")


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


__all__ = [
    "CLIPS",
    "MAX_SEED",
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
    "max_clips",
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
