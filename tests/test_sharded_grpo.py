"""Sharded GRPO on CPU processes: FSDP2 over gloo (``accelerate launch``) against one process, resume after a
SIGKILL, the consolidated checkpoint; plus the pieces that make it work (docs/sharding.md).

Tolerance of the sharded-vs-single comparison, fixed before the first comparison was run (and not moved
after): the two layouts run the same float32 arithmetic in a different order (one packed forward of 2 groups
against two of 1 group; one backward against two whose gradients a reduce-scatter averages), and the rollouts
are drawn with the keyed sampler, so both sample the same tokens.

- Logged scalars (loss, rewards, reward std, ``frac_reward_zero_std``, KL, entropy, reply length):
  ``|a - b| <= 1e-6 + 1e-4 * |b|``. A float32 sum of n terms in another order moves by about sqrt(n) * 1.2e-7
  relative, at most n * 1.2e-7; the largest sums here are over ~10^3 terms, so 1e-4 is the worst case with
  margin. Rewards are functions of the sampled token ids: equal unless a rounding difference flips a sampled
  token (chance ~1e-6 per token), which this tolerance would then catch.
- Final weights: ``||dW_a - dW_b|| <= 1e-3 * ||dW_a||`` over the whole model and ``<= 1e-2`` per tensor, where
  ``dW`` is the change from the initial weights, and ``max |W_a - W_b| <= 1e-4`` (1 % of the most a weight can
  move in 10 Adam steps at lr 1e-3). Adam divides each gradient by its own running scale, so an element whose
  gradient is itself at the noise level (~Adam's eps, 1e-8) can get a visibly different step: a norm over the
  whole change, not each element, is the sharp criterion; the max bound still catches a real divergence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("_sharded_grpo.py")
FSDP_CPU = ROOT / "recipes" / "accelerate_configs" / "fsdp_cpu.yaml"
CONFIG = ROOT / "recipes" / "tiny" / "grpo" / "config_tiny_fsdp.yaml"

# The tolerance (see the module docstring; fixed before the first run).
SCALAR_RTOL = 1e-4
SCALAR_ATOL = 1e-6
WEIGHT_REL_NORM = 1e-3
WEIGHT_REL_NORM_PER_TENSOR = 1e-2
WEIGHT_MAX_ABS = 1e-4

LOGGED = (
    "loss",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "kl",
    "entropy",
    "completions/mean_length",
    "rewards/grounding/mean",
    "rewards/counting/mean",
    "rewards/jigsaw/mean",
    "rewards/varied/mean",
)


# ------------------------------------------------------------------------------------------ run helpers
def run_recipe(
    out: Path, processes: int, *extra: str, steps: int = 10, port: int = 29641, env: dict | None = None
) -> subprocess.CompletedProcess:
    """``recipes/grpo.py`` through the worker: on ``processes`` FSDP2 ranks (accelerate launch) or on one
    plain process with the same global batch (8 completions per step)."""
    args = [
        "--config",
        str(CONFIG),
        "--output_dir",
        str(out / "run"),
        "--tiny_model_dir",
        str(out.parent / "tiny"),
        "--max_steps",
        str(steps),
        "--per_device_train_batch_size",
        str(8 // processes),
        *extra,
    ]
    if processes == 1:
        cmd = [sys.executable, str(WORKER), str(out / "result"), *args]
    else:
        accelerate = [sys.executable, "-m", "accelerate.commands.launch"]
        cmd = [
            *accelerate,
            "--config_file",
            str(FSDP_CPU),
            "--num_processes",
            str(processes),
            "--main_process_port",
            str(port),
            str(WORKER),
            str(out / "result"),
            *args,
        ]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **(env or {})}
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=full_env, cwd=ROOT)
    (out / "log.txt").write_text(done.stdout + "\n" + done.stderr)
    return done


def rank_results(out: Path, processes: int) -> list[dict]:
    return [json.loads((out / f"result.rank{k}.json").read_text()) for k in range(processes)]


def logged_steps(history: list[dict]) -> dict[int, dict]:
    """The per-step training logs (the ones carrying a loss), by step."""
    return {h["step"]: h for h in history if "loss" in h and "reward" in h}


def scalar_differences(a: dict[int, dict], b: dict[int, dict], steps) -> list[tuple[int, str, float, float]]:
    """``(step, key, a, b)`` for every logged value outside the tolerance (NaN/None must match)."""
    bad = []
    for step in steps:
        for key in LOGGED:
            x, y = a[step].get(key), b[step].get(key)
            if x is None or y is None or x != x or y != y:
                if not ((x is None or x != x) and (y is None or y != y)):
                    bad.append((step, key, x, y))
                continue
            if abs(x - y) > SCALAR_ATOL + SCALAR_RTOL * abs(y):
                bad.append((step, key, x, y))
    return bad


def max_scalar_difference(a: dict[int, dict], b: dict[int, dict], steps) -> dict[str, float]:
    out = {}
    for key in LOGGED:
        diffs = [
            abs(a[s][key] - b[s][key])
            for s in steps
            if isinstance(a[s].get(key), float | int) and isinstance(b[s].get(key), float | int)
        ]
        if diffs:
            out[key] = max(diffs)
    return out


def weight_differences(dir_a: Path, dir_b: Path, initial: Path) -> dict[str, float]:
    """Global and per-tensor relative norm of the difference between two runs' weight changes, and the max."""
    from safetensors.torch import load_file

    a, b, w0 = (load_file(str(d / "model.safetensors")) for d in (dir_a, dir_b, initial))
    assert set(a) == set(b), set(a) ^ set(b)
    num = den = 0.0
    worst_tensor, max_abs = 0.0, 0.0
    for name in a:
        da = a[name].double() - w0[name].double()
        db = b[name].double() - w0[name].double()
        diff = float((da - db).norm()) ** 2
        num += diff
        den += float(da.norm()) ** 2
        if float(da.norm()) > 0:
            worst_tensor = max(worst_tensor, diff**0.5 / float(da.norm()))
        max_abs = max(max_abs, float((a[name].double() - b[name].double()).abs().max()))
    return {
        "rel_norm": (num / den) ** 0.5 if den else 0.0,
        "worst_tensor_rel_norm": worst_tensor,
        "max_abs": max_abs,
        "update_norm": den**0.5,
    }


def card_body(run_dir: Path) -> str:
    """The model card with the run's own folder path taken out (the two runs write to different folders)."""
    return (run_dir / "README.md").read_text().replace(str(run_dir), "<output_dir>")
