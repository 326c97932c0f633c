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
5. The repo folder is assembled (:mod:`videossr.data.assembly`): Parquet shards in a fixed order, each
   row stored once (``data/<folder>/<split>-XXXXX-of-YYYYY.parquet``; configs are ``data_files`` globs
   over the folders), ``README.md`` (dataset card), ``build_report.json`` and ``preview.jpg``. Then
   ``.build`` is removed, so the folder is exactly what goes to the Hub.

A sharded build (``num_shards > 1``) stops after step 4 and leaves a *part* folder; :func:`merge`
assembles the parts.

Steps 2-4 live in :mod:`videossr.data.jobs`, step 5 in :mod:`videossr.data.assembly`, the output folder's
lock and manifest in :mod:`videossr.data.outdir`; this module holds the recipes, the entry points and
provenance (:func:`regenerate_row`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.data.assembly import MAX_SHARD_BYTES, assemble
from videossr.data.jobs import JobRunner, RowLoc, atomic_write_text, run_waves
from videossr.data.outdir import already_built, output_lock, prepare_out
from videossr.data.plan import (
    VIUBENCH_SUBTYPES,
    BuildError,
    Recipe,
    my_videos,
    parse_mix,
    split_counts,
    video_order,
)
from videossr.data.remote import is_url, local_path_of, resolve_url_videos, run_job_fetching
from videossr.data.report import WORK_DIR, total_rows
from videossr.data.sources import (
    VideoSource,
    check_output_location,
    decode_video,
    is_excluded,
    load_exclusions,
    resolve_videos,
)

#: Default per-video decode budget (seconds). Only a broken file gets anywhere near it, so it does not
#: make builds machine-dependent in practice.
DECODE_TIMEOUT = 300.0


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
    """The VideoSSR-30K recipe: ``size`` rows in the docs/method.md §8 mix (or ``mix``), frames up to
    256x256."""
    from videossr import __version__
    from videossr.video import TRAIN_MAX_PIXELS

    if size < 1:
        raise ValueError("--size must be at least 1")
    counts = {k: v for k, v in split_counts(int(size), parse_mix(mix)).items() if v > 0}
    kw.setdefault("max_pixels", TRAIN_MAX_PIXELS)
    kw.setdefault("generator_version", __version__)
    return Recipe(kind="videossr-30k", counts=counts, seed=seed, **kw)


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------
def _runner(engine: str | JobRunner, address: str | None, num_proc: int) -> JobRunner | None:
    """The job runner of an ``engine`` argument: ``None`` runs jobs locally."""
    if callable(engine):
        return engine
    if engine == "local":
        if address:
            raise ValueError("--address needs --engine ray")
        return None
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:  # pragma: no cover - depends on the installed extras
            raise ImportError("--engine ray needs Ray: pip install 'videossr[ray]'")
        from videossr.data.ray_engine import default_engine

        return default_engine(address, num_proc)
    raise ValueError(f"unknown engine {engine!r}: use 'local' or 'ray'")


@dataclasses.dataclass
class _Videos:
    """The videos of a build: every source found, where they come from, the candidates left after
    ``--exclude``, and this shard's share of them."""

    sources: list[VideoSource]
    origin: Any
    rejected: dict[str, dict[str, str]]  # candidates that are no video file at all (see resolve_videos)
    remote: bool
    excluded_ids: Any
    candidates: list[VideoSource]
    mine: list[VideoSource]

    @property
    def n_excluded(self) -> int:
        return len(self.sources) - len(self.candidates)


def _select_videos(
    recipe: Recipe,
    videos: str | os.PathLike | list[VideoSource],
    out: Path,
    exclude: Iterable[str | os.PathLike] | None,
) -> _Videos:
    """List the build's videos (a folder, an fsspec URL, ``"default"`` or a list), drop the excluded ones
    and take this shard's share, in the recipe's seeded order."""
    rejected: dict[str, dict[str, str]] = {}
    if is_url(videos):
        # file://, local:// and caches over them name a local folder: it is built as one, so the scan,
        # the reports and the refusal to write into the source folder are the local build's own.
        local_root = local_path_of(str(videos))
        if local_root is not None:
            videos = str(local_root)
    remote = is_url(videos)
    if remote:
        sources, origin = resolve_url_videos(str(videos), rejected)
    else:
        sources, origin = resolve_videos(videos if isinstance(videos, list) else str(videos), rejected)
        if not isinstance(videos, list):
            check_output_location(out, str(videos))
    excluded_ids = load_exclusions(list(exclude or []))
    candidates = [v for v in sources if not is_excluded(v, excluded_ids)]
    if not candidates:
        raise BuildError(f"all {len(sources)} videos are excluded by --exclude")
    mine = my_videos(video_order(candidates, recipe.seed), recipe.num_shards, recipe.shard_index)
    if not mine:
        raise BuildError(f"shard {recipe.shard_index} of {recipe.num_shards} gets no video: use fewer shards")
    return _Videos(sources, origin, rejected, remote, excluded_ids, candidates, mine)


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
    engine: str | JobRunner = "local",
    address: str | None = None,
) -> BuildResult:
    """Build a dataset repo folder (or, for a sharded recipe, one part of it).

    Args:
        recipe: from :func:`viubench_recipe` or :func:`videossr30k_recipe`.
        videos: a folder of videos, an fsspec URL of one (``s3://bucket/videos``; each video is copied to
            local disk to be decoded), ``"default"`` for the bundled sample videos, or a list of sources.
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
        engine: ``"local"`` (``num_proc`` processes on this machine), ``"ray"`` (jobs as Ray tasks on the
            cluster at ``address``, or on a local cluster of ``num_proc`` CPUs), or a job runner such as
            :class:`videossr.data.ray_engine.RayEngine`. The output bytes do not depend on it.
        address: the Ray cluster for ``engine="ray"`` (default: ``RAY_ADDRESS``, else a local cluster).

    Returns:
        A :class:`BuildResult`.

    Raises:
        FileNotFoundError: the video folder does not exist.
        ValueError: no video in the folder, or ``out`` inside the source folder.
        BuildError: no usable video, or ``out`` holds something else.
    """
    t0 = time.perf_counter()
    out = Path(out)
    found = _select_videos(recipe, videos, out, exclude)
    # Everything that writes --out runs under its lock: a second build into it is refused at once.
    with output_lock(out):
        if recipe.num_shards == 1 and not overwrite:
            done = already_built(out, recipe)
            if done is not None:
                configs = {c: v["rows"] for c, v in done["configs"].items()}
                return BuildResult(
                    out, total_rows(done), configs, {s["id"]: s for s in done["skipped"]}, True
                )
        runner = _runner(engine, address, num_proc)
        work, (index, bad, stats) = _run_jobs(
            recipe, found, out, overwrite, runner, num_proc, progress, decode_timeout
        )
        # Never given to a worker, but reported with the videos that failed: every candidate is used or
        # listed.
        excluded_ids = found.excluded_ids
        listed = {
            k: v
            for k, v in found.rejected.items()
            if k not in excluded_ids and Path(k).name not in excluded_ids
        }
        bad = {**listed, **bad}
        if recipe.num_shards > 1:
            _write_part(out, recipe, found, bad, index)
            return BuildResult(out, len(index), {}, bad, False, time.perf_counter() - t0, **stats)
        report = assemble(
            out,
            recipe,
            {"p0": work / "jobs"},
            index,
            bad,
            found.candidates,
            found.origin,
            found.n_excluded,
            progress,
            max_shard_bytes,
        )
        if not keep_work:
            shutil.rmtree(work)
        configs = {c: v["rows"] for c, v in report["configs"].items()}
        return BuildResult(out, len(index), configs, bad, True, time.perf_counter() - t0, **stats)


def _run_jobs(
    recipe: Recipe,
    found: _Videos,
    out: Path,
    overwrite: bool,
    runner: JobRunner | None,
    num_proc: int,
    progress: bool,
    decode_timeout: float | None,
) -> tuple[Path, tuple[dict[str, RowLoc], dict[str, dict[str, str]], dict[str, int]]]:
    """Prepare the work folder and run every wave of jobs; returns the work folder and
    :func:`~videossr.data.jobs.run_waves`' ``(index, bad, stats)``."""
    # A cluster's address is tried before anything is written: a wrong --address leaves --out as it
    # was. (A local cluster starts when the first jobs are sent, after the folder checks.)
    try:
        if getattr(runner, "address", None) and hasattr(runner, "start"):
            runner.start()
        work = prepare_out(out, recipe, overwrite)
        return work, run_waves(
            recipe,
            found.mine,
            work,
            num_proc,
            progress,
            decode_timeout,
            runner,
            run_job_fetching if found.remote else None,
        )
    finally:
        if hasattr(runner, "close"):
            runner.close()


def _write_part(
    out: Path, recipe: Recipe, found: _Videos, bad: dict[str, dict[str, str]], index: dict[str, RowLoc]
) -> None:
    """A sharded build's ``part.json``: what :func:`merge` needs of this part."""
    part = {
        "recipe": recipe.to_dict(),
        "origin": found.origin,
        "found": len(found.sources),
        "excluded": found.n_excluded,
        "sources": [dataclasses.asdict(v) for v in found.mine],
        "bad": bad,
        "index": {k: loc.stored() for k, loc in index.items()},
    }
    atomic_write_text(out / "part.json", json.dumps(part, sort_keys=True))


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
    index: dict[str, RowLoc] = {}
    bad: dict[str, dict[str, str]] = {}
    dirs: dict[str, Path] = {}
    sources: list[VideoSource] = []
    for (path, info), r in sorted(zip(infos, recipes), key=lambda t: t[1].shard_index):
        name = f"p{r.shard_index}"
        dirs[name] = path / WORK_DIR / "jobs"
        for key, v in info["index"].items():
            index[key] = RowLoc(name, *v)
        bad.update(info["bad"])
        sources += [VideoSource(**s) for s in info["sources"]]
    info0 = infos[0][1]
    # The merged recipe records the shard count: it is part of what determines the bytes.
    final = dataclasses.replace(final, extra={**final.extra, "merged_from_shards": k})
    with output_lock(out):
        (out / WORK_DIR).mkdir(exist_ok=True)
        report = assemble(
            out,
            final,
            dirs,
            index,
            bad,
            sources,
            info0["origin"],
            info0["excluded"],
            progress,
            max_shard_bytes,
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
        clip = decode_video(by_id[vid], max_pixels, cache)
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
