"""The jobs of a build: groups of slots that share their videos, run in worker processes.

A *job* is a few videos and every slot of one wave assigned to them, so a video is decoded once for all
the questions it serves. Each job writes its rows to ``<jobs_dir>/<job>.parquet`` (one row per row group)
and then a small ``<job>.json`` marker, both through a temporary file and an atomic rename. A re-run finds
the markers, recomputes the same plan and only runs the jobs that have none: that is how a killed build
resumes with byte-identical output.

:func:`run_waves` drives the waves of one build (or one part of a sharded build) and returns where each
row is stored, as a :class:`RowLoc`, for the assembly step (:mod:`videossr.data.assembly`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from videossr.data.features import row_schema, rows_to_table
from videossr.data.plan import BuildError, Recipe, Slot, assign, needs_other, partner
from videossr.data.sources import VideoSource, decode_video
from videossr.errors import ClipUnusable
from videossr.rows import sample_to_row
from videossr.tasks import task_for_subtype

#: A job stops taking more videos once it holds this many slots (a video's slots are never split).
JOB_TARGET_SLOTS = 8
JOB_MAX_VIDEOS = 4
#: A video serving more questions than this (a small folder, many rows) is split over several jobs, each
#: decoding it once: bounds a job's memory (rows are held until the job writes them).
JOB_MAX_SLOTS = 64


#: Runs a wave's unfinished jobs elsewhere (e.g. on Ray): ``(jobs, recipe, jobs_dir, decode_timeout,
#: schema)`` -> ``(job, marker)`` pairs, each yielded once the job's files are written under ``jobs_dir``.
JobRunner = Callable[
    [list["Job"], dict[str, Any], Path, "float | None", Any], Iterator[tuple["Job", dict[str, Any]]]
]


class RowLoc(NamedTuple):
    """Where a finished row waits for assembly, and what assembly needs to know about it."""

    #: Which work folder holds the job file: ``"p0"`` for a plain build, ``"p<k>"`` for part ``k`` of a
    #: merged sharded build.
    part: str
    #: The job file in that folder (``w000-j00003.parquet``).
    file: str
    #: The row's row group in the job file (job files hold one row per row group).
    row_group: int
    #: Approximate stored size of the row (frame bytes plus a fixed overhead): cuts the shards.
    nbytes: int
    #: Id of the row's source video.
    source: str

    def stored(self) -> list[Any]:
        """The location without ``part``, as a sharded build's ``part.json`` records it (a merge assigns
        the part name)."""
        return [self.file, self.row_group, self.nbytes, self.source]


@dataclass
class Job:
    """The slots one worker call makes, each with its video and (for ``swap``) second video."""

    name: str
    # (slot, video, other video or None), grouped by video, in plan order
    items: list[tuple[Slot, VideoSource, VideoSource | None]] = field(default_factory=list)

    def spec(self) -> str:
        """A digest of what the job makes: a resumed build only reuses a job file with the same digest."""
        text = json.dumps(
            [[s.key, s.seed, v.id, o.id if o else None] for s, v, o in self.items], separators=(",", ":")
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def writing(path: Path, tmp: Path | None = None) -> Iterator[None]:
    """Name ``path`` in any ``OSError`` raised while writing it, and delete ``tmp`` on any error.

    A full disk surfaces from ``write()`` or pyarrow as ``[Errno 28] No space left on device`` with no
    file name; the build's one-line error then said nothing of where. The half-written temporary file
    is removed, so a failed build leaves no debris beside the finished files.
    """
    try:
        yield
    except BaseException as err:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not err.filename:
            text = str(err)
            if err.errno is not None:
                code, reason = err.errno, err.strerror or os.strerror(err.errno)
            elif "no space left" in text.lower():  # pyarrow's message carries the errno in its text
                code, reason = errno.ENOSPC, os.strerror(errno.ENOSPC)
            else:
                code, reason = errno.EIO, text or type(err).__name__
            raise OSError(code, reason, str(path)) from err
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new one, never half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path, tmp):
        tmp.write_text(text)
        os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Binary twin of :func:`atomic_write_text`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path, tmp):
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _worker_init(parent_pid: int) -> None:
    # Each worker is one process on one core: OpenCV's own thread pool would only oversubscribe.
    import cv2

    cv2.setNumThreads(1)

    # If the build is killed (kill -9, OOM killer), its pool workers are not told: they would wait
    # for work forever. Exit as soon as this process is re-parented; the re-run redoes any job a
    # worker had not marked complete.
    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()


def _failure(err: Exception, video: VideoSource) -> dict[str, str]:
    reason = getattr(err, "reason", "generation_failed")
    detail = str(getattr(err, "detail", "") or err)
    # Keep local paths out of the report: name the video by its id.
    detail = detail.replace(video.path, video.id)
    return {"reason": reason, "detail": detail[:300]}


def run_job(
    job: Job, recipe: dict[str, Any], jobs_dir: str, decode_timeout: float | None = None, schema: Any = None
) -> dict[str, Any]:
    """Make the rows of one job and write them (plus a completion marker) under ``jobs_dir``.

    Returns the marker: ``rows`` (``[slot key, video id, nbytes]`` in row-group order), ``failed_slots``,
    ``failures`` (video id -> reason and detail) and ``decoded`` (videos decoded).
    """
    cache: dict[str, Any] = {}
    failures: dict[str, dict[str, str]] = {}
    rows: list[dict] = []
    keys: list[str] = []
    failed: list[str] = []
    decoded = 0
    tasks: dict[str, Any] = {}
    for slot, video, other in job.items:
        if video.id in failures or (other is not None and other.id in failures):
            failed.append(slot.key)
            continue
        before = len(cache)
        clip = decode_video(video, recipe["max_pixels"], cache, decode_timeout)
        oclip = (
            decode_video(other, recipe["max_pixels"], cache, decode_timeout) if other is not None else None
        )
        decoded += len(cache) - before
        bad = [(v, c) for v, c in ((video, clip), (other, oclip)) if isinstance(c, Exception)]
        if bad:
            for v, c in bad:
                failures[v.id] = _failure(c, v)
            failed.append(slot.key)
            continue
        task = tasks.setdefault(slot.subtype, task_for_subtype(slot.subtype))
        try:
            sample = task.generate(clip, seed=slot.seed, other=oclip)
        except ClipUnusable as err:
            # Only a clip the task says it cannot use is skipped and reported; any other exception is a
            # bug in the task (a TypeError in a new generator) and fails the build with its traceback.
            failures[video.id] = _failure(err, video)
            failed.append(slot.key)
            continue
        row = sample_to_row(
            sample,
            id=slot.key,
            image_format=recipe["image_format"],
            quality=recipe["quality"],
            generator_version=recipe["generator_version"],
        )
        rows.append(row)
        keys.append(slot.key)
    # A video that failed late (generation) may already have given rows in this job: drop them so a
    # video is either used or skipped, never both.
    keep = [i for i, r in enumerate(rows) if r["source"] not in failures]
    failed += [keys[i] for i in sorted(set(range(len(rows))) - set(keep))]
    rows = [rows[i] for i in keep]
    keys = [keys[i] for i in keep]
    nbytes = [sum(len(f["bytes"]) for clip in r["videos"] for f in clip) + 1024 for r in rows]
    out = Path(jobs_dir)
    if rows:
        import pyarrow.parquet as pq

        table = rows_to_table(rows, extra={"_nbytes": nbytes}, schema=schema)
        # The pid keeps two writers apart (e.g. an orphaned worker of a killed build still finishing
        # the same job while the re-run redoes it): each renames its own complete file into place.
        tmp = out / f".{job.name}.{os.getpid()}.parquet.tmp"
        # One row per row group: assembly reads rows back one by one in any order without loading a
        # whole job file.
        with writing(out / f"{job.name}.parquet", tmp):
            pq.write_table(table, tmp, row_group_size=1)
            os.replace(tmp, out / f"{job.name}.parquet")
    marker = {
        "spec": job.spec(),
        "rows": [[k, r["source"], n] for k, r, n in zip(keys, rows, nbytes)],
        "failed_slots": failed,
        "failures": failures,
        "decoded": decoded,
    }
    atomic_write_text(out / f"{job.name}.json", json.dumps(marker, sort_keys=True))
    return marker


def make_jobs(
    wave: int, assignments: list[tuple[Slot, VideoSource]], videos: list[VideoSource], bad: set[str]
) -> list[Job]:
    """Group a wave's assignments by video (in video order) and cut them into jobs."""
    position = {v.id: k for k, v in enumerate(videos)}
    by_video: dict[str, list[tuple[Slot, VideoSource, VideoSource | None]]] = {}
    for slot, video in assignments:
        other = None
        if needs_other(slot.subtype):
            other = partner(video, videos, bad | {video.id})
            if other is None:
                raise BuildError(f"{slot.subtype} needs a second usable video, and there is only one")
        by_video.setdefault(video.id, []).append((slot, video, other))
    jobs: list[Job] = []
    current = Job(f"w{wave:03d}-j{0:05d}")
    nvid = 0
    for vid in sorted(by_video, key=lambda i: position[i]):
        items = sorted(by_video[vid], key=lambda t: t[0].order)
        for start in range(0, len(items), JOB_MAX_SLOTS):
            if current.items and (len(current.items) >= JOB_TARGET_SLOTS or nvid >= JOB_MAX_VIDEOS):
                jobs.append(current)
                current = Job(f"w{wave:03d}-j{len(jobs):05d}")
                nvid = 0
            current.items.extend(items[start : start + JOB_MAX_SLOTS])
            nvid += 1
    if current.items:
        jobs.append(current)
    return jobs


def _finished(job: Job, jobs_dir: Path) -> dict[str, Any] | None:
    """The marker of a job an earlier (interrupted) run completed, if it made the same rows."""
    marker = jobs_dir / f"{job.name}.json"
    if not marker.exists():
        return None
    try:
        done = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    if done.get("spec") == job.spec() and (
        not done.get("rows") or (jobs_dir / f"{job.name}.parquet").exists()
    ):
        return done
    return None


def _start_pool(num_proc: int) -> ProcessPoolExecutor:
    """The pool of ``num_proc`` worker processes a build's waves share."""
    import multiprocessing as mp

    # spawn, not fork: decord and OpenCV keep threads and global state a fork would copy half-initialised.
    return ProcessPoolExecutor(
        num_proc,
        mp_context=mp.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


def _run_here(
    todo: list[Job],
    fn: Callable[..., dict[str, Any]],
    args: tuple,
    pool: ProcessPoolExecutor | None,
    results: dict[str, dict],
    advance: Callable[[dict[str, Any]], None],
) -> None:
    """Run a wave's unfinished jobs on this machine: in ``pool`` when there is one and more than one job,
    else in this process. Each marker goes into ``results`` and the progress bar as it comes."""
    if pool is not None and len(todo) > 1:
        futures = {pool.submit(fn, job, *args): job for job in todo}
        for fut in as_completed(futures):
            results[futures[fut].name] = fut.result()
            advance(results[futures[fut].name])
    else:
        for job in todo:
            results[job.name] = fn(job, *args)
            advance(results[job.name])


def _merge_wave(
    jobs: list[Job],
    results: dict[str, dict],
    index: dict[str, RowLoc],
    bad: dict[str, dict[str, str]],
    stats: Counter[str],
) -> set[str]:
    """Fold a wave's job markers into the row index, the failed videos and the counters; returns the keys
    of the slots to make again in the next wave."""
    pending_keys: set[str] = set()
    for job in jobs:  # in job order, so failures are merged the same way every time
        res = results[job.name]
        stats["videos_decoded"] += res.get("decoded", 0)
        for k in sorted(res["failures"]):
            bad.setdefault(k, res["failures"][k])
        for row_group, (key, vid, nbytes) in enumerate(res["rows"]):
            index[key] = RowLoc("p0", f"{job.name}.parquet", row_group, nbytes, vid)
        pending_keys.update(res["failed_slots"])
    return pending_keys


def run_waves(
    recipe: Recipe,
    videos: list[VideoSource],
    work: Path,
    num_proc: int,
    progress: bool,
    decode_timeout: float | None,
    runner: JobRunner | None = None,
    job_fn: Callable[..., dict[str, Any]] | None = None,
) -> tuple[dict[str, RowLoc], dict[str, dict[str, str]], dict[str, int]]:
    """Run every wave of this shard, reusing the jobs an interrupted run finished.

    Jobs run in this process (``num_proc`` 1), in a pool of ``num_proc`` processes, or, with a
    ``runner`` (e.g. :class:`videossr.data.ray_engine.RayEngine`), wherever it sends them: a runner
    takes a wave's unfinished jobs and yields ``(job, marker)`` once it has written each job's files
    under ``jobs_dir``, as :func:`run_job` does. ``job_fn`` replaces :func:`run_job` in the local
    paths (:func:`videossr.data.remote.run_job_fetching` for videos behind URLs).

    Returns the row index (slot key -> :class:`RowLoc`, part ``"p0"``), the failed videos (id -> reason
    and detail) and counters (``jobs_run``, ``jobs_reused``, ``videos_decoded``).
    """
    from tqdm.auto import tqdm

    jobs_dir = work / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, RowLoc] = {}
    bad: dict[str, dict[str, str]] = {}
    stats: Counter[str] = Counter()
    pending = recipe.my_slots()
    schema = row_schema()  # built once here, shipped to workers
    bar = tqdm(total=len(pending), desc=f"build {recipe.kind}", unit="row", disable=not progress)
    used: set[str] = set()
    failed_videos: set[str] = set()

    def advance(marker: dict[str, Any]) -> None:
        # One bar for the whole build: rows written (its count and rate), videos used and failed so far.
        used.update(vid for _, vid, _ in marker["rows"])
        failed_videos.update(marker["failures"])
        bar.set_postfix(videos=len(used), failed=len(failed_videos), refresh=False)
        bar.update(len(marker["rows"]))

    pool = None
    try:
        for wave in range(10_000):
            if not pending:
                break
            uses = Counter(loc.source for loc in index.values())
            assignments = assign(pending, videos, set(bad), dict(uses))
            if not assignments:
                reasons = Counter(f["reason"] for f in bad.values())
                raise BuildError(
                    f"no usable video left: {len(bad)} of {len(videos)} videos failed "
                    f"({', '.join(f'{n} {r}' for r, n in reasons.most_common())}); "
                    f"{len(pending)} rows not made"
                )
            jobs = make_jobs(wave, assignments, videos, set(bad))
            todo: list[Job] = []
            results: dict[str, dict] = {}
            for job in jobs:
                done = _finished(job, jobs_dir)
                if done is not None:
                    results[job.name] = done
                    stats["jobs_reused"] += 1
                    advance(done)
                else:
                    todo.append(job)
            recipe_d = recipe.to_dict()
            fn = job_fn or run_job  # looked up now: tests replace jobs.run_job
            if runner is not None:
                for job, res in runner(todo, recipe_d, jobs_dir, decode_timeout, schema):
                    results[job.name] = res
                    advance(res)
            else:
                if todo and num_proc > 1 and pool is None:
                    pool = _start_pool(num_proc)  # here, so that the finally below shuts it down
                _run_here(todo, fn, (recipe_d, str(jobs_dir), decode_timeout, schema), pool, results, advance)
            stats["jobs_run"] += len(todo)
            pending_keys = _merge_wave(jobs, results, index, bad, stats)
            pending = [s for s in pending if s.key in pending_keys]
        else:  # pragma: no cover - cannot happen: every wave marks at least one video bad or finishes
            raise BuildError("the build did not converge")
    finally:
        bar.close()
        if pool is not None:
            # On Ctrl-C or an error, do not run the queued jobs first; finished ones are kept on disk.
            pool.shutdown(wait=True, cancel_futures=True)
    return index, bad, dict(stats)
