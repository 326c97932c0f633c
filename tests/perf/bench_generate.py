"""Benchmark: generating the three pretext tasks versus decoding the clip they come from.

Prints, side by side for each real sample video, the decode-only time for the 48 frames (the floor
any generator pays), the generation time of each task from the decoded clip, and samples/s.
Not a test: run ``python tests/perf/bench_generate.py [--repeats 5] [--max-pixels 65536]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import videossr
from videossr.video import sample_videos

TASKS = [
    ("grounding(train mix)", "anomaly_grounding", {}),
    ("grounding(noise)", "anomaly_grounding", {"perturbation": "noise"}),
    ("counting_easy", "object_counting", {"difficulty": "easy"}),
    ("counting_hard", "object_counting", {"difficulty": "hard"}),
    ("jigsaw_easy", "temporal_jigsaw", {"difficulty": "easy"}),
]
MAIN = ("grounding(train mix)", "counting_easy", "jigsaw_easy")  # one sample of each task


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-pixels", type=int, default=256 * 256)
    args = parser.parse_args()

    videos = sample_videos()
    tasks = {label: videossr.get_task(name, **kw) for label, name, kw in TASKS}
    header = f"{'video':<24}{'size':>10}{'decode ms':>11}" + "".join(f"{label:>22}" for label in tasks)
    header += f"{'3 tasks ms':>12}{'ratio':>7}"
    print(header)
    print("-" * len(header))
    decode_total = gen_total = 0.0
    for path in videos:
        decode_ms = timed(lambda p=path: videossr.load_clip(p, max_pixels=args.max_pixels), args.repeats)
        clip = videossr.load_clip(path, max_pixels=args.max_pixels)
        gen = {
            label: timed(lambda t=t, c=clip: t.generate(c, seed=1), args.repeats)
            for label, t in tasks.items()
        }
        three = sum(gen[label] for label in MAIN)
        decode_total += decode_ms
        gen_total += three
        size = f"{clip.size[1]}x{clip.size[0]}"
        print(
            f"{path.name:<24}{size:>10}{decode_ms:>11.1f}"
            + "".join(f"{gen[label]:>22.2f}" for label in tasks)
            + f"{three:>12.2f}{three / decode_ms:>7.2f}"
        )
    n = len(videos)
    print("-" * len(header))
    print(
        f"mean decode (floor): {decode_total / n:.1f} ms/clip; mean generation of all 3 tasks: "
        f"{gen_total / n:.2f} ms/clip ({gen_total / decode_total:.2f}x the decode)"
    )
    print(
        f"throughput from decoded clips: {3 * n / (gen_total / 1000):.0f} samples/s; "
        f"end to end (decode once, 3 tasks): {3 * n / ((decode_total + gen_total) / 1000):.1f} samples/s"
    )


if __name__ == "__main__":
    main()
