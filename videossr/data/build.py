"""The dataset build engine: videos in, a Hub-ready dataset repo folder out.

How a build runs:

1. The source videos are listed, excluded ones removed, and put in a seeded order.
2. Every row to make is a *slot* with its own seed (:mod:`videossr.data.plan`). Slots are assigned to
   videos in *waves*; each wave is cut into *jobs* (a few videos and all the slots assigned to them), so a
   video is decoded once for all the questions it serves in a wave.
3. Jobs run in worker processes. Each writes its rows to ``REPO_DIR/.build/jobs/<job>.parquet`` and then a
   small ``<job>.json`` marker (both via a temporary file and an atomic rename). A killed build re-run
   finds the markers, recomputes the same plan and redoes only the missing jobs.
4. Videos that fail (corrupt, too short, unreadable) are recorded with the reason; their slots go to the
   next wave. The plan only depends on which videos failed, so the output is the same whatever
   ``num_proc`` is and whether the build was interrupted.
5. The repo folder is assembled: Parquet shards in a fixed order (``data/<config>/<split>-XXXXX-of-YYYYY
   .parquet``), ``README.md`` (dataset card), ``build_report.json`` and ``preview.jpg``. Then ``.build``
   is removed, so the folder is exactly what goes to the Hub.

A sharded build (``num_shards > 1``) stops after step 4 and leaves a *part* folder; :func:`merge`
assembles the parts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.data.features import ROW_COLUMNS, row_schema, rows_to_table
from videossr.data.plan import (
    VIUBENCH_SUBTYPES,
    Recipe,
    Slot,
    assign,
    my_videos,
    needs_other,
    parse_mix,
    partner,
    split_counts,
    task_of,
    video_order,
)
from videossr.data.sources import (
    VideoSource,
    check_output_location,
    is_excluded,
    load_exclusions,
    resolve_videos,
)
from videossr.errors import VideoSSRError

WORK_DIR = ".build"
REPORT_FILE = "build_report.json"
PREVIEW_FILE = "preview.jpg"
#: A job stops taking more videos once it holds this many slots (a video's slots are never split).
JOB_TARGET_SLOTS = 8
JOB_MAX_VIDEOS = 4
#: A video serving more questions than this (a small folder, many rows) is split over several jobs, each
#: decoding it once: bounds a job's memory (rows are held until the job writes them).
JOB_MAX_SLOTS = 64
#: Parquet shards are cut at this many bytes of rows (deterministic: row sizes are deterministic).
MAX_SHARD_BYTES = 500 * 1024 * 1024
#: Rows per Parquet row group: small groups keep the Hub dataset viewer and random access cheap.
ROW_GROUP_ROWS = 16
#: Default per-video decode budget (seconds). Only a broken file gets anywhere near it, so it does not
#: make builds machine-dependent in practice.
DECODE_TIMEOUT = 300.0


class BuildError(VideoSSRError):
    """A build cannot go on (no usable video, inconsistent folder, ...)."""


@dataclass
class BuildResult:
    """What :func:`build_dataset` / :func:`merge` produced."""

    out: Path
    rows: int
    configs: dict[str, int]
    skipped: dict[str, dict[str, str]]
    complete: bool
    seconds: float = 0.0
    jobs_run: int = 0
    jobs_reused: int = 0
    videos_decoded: int = 0


# --------------------------------------------------------------------------------------------------
# Recipes of the two datasets
# --------------------------------------------------------------------------------------------------
def viubench_recipe(per_subtype: int = 300, seed: int = 0, **kw: Any) -> Recipe:
    """The VIUBench recipe: 9 subtypes x ``per_subtype`` questions, frames up to 512x512, ``test`` split."""
    from videossr import __version__
    from videossr.video import BENCH_MAX_PIXELS

    if per_subtype < 1:
        raise ValueError("--per-subtype must be at least 1")
    kw.setdefault("max_pixels", BENCH_MAX_PIXELS)
    kw.setdefault("generator_version", __version__)
    return Recipe(kind="viubench", counts={s: int(per_subtype) for s in VIUBENCH_SUBTYPES}, seed=seed, **kw)


def videossr30k_recipe(size: int = 30000, seed: int = 0, mix: str | dict | None = None, **kw: Any) -> Recipe:
    """The VideoSSR-30K recipe: ``size`` rows in the SPEC §8 mix (or ``mix``), frames up to 256x256."""
    from videossr import __version__
    from videossr.video import TRAIN_MAX_PIXELS

    if size < 1:
        raise ValueError("--size must be at least 1")
    counts = {k: v for k, v in split_counts(int(size), parse_mix(mix)).items() if v > 0}
    kw.setdefault("max_pixels", TRAIN_MAX_PIXELS)
    kw.setdefault("generator_version", __version__)
    return Recipe(kind="videossr-30k", counts=counts, seed=seed, **kw)


# --------------------------------------------------------------------------------------------------
# Jobs (run in worker processes)
# --------------------------------------------------------------------------------------------------
@dataclass
class Job:
    name: str
    # (slot, video, other video or None), grouped by video, in plan order
    items: list[tuple[Slot, VideoSource, VideoSource | None]] = field(default_factory=list)

    def spec(self) -> str:
        """A digest of what the job makes: a resumed build only reuses a job file with the same digest."""
        text = json.dumps(
            [[s.key, s.seed, v.id, o.id if o else None] for s, v, o in self.items], separators=(",", ":")
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def _load(video: VideoSource, max_pixels: int, cache: dict, timeout: float | None = None) -> Any:
    """The clip of a video (or the exception it raised), decoded once per job.

    With a ``timeout``, decoding runs in a forked child (:func:`videossr.video.load_clip_isolated`): a
    decoder that hangs or crashes on one crawled file then costs that video, not the whole build.
    """
    if video.id not in cache:
        from videossr.errors import VideoError
        from videossr.video import load_clip, load_clip_isolated

        try:
            if timeout:
                clip = load_clip_isolated(video.path, timeout=timeout, max_pixels=max_pixels)
            else:
                clip = load_clip(video.path, max_pixels=max_pixels)
            cache[video.id] = dataclasses.replace(clip, source=video.id)
        except VideoError as err:
            cache[video.id] = err
        except Exception as err:  # noqa: BLE001 - any decoder crash makes the video unusable, not the build
            cache[video.id] = VideoError(video.path, "undecodable", f"{type(err).__name__}: {err}"[:200])
    return cache[video.id]


def _failure(err: Exception, video: VideoSource) -> dict[str, str]:
    reason = getattr(err, "reason", "generation_failed")
    detail = str(getattr(err, "detail", "") or err)
    # Keep local paths out of the report: name the video by its id.
    detail = detail.replace(video.path, video.id)
    return {"reason": reason, "detail": detail[:300]}


def run_job(
    job: Job, recipe: dict[str, Any], jobs_dir: str, decode_timeout: float | None = None, schema: Any = None
) -> dict[str, Any]:
    """Make the rows of one job and write them (plus a completion marker) under ``jobs_dir``."""
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype

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
        clip = _load(video, recipe["max_pixels"], cache, decode_timeout)
        oclip = _load(other, recipe["max_pixels"], cache, decode_timeout) if other is not None else None
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
        except Exception as err:  # noqa: BLE001 - e.g. a degenerate clip a task cannot use
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
        pq.write_table(table, tmp, row_group_size=1)
        os.replace(tmp, out / f"{job.name}.parquet")
    marker = {
        "spec": job.spec(),
        "rows": [[k, r["source"], n] for k, r, n in zip(keys, rows, nbytes)],
        "failed_slots": failed,
        "failures": failures,
        "decoded": decoded,
    }
    _atomic_write_text(out / f"{job.name}.json", json.dumps(marker, sort_keys=True))
    return marker


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _make_jobs(
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


def _run_waves(
    recipe: Recipe,
    videos: list[VideoSource],
    work: Path,
    num_proc: int,
    progress: bool,
    decode_timeout: float | None,
) -> tuple[dict[str, tuple[str, int, int, str]], dict[str, dict[str, str]], dict[str, int]]:
    """Run every wave of this shard. Returns the row index (slot key -> (job file, row group, bytes,
    video id)), the failed videos, and counters."""
    from tqdm.auto import tqdm

    jobs_dir = work / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, tuple[str, int, int, str]] = {}
    bad: dict[str, dict[str, str]] = {}
    stats = Counter()
    pending = recipe.my_slots()
    total = len(pending)
    schema = row_schema()  # built once here, shipped to workers
    bar = tqdm(total=total, desc=f"build {recipe.kind}", unit="row", disable=not progress)
    pool = None
    try:
        for wave in range(10_000):
            if not pending:
                break
            uses = Counter(v for (_, _, _, v) in index.values())
            assignments = assign(pending, videos, set(bad), dict(uses))
            if not assignments:
                reasons = Counter(f["reason"] for f in bad.values())
                raise BuildError(
                    f"no usable video left: {len(bad)} of {len(videos)} videos failed "
                    f"({', '.join(f'{n} {r}' for r, n in reasons.most_common())}); {len(pending)} rows not made"
                )
            jobs = _make_jobs(wave, assignments, videos, set(bad))
            todo: list[Job] = []
            results: dict[str, dict] = {}
            for job in jobs:
                marker = jobs_dir / f"{job.name}.json"
                if marker.exists():
                    try:
                        done = json.loads(marker.read_text())
                    except json.JSONDecodeError:
                        done = {}
                    if done.get("spec") == job.spec() and (
                        not done.get("rows") or (jobs_dir / f"{job.name}.parquet").exists()
                    ):
                        results[job.name] = done
                        stats["jobs_reused"] += 1
                        bar.update(len(done["rows"]))
                        continue
                todo.append(job)
            recipe_d = recipe.to_dict()
            if todo and num_proc > 1 and pool is None:
                import multiprocessing as mp

                # spawn, not fork: decord and OpenCV keep threads and global state a fork would copy
                # half-initialised.
                pool = ProcessPoolExecutor(
                    num_proc,
                    mp_context=mp.get_context("spawn"),
                    initializer=_worker_init,
                    initargs=(os.getpid(),),
                )
            if pool is not None and len(todo) > 1:
                futures = {
                    pool.submit(run_job, job, recipe_d, str(jobs_dir), decode_timeout, schema): job
                    for job in todo
                }
                for fut in as_completed(futures):
                    results[futures[fut].name] = fut.result()
                    bar.update(len(results[futures[fut].name]["rows"]))
            else:
                for job in todo:
                    results[job.name] = run_job(job, recipe_d, str(jobs_dir), decode_timeout, schema)
                    bar.update(len(results[job.name]["rows"]))
            stats["jobs_run"] += len(todo)
            pending_keys: set[str] = set()
            for job in jobs:  # in job order, so failures are merged the same way every time
                res = results[job.name]
                stats["videos_decoded"] += res.get("decoded", 0)
                for k in sorted(res["failures"]):
                    bad.setdefault(k, res["failures"][k])
                for row_group, (key, vid, nbytes) in enumerate(res["rows"]):
                    index[key] = (f"{job.name}.parquet", row_group, nbytes, vid)
                pending_keys.update(res["failed_slots"])
            pending = [s for s in pending if s.key in pending_keys]
        else:  # pragma: no cover - cannot happen: every wave marks at least one video bad or finishes
            raise BuildError("the build did not converge")
    finally:
        bar.close()
        if pool is not None:
            # On Ctrl-C or an error, do not run the queued jobs first; finished ones are kept on disk.
            pool.shutdown(wait=True, cancel_futures=True)
    return index, bad, dict(stats)


# --------------------------------------------------------------------------------------------------
# Layout of the repo folder
# --------------------------------------------------------------------------------------------------
def layout(recipe: Recipe) -> dict[str, tuple[str, list[str]]]:
    """Config name -> (split, slot keys in row order) for the final repo folder."""
    import numpy as np

    slots = recipe.slots()
    if recipe.kind == "viubench":
        return {
            sub: ("test", [s.key for s in sorted(slots, key=lambda s: s.index) if s.subtype == sub])
            for sub in recipe.counts
        }
    # Training set: one shuffled mix (the default config), plus the same rows per task.
    perm = np.random.default_rng([int(recipe.seed), 30_000]).permutation(len(slots))
    mixed = [slots[i].key for i in perm]
    out: dict[str, tuple[str, list[str]]] = {"default": ("train", mixed)}
    if recipe.task_configs:
        sub_of = {s.key: s.subtype for s in slots}
        for task in dict.fromkeys(task_of(s) for s in recipe.counts):
            out[task] = ("train", [k for k in mixed if task_of(sub_of[k]) == task])
    return out


def _shard_bounds(sizes: list[int], max_bytes: int) -> list[tuple[int, int]]:
    bounds, start, acc = [], 0, 0
    for i, n in enumerate(sizes):
        if i > start and acc + n > max_bytes:
            bounds.append((start, i))
            start, acc = i, 0
        acc += n
    bounds.append((start, len(sizes)))
    return bounds


class _RowReader:
    """Reads single rows back from job files, keeping a few files open."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs
        self.open: dict[str, Any] = {}

    def read(self, where: tuple[str, str, int]):
        import pyarrow.parquet as pq

        part, fname, row_group = where
        key = f"{part}/{fname}"
        if key not in self.open:
            if len(self.open) > 64:
                self.open.pop(next(iter(self.open)))
            self.open[key] = pq.ParquetFile(self.dirs[part] / fname)
        return self.open[key].read_row_group(row_group, columns=list(ROW_COLUMNS))


def _write_shards(
    out: Path,
    config: str,
    split: str,
    keys: list[str],
    where: dict[str, tuple[str, str, int]],
    sizes: dict[str, int],
    reader: _RowReader,
    tmp_dir: Path,
    max_shard_bytes: int,
) -> tuple[list[str], int, int]:
    """Write one config's shards; returns their paths, the Arrow size of the rows and the files' size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = row_schema()
    bounds = _shard_bounds([sizes[k] for k in keys], max_shard_bytes)
    folder = out / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    arrow_bytes = file_bytes = 0
    for k, (a, b) in enumerate(bounds):
        name = f"{split}-{k:05d}-of-{len(bounds):05d}.parquet"
        table = pa.concat_tables([reader.read(where[key]) for key in keys[a:b]]).cast(schema)
        tmp = tmp_dir / f"{config}-{name}"
        # Written outside data/ and renamed in: a half-written shard is never visible to load_dataset.
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="snappy")
        os.replace(tmp, folder / name)
        names.append(f"data/{config}/{name}")
        arrow_bytes += table.nbytes
        file_bytes += (folder / name).stat().st_size
    for stale in folder.glob("*.parquet"):
        if f"data/{config}/{stale.name}" not in names:
            stale.unlink()
    return names, arrow_bytes, file_bytes


def _assemble(
    out: Path,
    recipe: Recipe,
    parts: dict[str, Path],
    index: dict[str, tuple[str, str, int, int, str]],
    bad: dict[str, dict[str, str]],
    sources: list[VideoSource],
    origin: str,
    excluded: int,
    progress: bool,
    max_shard_bytes: int,
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from videossr.data.card import render_card, render_preview

    plan = layout(recipe)
    missing = [k for _, keys in plan.values() for k in keys if k not in index]
    if missing:
        raise BuildError(f"{len(missing)} rows are missing from the build (first: {missing[0]})")
    where = {k: (v[0], v[1], v[2]) for k, v in index.items()}
    sizes = {k: v[3] for k, v in index.items()}
    tmp_dir = out / WORK_DIR / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    reader = _RowReader(parts)
    files: dict[str, tuple[list[str], int, int]] = {}
    for config, (split, keys) in tqdm(plan.items(), desc="write shards", unit="config", disable=not progress):
        files[config] = _write_shards(
            out, config, split, keys, where, sizes, reader, tmp_dir, max_shard_bytes
        )
    data_root = out / "data"
    for folder in data_root.iterdir():
        if folder.is_dir() and folder.name not in plan:
            shutil.rmtree(folder)
    used = Counter(v[4] for v in index.values())
    report = {
        "dataset": recipe.kind,
        "generator_version": recipe.generator_version,
        "recipe": recipe.to_dict() | {"shard_index": 0},
        "videos": {
            "origin": origin,
            "found": len(sources) + excluded,
            "excluded": excluded,
            "used": len(used),
            "skipped": len(bad),
            "max_rows_per_video": max(used.values()) if used else 0,
        },
        "configs": {
            c: {
                "split": plan[c][0],
                "rows": len(plan[c][1]),
                "files": files[c][0],
                "num_bytes": files[c][1],
                "download_size": files[c][2],
            }
            for c in plan
        },
        "skipped": [{"id": k, **bad[k]} for k in sorted(bad)],
        "sources": [{"id": k, "rows": used[k]} for k in sorted(used)],
    }
    preview_rows = {}
    for config, (_, keys) in plan.items():
        if config in recipe.counts or recipe.kind == "viubench":
            preview_rows[config] = reader.read(where[keys[0]]).to_pylist()[0]
    if recipe.kind != "viubench":  # one example per subtype for the training set
        for sub in recipe.counts:
            key = next(k for k in plan["default"][1] if k.startswith(sub + "-"))
            preview_rows[sub] = reader.read(where[key]).to_pylist()[0]
    _atomic_write_bytes(out / PREVIEW_FILE, render_preview(preview_rows))
    _atomic_write_text(out / REPORT_FILE, json.dumps(report, indent=2, sort_keys=True) + "\n")
    _atomic_write_text(out / "README.md", render_card(report, preview_rows))
    return report


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------
def _prepare_out(out: Path, recipe: Recipe, overwrite: bool) -> Path:
    """Check (or create) the output folder and its progress manifest; returns the work folder."""
    work = out / WORK_DIR
    manifest = work / "manifest.json"
    want = {"format": 1, "recipe": recipe.to_dict()}
    if out.exists() and overwrite:
        for name in ("data", WORK_DIR):
            if (out / name).exists():
                shutil.rmtree(out / name)
        for name in ("README.md", REPORT_FILE, PREVIEW_FILE, "part.json"):
            (out / name).unlink(missing_ok=True)
    if out.exists() and any(out.iterdir()):
        if manifest.exists():
            have = json.loads(manifest.read_text())
            if have != want:
                raise BuildError(
                    f"{out} holds an unfinished build with other options; re-run with the same options to resume, "
                    "or pass --overwrite"
                )
        elif (out / REPORT_FILE).exists():
            raise BuildError(
                f"{out} holds a finished build made with other options; choose another --out or pass --overwrite"
            )
        else:
            raise BuildError(
                f"{out} is not empty and holds no resumable build; choose another --out or pass --overwrite"
            )
    work.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(manifest, json.dumps(want, sort_keys=True))
    return work


def _already_built(out: Path, recipe: Recipe) -> dict | None:
    report = out / REPORT_FILE
    if not report.exists() or (out / WORK_DIR).exists():
        return None
    data = json.loads(report.read_text())
    if data.get("recipe") != recipe.to_dict() | {"shard_index": 0}:
        return None
    if all((out / f).exists() for c in data["configs"].values() for f in c["files"]):
        return data
    return None


def build_dataset(
    recipe: Recipe,
    videos: str | os.PathLike | list[VideoSource],
    out: str | os.PathLike,
    num_proc: int = 1,
    exclude: Iterable[str | os.PathLike] | None = None,
    overwrite: bool = False,
    keep_work: bool = False,
    progress: bool = True,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    decode_timeout: float | None = DECODE_TIMEOUT,
) -> BuildResult:
    """Build a dataset repo folder (or, for a sharded recipe, one part of it).

    Args:
        recipe: from :func:`viubench_recipe` or :func:`videossr30k_recipe`.
        videos: a folder of videos, ``"default"`` for the bundled sample videos, or a list of sources.
        out: the repo folder to write (created; must be empty, or hold an unfinished build of the same
            recipe, which is then resumed).
        num_proc: worker processes; the output bytes do not depend on it.
        exclude: videos to leave out (see :func:`videossr.data.sources.load_exclusions`).
        overwrite: wipe whatever build ``out`` holds first.
        keep_work: keep ``out/.build`` (the per-job row files) after a successful build.
        progress: show tqdm progress bars.
        max_shard_bytes: cut Parquet shards at about this size.
        decode_timeout: seconds allowed to decode one video, in a forked child process so that a
            hanging or crashing decoder only costs that video (reason ``timeout`` / ``crashed``);
            ``None`` or 0 decodes in the worker itself (faster, for trusted videos).

    Returns:
        A :class:`BuildResult`.

    Raises:
        FileNotFoundError: the video folder does not exist.
        ValueError: no video in the folder, or ``out`` inside the source folder.
        BuildError: no usable video, or ``out`` holds something else.
    """
    t0 = time.perf_counter()
    out = Path(out)
    rejected: dict[str, dict[str, str]] = {}  # candidates that are no video file at all (see resolve_videos)
    sources, origin = resolve_videos(videos if isinstance(videos, list) else str(videos), rejected)
    if not isinstance(videos, list):
        check_output_location(out, str(videos))
    excluded_ids = load_exclusions(list(exclude or []))
    candidates = [v for v in sources if not is_excluded(v, excluded_ids)]
    n_excluded = len(sources) - len(candidates)
    if not candidates:
        raise BuildError(f"all {len(sources)} videos are excluded by --exclude")
    mine = my_videos(video_order(candidates, recipe.seed), recipe.num_shards, recipe.shard_index)
    if not mine:
        raise BuildError(f"shard {recipe.shard_index} of {recipe.num_shards} gets no video: use fewer shards")
    if recipe.num_shards == 1 and not overwrite:
        done = _already_built(out, recipe)
        if done is not None:
            configs = {c: v["rows"] for c, v in done["configs"].items()}
            return BuildResult(
                out, sum(configs.values()), configs, {s["id"]: s for s in done["skipped"]}, True
            )
    work = _prepare_out(out, recipe, overwrite)
    index, bad, stats = _run_waves(recipe, mine, work, num_proc, progress, decode_timeout)
    # Never given to a worker, but reported with the videos that failed: every candidate is used or listed.
    listed = {k: v for k, v in rejected.items() if k not in excluded_ids and Path(k).name not in excluded_ids}
    bad = {**listed, **bad}
    if recipe.num_shards > 1:
        part = {
            "recipe": recipe.to_dict(),
            "origin": origin,
            "found": len(sources),
            "excluded": n_excluded,
            "sources": [dataclasses.asdict(v) for v in mine],
            "bad": bad,
            "index": index,
        }
        _atomic_write_text(out / "part.json", json.dumps(part, sort_keys=True))
        return BuildResult(out, len(index), {}, bad, False, time.perf_counter() - t0, **stats)
    full_index = {k: ("p0", *v) for k, v in index.items()}
    report = _assemble(
        out,
        recipe,
        {"p0": work / "jobs"},
        full_index,
        bad,
        candidates,
        origin,
        n_excluded,
        progress,
        max_shard_bytes,
    )
    if not keep_work:
        shutil.rmtree(work)
    configs = {c: v["rows"] for c, v in report["configs"].items()}
    return BuildResult(out, len(index), configs, bad, True, time.perf_counter() - t0, **stats)


def merge(
    parts: list[str | os.PathLike],
    out: str | os.PathLike,
    progress: bool = True,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> BuildResult:
    """Assemble the part folders of a sharded build (``--num-shards K``, one per ``--shard-index``)
    into one repo folder. The result only depends on the recipe and K, not on the machines."""
    t0 = time.perf_counter()
    out = Path(out)
    infos = []
    for p in parts:
        f = Path(p) / "part.json"
        if not f.exists():
            raise BuildError(f"{p} is not a finished part of a sharded build (no part.json)")
        infos.append((Path(p), json.loads(f.read_text())))
    recipes = [Recipe.from_dict(i["recipe"]) for _, i in infos]
    base = recipes[0]
    k = base.num_shards
    for r in recipes:
        if dataclasses.replace(r, shard_index=0) != dataclasses.replace(base, shard_index=0):
            raise BuildError("the parts were built with different options")
    got = sorted(r.shard_index for r in recipes)
    if got != list(range(k)):
        raise BuildError(f"a {k}-shard build needs parts 0..{k - 1}, got {got}")
    final = dataclasses.replace(base, num_shards=1, shard_index=0)
    index: dict[str, tuple] = {}
    bad: dict[str, dict[str, str]] = {}
    dirs: dict[str, Path] = {}
    sources: list[VideoSource] = []
    for (path, info), r in sorted(zip(infos, recipes), key=lambda t: t[1].shard_index):
        name = f"p{r.shard_index}"
        dirs[name] = path / WORK_DIR / "jobs"
        for key, v in info["index"].items():
            index[key] = (name, *v)
        bad.update(info["bad"])
        sources += [VideoSource(**s) for s in info["sources"]]
    out.mkdir(parents=True, exist_ok=True)
    (out / WORK_DIR).mkdir(exist_ok=True)
    info0 = infos[0][1]
    # The merged recipe records the shard count: it is part of what determines the bytes.
    final = dataclasses.replace(final, extra={**final.extra, "merged_from_shards": k})
    report = _assemble(
        out, final, dirs, index, bad, sources, info0["origin"], info0["excluded"], progress, max_shard_bytes
    )
    shutil.rmtree(out / WORK_DIR)
    configs = {c: v["rows"] for c, v in report["configs"].items()}
    return BuildResult(out, len(index), configs, bad, True, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------------
def regenerate_row(
    row: dict[str, Any],
    videos: str | os.PathLike | list[VideoSource],
    max_pixels: int,
    image_format: str = "jpeg",
    quality: int = 90,
) -> dict[str, Any]:
    """Make a row again from its source video, seed and subtype (the dataset's provenance).

    ``max_pixels``, ``image_format`` and ``quality`` are in the dataset's ``build_report.json``
    (``recipe``). A row regenerated with the same generator version is identical to the stored one.

    Example:
        >>> row = load_dataset("videossr/VIUBench", "jigsaw_hard", split="test")[0]  # doctest: +SKIP
        >>> regenerate_row(row, "llava_video/", 512 * 512)["answer"] == row["answer"]  # doctest: +SKIP
        True
    """
    from videossr import __version__
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype

    if row.get("generator_version") and row["generator_version"] != __version__:
        import warnings

        warnings.warn(
            f"row made by videossr {row['generator_version']}, regenerating with {__version__}: may differ",
            stacklevel=2,
        )
    sources, _ = resolve_videos(videos if isinstance(videos, list) else str(videos))
    by_id = {v.id: v for v in sources}
    params = json.loads(row.get("params") or "{}")
    cache: dict[str, Any] = {}
    wanted = [row["source"]] + ([params["other_source"]] if params.get("other_source") else [])
    clips = []
    for vid in wanted:
        if vid not in by_id:
            raise FileNotFoundError(f"source video {vid!r} is not in {videos}")
        clip = _load(by_id[vid], max_pixels, cache)
        if isinstance(clip, Exception):
            raise clip
        clips.append(clip)
    sample = task_for_subtype(row["subtype"]).generate(
        clips[0], seed=int(row["seed"]), other=clips[1] if len(clips) > 1 else None
    )
    return sample_to_row(
        sample,
        id=row["id"],
        image_format=image_format,
        quality=quality,  # type: ignore[arg-type]
        generator_version=row.get("generator_version") or __version__,
    )
