"""Fidelity check: the ``random`` baseline against the paper's random-guess row of Table 1.

The random baseline never looks at the frames, so its score depends only on the ground truths. With
few real videos offline, the ground truths here come from the real generator run on the real sample
videos (small frames, many seeds): ``per_subtype`` questions per subtype, scored through the harness.

Run::

    python tests/perf/fidelity_random.py --per-subtype 300

It prints, per Table 1 column, the paper's number, ours, the standard error of ours, and whether the
gap is within 3 standard errors (the expected score of the paper's uniform rules is also given).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

# The expected score of each random rule under the generator's distributions (percent):
# counting: 1/9 and 1/16 whatever the truth; jigsaw: 1/(n! - 1) (the identity order is never shown);
# grounding, 16-frame guess vs. segments of 8..16 frames: computed exactly by expected_grounding_iou().
EXPECTED = {
    "counting_easy": 100 / 9,
    "counting_hard": 100 / 16,
    "jigsaw_easy": 100 / (math.factorial(6) - 1),
    "jigsaw_hard": 100 / (math.factorial(8) - 1),
}


def expected_grounding_iou(guess: str = "max_length", num_frames: int = 48) -> float:
    """Exact expected IoU (percent) of the random grounding guess against the generator's segments."""
    lo, hi = 8, 16
    truths = [(s, s + t) for t in range(lo, hi + 1) for s in range(num_frames - t + 1)]
    weights_t = {t: 1 / (hi - lo + 1) / (num_frames - t + 1) for t in range(lo, hi + 1)}
    lengths = [hi] if guess == "max_length" else list(range(lo, hi + 1))
    total = 0.0
    for ts, te in truths:
        w_truth = weights_t[te - ts]
        for g in lengths:
            w_len = 1 / len(lengths) / (num_frames - g + 1)
            for gs in range(num_frames - g + 1):
                ge = gs + g
                inter = max(0, min(te, ge) - max(ts, gs))
                union = max(te, ge) - min(ts, gs)
                total += w_truth * w_len * inter / union
    return 100 * total


def build_items(per_subtype: int, max_pixels: int = 128 * 128):
    """Benchmark items whose answers come from the real generator on the real sample videos."""
    from videossr import load_clip
    from videossr.evaluation import BenchItem, Benchmark
    from videossr.metrics import VIUBENCH_SUBTYPES
    from videossr.tasks import task_for_subtype
    from videossr.video import sample_videos

    clips = []
    for path in sample_videos():
        try:
            clips.append(load_clip(path, max_pixels=max_pixels))
        except Exception:  # noqa: BLE001 - unusable videos are skipped
            continue
    items = []
    for subtype in VIUBENCH_SUBTYPES:
        task = task_for_subtype(subtype)
        for k in range(per_subtype):
            clip = clips[k % len(clips)]
            sample = task.generate(clip, seed=1000 + k)
            items.append(
                BenchItem(
                    id=f"{subtype}-{k:04d}",
                    task=sample.task,
                    subtype=subtype,
                    answer=sample.answer,
                    fps=sample.fps,
                    num_videos=len(sample.videos),
                    prompt_text=sample.prompt,
                    num_frames=len(sample.videos[0]) if sample.task == "anomaly_grounding" else 48,
                )
            )
    info = {
        "data": f"generated: {per_subtype} per subtype on {len(clips)} real sample videos",
        "configs": None,
    }
    return Benchmark(items=items, info=info)


def random_fidelity(per_subtype: int = 300, seed: int = 0, grounding: str = "max_length") -> list[dict]:
    """Score ``random`` on generated ground truths and compare each column with the paper's row."""
    from videossr.evaluation import RandomBackend, read_predictions, run_bench
    from videossr.metrics import PAPER_TABLE1, TABLE1_COLUMNS, TABLE1_KEYS, TASK_GROUPS, table1_row

    bench = build_items(per_subtype)
    with tempfile.TemporaryDirectory() as tmp:
        results = run_bench(
            bench, RandomBackend(seed=seed, grounding=grounding), out_dir=tmp, progress=False, report=False
        )
        records = read_predictions(Path(tmp) / "predictions.jsonl")
    per: dict[str, list[float]] = {}
    for r in records.values():
        per.setdefault(r["subtype"], []).append(100 * r["score"])

    def se(values: list[float]) -> float:
        m = sum(values) / len(values)
        return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))

    # Standard errors of the averages: subtypes are independent samples.
    errors = {s: se(v) for s, v in per.items()}
    for group, subs in TASK_GROUPS.items():
        errors[group] = math.sqrt(sum(errors[s] ** 2 for s in subs)) / len(subs)
    errors["overall"] = math.sqrt(sum(errors[s] ** 2 for s in per)) / len(per)
    expected = dict(EXPECTED)
    g = expected_grounding_iou(grounding)
    for s in TASK_GROUPS["grounding"]:
        expected[s] = g
    for group, subs in TASK_GROUPS.items():
        expected[group] = sum(expected[s] for s in subs) / len(subs)
    expected["overall"] = sum(expected[s] for s in per) / len(per)
    ours = table1_row(results["scores"])
    rows = []
    for col, key, paper, value in zip(TABLE1_COLUMNS, TABLE1_KEYS, PAPER_TABLE1["Random guess"], ours):
        err = errors.get(key, 0.0)
        # A column whose SE is 0 (e.g. 0 hits in jigsaw_hard) is judged against one expected hit's weight.
        tol = 3 * max(err, 100 / per_subtype / 2)
        rows.append({"column": col, "key": key, "paper": paper, "ours": value, "se": round(err, 2),
                     "expected": round(expected[key], 2) if key in expected else None,
                     "within_3se": abs(value - paper) <= tol})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-subtype", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grounding", choices=("max_length", "prior"), default="max_length")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = random_fidelity(args.per_subtype, args.seed, args.grounding)
    print(
        f"random baseline ({args.grounding} grounding guess), {args.per_subtype} per subtype, seed {args.seed}"
    )
    print("| column | paper | ours | SE | expected | within 3 SE |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        exp = "" if r["expected"] is None else f"{r['expected']:.2f}"
        print(
            f"| {r['column']} | {r['paper']:.1f} | {r['ours']:.1f} | {r['se']:.2f} | {exp} | {'yes' if r['within_3se'] else 'NO'} |"
        )
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["within_3se"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
