"""``videossr bench`` and ``videossr compare``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BENCH_EPILOG = """\
model specs:
  random               uniform guesses in each answer space (random:prior for the generator's prior)
  heuristic            non-learned computer-vision solver (change detection, shape detection, continuity)
  hf:PATH_OR_HUB_ID    transformers Qwen2.5-VL / Qwen3-VL, greedy, batched
  openai:URL#MODEL     OpenAI-compatible chat endpoint, frames sent as images

examples:
  videossr bench --data demo_out/data/viubench --model random
  videossr bench --data org/VIUBench --model hf:Qwen/Qwen3-VL-8B-Instruct --batch-size 16
  videossr bench --data viubench.parquet --model openai:http://localhost:8000/v1#Qwen3-VL-8B
  videossr compare outputs/bench/*/results.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from videossr.cli import positive_int, seed_int

    bench = subparsers.add_parser(
        "bench",
        help="score a model on VIUBench and write Table 1",
        description="Score a model on VIUBench (or the official release's verl-style Parquet) and write "
        "results.json, predictions.jsonl, table.md and plot.png. Re-running with the same --out resumes.",
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--data", required=True, help="dataset folder, Hub dataset id, or Parquet file/folder")
    bench.add_argument("--model", required=True, help="model spec (see below)")
    bench.add_argument("--out", help="output folder (default outputs/bench/<model>)")
    bench.add_argument("--name", help="row name in the table (default: the model spec)")
    bench.add_argument("--limit", type=positive_int, help="at most N items per subtype")
    bench.add_argument("--configs", nargs="+", help="dataset configs to score (default: all)")
    bench.add_argument("--subtypes", nargs="+", help="only these subtypes")
    bench.add_argument("--split", help="dataset split (default: test when present)")
    bench.add_argument("--batch-size", type=positive_int, help="items per generation batch")
    bench.add_argument("--mode", choices=("strict", "lenient"), default="strict", help="reply parser mode")
    bench.add_argument("--max-new-tokens", type=positive_int, default=128, help="reply budget (hf, openai)")
    bench.add_argument("--dtype", default="auto", help="hf: auto, bfloat16, float16, float32")
    bench.add_argument("--device", help="hf: cuda, cpu, cuda:1 ... (default: cuda when available)")
    bench.add_argument("--num-workers", type=positive_int, help="CPU threads preparing inputs (hf, heuristic)")
    bench.add_argument("--attn-implementation", help="hf: sdpa, flash_attention_2, eager")
    bench.add_argument("--concurrency", type=positive_int, help="openai: requests in flight")
    bench.add_argument("--system-prompt", help="replace the system turn every sample carries (\"\" sends none)")
    bench.add_argument("--seed", type=seed_int, default=0, help="random: base seed")
    bench.add_argument("--overwrite", action="store_true", help="discard earlier predictions in --out")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bench.set_defaults(func=_bench)

    compare = subparsers.add_parser(
        "compare",
        help="put several bench results side by side",
        description="Print several runs' results side by side in Table 1's layout (and optionally the paper's rows).",
    )
    compare.add_argument("results", nargs="+", help="results.json files or run folders")
    compare.add_argument("--paper", action="store_true", help="include the paper's rows")
    compare.add_argument("--out", help="also write compare.md and compare.png into this folder")
    compare.set_defaults(func=_compare)


def _bench(args: argparse.Namespace) -> int:
    from videossr.evaluation.harness import run_bench
    from videossr.evaluation.report import table1_markdown

    if args.no_progress:
        import datasets

        datasets.disable_progress_bars()  # the per-config "Generating split" bars too
    options = {
        "max_new_tokens": args.max_new_tokens,
        "dtype": args.dtype,
        "device": args.device,
        "num_workers": args.num_workers,
        "attn_implementation": args.attn_implementation,
        "concurrency": args.concurrency,
        "system_prompt": args.system_prompt,
        "seed": args.seed,
    }
    results = run_bench(
        args.data,
        args.model,
        out_dir=args.out,
        limit=args.limit,
        configs=args.configs,
        split=args.split,
        subtypes=args.subtypes,
        batch_size=args.batch_size,
        mode=args.mode,
        overwrite=args.overwrite,
        model_name=args.name,
        backend_options=options,
        progress=not args.no_progress,
    )
    print(table1_markdown([results], paper=False))
    timing = results["timing"]
    speed = f", {timing['items_per_s']} items/s" if timing.get("items_per_s") else ""
    out = args.out or "outputs/bench/<model>"
    print(f"{results['num_items']} items ({timing['resumed_items']} resumed{speed}); results in {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from videossr.evaluation.report import compare_markdown, load_results, plot_results

    runs = [load_results(p) for p in args.results]
    # Same model name twice (e.g. two runs of "random"): tell them apart by folder.
    names = [r.get("name") or r.get("model") for r in runs]
    for run, path in zip(runs, args.results):
        if names.count(run.get("name") or run.get("model")) > 1:
            run["name"] = (
                f"{run.get('name') or run.get('model')} [{Path(path).parent.name if Path(path).is_file() else Path(path).name}]"
            )
    text = compare_markdown(runs, paper=args.paper)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(text)
        plot_results(runs, out / "compare.png")
        (out / "compare.json").write_text(
            json.dumps([{"name": r.get("name"), "scores": r["scores"]} for r in runs], indent=2)
        )
    return 0
