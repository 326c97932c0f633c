"""``videossr bench`` and ``videossr compare``."""

from __future__ import annotations

import argparse
from pathlib import Path

BENCH_EPILOG = """\
model specs:
  random               uniform guesses in each answer space (random:prior: each task's generator prior)
  heuristic            non-learned computer-vision solver (change detection, shape detection, continuity)
  hf:PATH_OR_HUB_ID    transformers Qwen2.5-VL / Qwen3-VL, greedy, batched
  openai:URL#MODEL     OpenAI-compatible chat endpoint, frames sent as images

examples:
  videossr bench --data demo_out/data/viubench --model random
  videossr bench --data org/VIUBench --model hf:Qwen/Qwen3-VL-8B-Instruct --batch-size 16
  videossr bench --data viubench.parquet --model openai:http://localhost:8000/v1#Qwen3-VL-8B
  videossr bench --data demo_out/data/viubench --model hf:demo_out/models/tiny-qwen3_vl --via lmms-eval
  videossr bench --data org/VIUBench --model lmms-eval:qwen3_vl --via lmms-eval \
      --lmms-model-args pretrained=Qwen/Qwen3-VL-8B-Instruct,max_num_frames=48
  videossr bench --data org/VIUBench --model hf:out/grpo --model-card out/grpo/README.md \
--dataset-id org/VIUBench
  videossr compare outputs/bench/*/results.json --paper --out outputs/compare   # + compare.csv / compare.json
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
    bench.add_argument(
        "--num-workers", type=positive_int, help="CPU threads preparing inputs (hf, heuristic)"
    )
    bench.add_argument("--attn-implementation", help="hf: sdpa, flash_attention_2, eager")
    bench.add_argument("--concurrency", type=positive_int, help="openai: requests in flight")
    bench.add_argument("--system-prompt", help='replace the system turn every sample carries ("" sends none)')
    bench.add_argument("--seed", type=seed_int, default=0, help="random: base seed")
    bench.add_argument("--overwrite", action="store_true", help="discard earlier predictions in --out")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bench.add_argument(
        "--via",
        choices=("videossr", "lmms-eval"),
        default="videossr",
        help="run with the package's harness (default) or through lmms-eval and hub/lmms_eval/viubench "
        "(needs the lmms extra); with lmms-eval, --model may also be lmms-eval:NAME, one of its wrappers",
    )
    bench.add_argument("--lmms-model-args", help="lmms-eval --model_args for --model lmms-eval:NAME")
    bench.add_argument(
        "--model-card",
        help="also write the scores into this model card's model-index (README.md or its folder)",
    )
    bench.add_argument("--dataset-id", help="Hub id of the VIUBench in the model-index (default: --data)")
    bench.set_defaults(func=_bench)

    compare = subparsers.add_parser(
        "compare",
        help="put several bench results side by side",
        description=(
            "Print several runs' results side by side in Table 1's layout (and optionally the paper's rows)."
        ),
    )
    compare.add_argument(
        "results",
        nargs="+",
        help="results.json files, run folders, or model cards with a VIUBench model-index",
    )
    compare.add_argument("--paper", action="store_true", help="include the paper's rows")
    compare.add_argument(
        "--out",
        help="also write compare.md, compare.png and the leaderboard rows compare.csv / compare.json "
        "(one row per model in Table 1's columns) into this folder",
    )
    compare.set_defaults(func=_compare)


def _bench(args: argparse.Namespace) -> int:
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
    if args.via == "lmms-eval":
        results = _bench_lmms(args, options)
    elif args.model.startswith("lmms-eval:"):
        raise ValueError("--model lmms-eval:NAME runs only with --via lmms-eval")
    else:
        results = _bench_videossr(args, options)
    print(table1_markdown([results], paper=False))
    timing = results["timing"]
    speed = f", {timing['items_per_s']} items/s" if timing.get("items_per_s") else ""
    out = args.out or "outputs/bench/<model>"
    resumed = "via lmms-eval" if results.get("via") == "lmms-eval" else f"{timing['resumed_items']} resumed"
    print(f"{results['num_items']} items ({resumed}{speed}); results in {out}")
    if args.model_card:
        from videossr.evaluation.model_index import write_model_index

        card = write_model_index(args.model_card, results, dataset_id=args.dataset_id, model_name=args.name)
        print(f"model-index: {len(results['scores']['subtypes']) + 1} VIUBench entries written to {card}")
    return 0


def _bench_lmms(args: argparse.Namespace, options: dict) -> dict:
    from videossr.evaluation.lmms import run_lmms_bench

    unsupported = [flag for flag, value in (("--configs", args.configs), ("--split", args.split)) if value]
    if args.mode != "strict":
        unsupported.append("--mode lenient")
    if unsupported:
        raise ValueError(
            f"{', '.join(unsupported)} do not apply with --via lmms-eval: the task reads each subtype's "
            "config, split test, with the paper's strict parser"
        )
    return run_lmms_bench(
        args.data,
        args.model,
        out_dir=args.out,
        limit=args.limit,
        subtypes=args.subtypes,
        batch_size=args.batch_size,
        model_name=args.name,
        backend_options=options,
        lmms_model_args=args.lmms_model_args,
    )


def _bench_videossr(args: argparse.Namespace, options: dict) -> dict:
    from videossr.evaluation.harness import run_bench

    return run_bench(
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


def _compare(args: argparse.Namespace) -> int:
    from videossr.evaluation.report import compare_markdown, plot_results, write_leaderboard

    runs = [_load_run(p) for p in args.results]
    # Same model name twice (e.g. two runs of "random"): tell them apart by folder.
    names = [r.get("name") or r.get("model") for r in runs]
    for run, path in zip(runs, args.results):
        if names.count(run.get("name") or run.get("model")) > 1:
            run["name"] = (
                f"{run.get('name') or run.get('model')} "
                f"[{Path(path).parent.name if Path(path).is_file() else Path(path).name}]"
            )
    text = compare_markdown(runs, paper=args.paper)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(text)
        plot_results(runs, out / "compare.png")
        csv_path, json_path = write_leaderboard(runs, out, paper=args.paper)
        print(f"leaderboard rows: {csv_path} and {json_path}")
    return 0


def _load_run(path: str) -> dict:
    """A run's results.json (file or folder), or the VIUBench model-index of a model card."""
    from videossr.evaluation.report import load_results

    p = Path(path)
    if p.suffix.lower() == ".md" or (
        p.is_dir() and not (p / "results.json").is_file() and (p / "README.md").is_file()
    ):
        from videossr.evaluation.model_index import read_model_index

        return read_model_index(p)
    return load_results(p)
