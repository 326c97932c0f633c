"""Throughput of the hf backend: batched generation against one item at a time, same model and settings.

"One at a time" is the reference release's evaluation loop: prepare one item, generate, repeat. The
batched path is what ``videossr bench`` does: items sorted by length, left-padded batches, and CPU
threads decoding and preprocessing the next batches while the model generates. Greedy replies must be
identical either way; the script checks that and prints items/s for both.

Run (CPU, the tiny random Qwen3-VL built offline)::

    python tests/perf/bench_eval.py --items 36 --batch-size 8

On a GPU, pass a real-size checkpoint (``--model PATH``, e.g. a randomly initialised Qwen3-VL-8B saved
with ``save_pretrained``) and ``--pixels 512*512``-sized frames to measure what matters there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for _eval_helpers)


def run(
    model: str,
    items,
    batch_size: int,
    max_new_tokens: int,
    num_workers: int,
    device: str | None,
    dtype: str = "auto",
    rounds: int = 1,
) -> dict:
    from _eval_helpers import batched, one_at_a_time

    from videossr.evaluation import HFBackend

    backend = HFBackend(
        model, max_new_tokens=max_new_tokens, num_workers=num_workers, device=device, dtype=dtype
    )
    # Warm-up (first-call allocations, lazy imports) outside the timings.
    backend.generate(backend.prepare(items[:1])[1])

    t_seq = t_batch = float("inf")
    for _ in range(rounds):
        # Each round times both paths; the best round of each is kept, so one-off costs (new tensor
        # shapes, page faults, a busy shared machine) do not favour whichever path runs second.
        start = time.perf_counter()
        sequential = one_at_a_time(backend, items)
        t_seq = min(t_seq, time.perf_counter() - start)

        start = time.perf_counter()
        together = batched(backend, items, batch_size)
        t_batch = min(t_batch, time.perf_counter() - start)

    mismatches = [i for i in sequential if sequential[i] != together.get(i)]
    return {
        "items": len(items),
        "device": backend.device,
        "dtype": backend.dtype,
        "sequential_items_per_s": len(items) / t_seq,
        "batched_items_per_s": len(items) / t_batch,
        "speedup": t_seq / t_batch,
        "mismatches": mismatches,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="checkpoint folder (default: build the tiny random Qwen-VL)")
    parser.add_argument("--arch", default="qwen3_vl", choices=("qwen3_vl", "qwen2_5_vl"))
    parser.add_argument("--items", type=int, default=36)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--pixels", type=int, default=128 * 128, help="frame area of the benchmark items")
    parser.add_argument("--device")
    parser.add_argument("--dtype", default="auto", help="auto (bfloat16 on GPU), float32, ...")
    parser.add_argument(
        "--rounds", type=int, default=2, help="time both paths this many times, keep the best"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from videossr.tiny import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny", arch=args.arch))
        from _eval_helpers import bench_items

        items = bench_items(args.items, args.pixels)
        r = run(
            model,
            items,
            args.batch_size,
            args.max_new_tokens,
            args.num_workers,
            args.device,
            args.dtype,
            args.rounds,
        )
    print(
        f"model {args.model or 'tiny ' + args.arch} on {r['device']} ({r['dtype']}), {r['items']} items, "
        f"batch {args.batch_size}, {args.max_new_tokens} new tokens, {args.num_workers} CPU workers"
    )
    print(f"best of {args.rounds} rounds")
    print(f"one at a time : {r['sequential_items_per_s']:.2f} items/s")
    print(f"batched       : {r['batched_items_per_s']:.2f} items/s  ({r['speedup']:.2f}x)")
    print(
        f"greedy outputs identical: {not r['mismatches']}"
        + (f" (differ: {r['mismatches']})" if r["mismatches"] else "")
    )
    assert not r["mismatches"], "batched and sequential greedy replies differ"
    return 0


if __name__ == "__main__":
    sys.exit(main())
