# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""GRPO step time on the learning bed with and without ``DistinctRowsView`` (each group's prompt decoded
once instead of ``num_generations`` times), side by side in one invocation, with the logged losses and
rewards compared so the speed-up is shown to change nothing.

    python tests/perf/bench_distinct_rows.py --steps 30 --threads 2

Both runs use the same bed start (``recipes/learn.py``'s data and warm-up, built once in ``--out``) and
the same settings; the baseline restores TRL's own ``get_train_dataloader``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "recipes" / "tiny" / "grpo" / "config_learn.yaml"

CHILD = """
import sys
sys.path.insert(0, {recipes!r})
from trl import GRPOTrainer
from videossr.trl_video import VideoGRPOTrainer
if {baseline!r}:
    VideoGRPOTrainer.get_train_dataloader = GRPOTrainer.get_train_dataloader
import learn
learn.main({argv!r})
"""


def run(mode: str, argv: list[str], out: Path) -> dict:
    code = CHILD.format(recipes=str(ROOT / "recipes"), baseline=mode == "baseline", argv=argv)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
    state = json.loads((out / "video" / "seed0" / "trainer_state.json").read_text())
    train = next(e for e in state["log_history"] if "train_runtime" in e)
    logged = [
        {k: e[k] for k in ("step", "loss", "reward", "frac_reward_zero_std") if k in e}
        for e in state["log_history"]
        if "loss" in e
    ]
    return {"seconds": train["train_runtime"], "logged": logged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="/tmp/videossr-bench-distinct-rows")
    args = parser.parse_args()
    out = Path(args.out)
    common = ["--config", str(CONFIG), "--output_dir", str(out), "--seeds", "0", "--arms", "video"]
    common += ["--max_steps", str(args.steps), "--viubench_steps", "0", "--logging_steps", "5"]
    common += ["--torch_threads", str(args.threads), "--jobs", "1"]
    # The data and the warm-up start, built once and shared by both runs.
    sys.path.insert(0, str(ROOT / "recipes"))
    import learn

    learn.main([*common, "--max_steps", "1"])
    results = {mode: run(mode, [*common, "--run", "video:0"], out) for mode in ("baseline", "distinct")}
    base, new = results["baseline"]["seconds"], results["distinct"]["seconds"]
    print(f"GRPO steps: {args.steps}, torch threads: {args.threads} (8 prompts x 8 rollouts, 48 frames)")
    print(f"{'':>24}{'seconds':>10}{'s/step':>10}")
    print(f"{'TRL dataloader':>24}{base:>10.1f}{base / args.steps:>10.2f}")
    print(f"{'DistinctRowsView':>24}{new:>10.1f}{new / args.steps:>10.2f}")
    print(f"speed-up: {base / new:.2f}x")
    same = results["baseline"]["logged"] == results["distinct"]["logged"]
    print(f"logged loss/reward identical: {same}")
    if not same:
        for a, b in zip(results["baseline"]["logged"], results["distinct"]["logged"]):
            print("  baseline", a, "\n  distinct", b)


if __name__ == "__main__":
    main()
