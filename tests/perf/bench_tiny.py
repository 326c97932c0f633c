"""How fast the offline tiny Qwen-VL models are: build, preprocessing and greedy generation on a
48-frame clip.

The tests, the demo and the CPU recipe all lean on these models being quick; this script measures it
instead of a timed unit test. Each generation time is printed next to its baseline in the same run:
the same model generating the same number of tokens for the same question without the video, so the
column ``video cost`` is what the 48 frames add.

Run (CPU)::

    python tests/perf/bench_tiny.py --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(arch: str, root: Path, rounds: int, tokens: int, frames: int, height: int, width: int) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videossr.tiny import build_tiny_model
    from videossr.types import video_metadata

    start = time.perf_counter()
    path = build_tiny_model(root / arch, arch=arch)
    cold = time.perf_counter() - start
    cached = _best(lambda: build_tiny_model(root / arch, arch=arch), rounds)

    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    clip = np.random.default_rng(0).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    question = {"type": "text", "text": "When does it change? Answer as a-b."}

    def text(with_video: bool) -> str:
        content = [{"type": "video"}, question] if with_video else [question]
        messages = [{"role": "user", "content": content}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def prepare():
        return processor(
            text=[text(True)],
            videos=[clip],
            video_metadata=[video_metadata(frames, frames / 20.0)],
            do_sample_frames=False,
            return_tensors="pt",
        )

    video_inputs = prepare()
    text_inputs = processor(text=[text(False)], return_tensors="pt")

    def generate(inputs) -> None:
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        assert out.shape[1] == inputs["input_ids"].shape[1] + tokens

    generate(video_inputs)  # warm-up: first-call allocations and lazy imports stay out of the timings
    return {
        "arch": arch,
        "params": sum(p.numel() for p in model.parameters()),
        "build_cold_s": cold,
        "build_cached_s": cached,
        "prepare_s": _best(prepare, rounds),
        "prompt_tokens": int(video_inputs["input_ids"].shape[1]),
        "generate_video_s": _best(lambda: generate(video_inputs), rounds),
        "generate_text_s": _best(lambda: generate(text_inputs), rounds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="time each step this many times, keep the best")
    parser.add_argument("--tokens", type=int, default=12, help="new tokens per generation")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=80)
    parser.add_argument("--arch", nargs="+", default=["qwen3_vl", "qwen2_5_vl"])
    args = parser.parse_args(argv)

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            measure(a, Path(tmp), args.rounds, args.tokens, args.frames, args.height, args.width)
            for a in args.arch
        ]
    print(
        f"tiny models, CPU threads {torch.get_num_threads()}, {args.frames} frames of "
        f"{args.height}x{args.width}, {args.tokens} new tokens, best of {args.rounds}"
    )
    header = ("arch", "params", "build", "cached", "prepare", "tokens", "gen+video", "gen text", "video cost")
    print("".join(f"{h:>11}" for h in header))
    for r in rows:
        cells = (
            r["arch"],
            f"{r['params']:,}",
            f"{r['build_cold_s']:.2f}s",
            f"{r['build_cached_s'] * 1e3:.2f}ms",
            f"{r['prepare_s'] * 1e3:.1f}ms",
            str(r["prompt_tokens"]),
            f"{r['generate_video_s'] * 1e3:.0f}ms",
            f"{r['generate_text_s'] * 1e3:.0f}ms",
            f"{r['generate_video_s'] / r['generate_text_s']:.2f}x",
        )
        print("".join(f"{c:>11}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
