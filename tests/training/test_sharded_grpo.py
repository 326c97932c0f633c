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
  The same three bounds hold in each tensor group (vision tower ``model.visual.*``, language model
  ``model.language_model.*``, ``lm_head``), checked separately so that a small group (``lm_head`` is an
  eighth of the tiny model's parameters) cannot hide in the whole model's norm. This per-group reading was
  added before the first 10-step weight comparison ran; the bounds are the ones above. Through AdamW over 10
  steps: where ``|g| >> eps`` Adam's step ``lr * m / (sqrt(v) + eps)`` does not depend on the gradient's
  scale, so a relative gradient error ``d ~ 1e-6`` moves each step by ``~lr * d`` and the weights by ``~10 *
  lr * d = 1e-8``; where ``|g| <~ eps`` the step is ``~lr * g / eps``, so an absolute gradient error
  ``~1e-10`` (1e-7 of terms ~1e-3 that cancel) moves it by ``~1e-5`` per step, ``1e-4`` over 10 steps: the
  max bound. Weight decay is 0; clipping at ``max_grad_norm`` 1.0 scales the whole gradient by a factor the
  layouts compute ~1e-7 apart, which Adam's scale invariance absorbs.
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

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_sharded_grpo.py")
FSDP_CPU = ROOT / "recipes" / "accelerate_configs" / "fsdp_cpu.yaml"
ZERO3_CPU = ROOT / "recipes" / "accelerate_configs" / "zero3_cpu.yaml"
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
    out: Path,
    processes: int,
    *extra: str,
    steps: int = 10,
    port: int = 29641,
    env: dict | None = None,
    config_file: Path = FSDP_CPU,
) -> subprocess.CompletedProcess:
    """``recipes/grpo.py`` through the worker: on ``processes`` sharded ranks (accelerate launch with
    ``config_file``: FSDP2 or ZeRO-3) or on one plain process with the same global batch (8 completions per
    step)."""
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
            str(config_file),
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
    timeout = int(os.environ.get("VIDEOSSR_SHARDED_TIMEOUT", "900"))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)
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


WEIGHT_GROUPS = (
    ("vision tower", "model.visual."),
    ("language model", "model.language_model."),
    ("lm_head", "lm_head."),
)


def weight_group(name: str) -> str:
    return next((group for group, prefix in WEIGHT_GROUPS if name.startswith(prefix)), "other")


def _norm_stats(pairs: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Over ``(name, W_a, W_b, W_0)``: update-relative norms, max abs and max relative difference."""
    num = den = 0.0
    worst_tensor = max_abs = max_rel = 0.0
    for _, wa, wb, w0 in pairs:
        da, db = wa - w0, wb - w0
        diff = float((da - db).norm())
        num += diff**2
        den += float(da.norm()) ** 2
        if float(da.norm()) > 0:
            worst_tensor = max(worst_tensor, diff / float(da.norm()))
        gap = float((wa - wb).abs().max())
        max_abs = max(max_abs, gap)
        scale = float(wb.abs().max())
        if scale > 0:
            max_rel = max(max_rel, gap / scale)
    return {
        "rel_norm": (num / den) ** 0.5 if den else 0.0,
        "worst_tensor_rel_norm": worst_tensor,
        "max_abs": max_abs,
        "max_rel": max_rel,
        "update_norm": den**0.5,
        "tensors": len(pairs),
    }


def weight_differences(dir_a: Path, dir_b: Path, initial: Path) -> dict:
    """Run a's final weights against run b's (the reference), over the whole model and per tensor group.

    ``rel_norm``: ``||dW_a - dW_b|| / ||dW_a||`` with ``dW`` the change from the initial weights;
    ``worst_tensor_rel_norm``: the same, tensor by tensor, the largest; ``max_abs``: ``max |W_a - W_b|``;
    ``max_rel``: the largest ``max |W_a - W_b| / max |W_b|`` of a tensor (the gap against the tensor's scale).
    """
    from safetensors.torch import load_file

    a, b, w0 = (load_file(str(d / "model.safetensors")) for d in (dir_a, dir_b, initial))
    assert set(a) == set(b), set(a) ^ set(b)
    pairs = [(name, a[name].double(), b[name].double(), w0[name].double()) for name in sorted(a)]
    out = _norm_stats(pairs)
    out["groups"] = {
        group: _norm_stats([p for p in pairs if weight_group(p[0]) == group])
        for group in sorted({weight_group(name) for name in a})
    }
    return out


def weights_within_tolerance(weights: dict) -> list[str]:
    """What is outside the tolerance, over the whole model and in every tensor group (empty: all within)."""
    bad = []
    for where, stats in [("model", weights), *weights["groups"].items()]:
        if stats["rel_norm"] > WEIGHT_REL_NORM:
            bad.append(f"{where}: update rel norm {stats['rel_norm']:.3g} > {WEIGHT_REL_NORM}")
        if stats["worst_tensor_rel_norm"] > WEIGHT_REL_NORM_PER_TENSOR:
            bad.append(f"{where}: a tensor's update rel norm {stats['worst_tensor_rel_norm']:.3g}")
        if stats["max_abs"] > WEIGHT_MAX_ABS:
            bad.append(f"{where}: max abs {stats['max_abs']:.3g} > {WEIGHT_MAX_ABS}")
    return bad


def card_body(run_dir: Path) -> str:
    """The model card with the run's own folder path taken out (the two runs write to different folders)."""
    return (run_dir / "README.md").read_text().replace(str(run_dir), "<output_dir>")


def check_against_single(sharded: Path, single: Path, steps, tiny: Path) -> dict:
    """The sharded run's logged steps and final weights against the single-process run's, within tolerance."""
    a = logged_steps(rank_results(sharded, 2)[0]["log_history"])
    b = logged_steps(rank_results(single, 1)[0]["log_history"])
    assert set(steps) <= set(a) and set(steps) <= set(b), (sorted(a), sorted(b))
    bad = scalar_differences(a, b, steps)
    assert not bad, bad
    weights = weight_differences(sharded / "run", single / "run", tiny)
    assert set(weights["groups"]) == {group for group, _ in WEIGHT_GROUPS}, weights["groups"]
    assert all(g["update_norm"] > 0 for g in weights["groups"].values()), "a tensor group did not move"
    bad_weights = weights_within_tolerance(weights)
    assert not bad_weights, (bad_weights, weights)
    return {"scalars": max_scalar_difference(a, b, steps), "weights": weights}


# ------------------------------------------------------------------------------------------ fast tests
def test_keyed_sampler_draws_the_same_tokens_however_the_batch_is_split():
    from videossr.keyed_sampling import KeyedSampler, rollout_keys

    torch.manual_seed(0)
    scores = torch.randn(8, 50)
    ids = torch.zeros(8, 5, dtype=torch.long)
    whole = KeyedSampler(rollout_keys(0, 3, 0, 0, 8), prompt_width=4)(ids, scores).argmax(-1)
    # Two processes of 4 rows, the second one's prompt padded wider: same rollouts, same tokens.
    first = KeyedSampler(rollout_keys(0, 3, 0, 0, 4), prompt_width=4)(ids[:4], scores[:4]).argmax(-1)
    wide = torch.zeros(4, 9, dtype=torch.long)
    second = KeyedSampler(rollout_keys(0, 3, 0, 4, 4), prompt_width=8)(wide, scores[4:]).argmax(-1)
    assert torch.equal(whole, torch.cat([first, second]))
    # Another step, seed or position draws anew.
    other_step = KeyedSampler(rollout_keys(0, 4, 0, 0, 8), prompt_width=4)(ids, scores).argmax(-1)
    assert not torch.equal(whole, other_step)
    # One-hot output: greedy decoding takes exactly the chosen token.
    out = KeyedSampler(rollout_keys(0, 3, 0, 0, 8), prompt_width=4)(ids, scores)
    assert torch.equal((out == 0).sum(-1), torch.ones(8, dtype=torch.long))


def test_keyed_sampler_samples_the_softmax_distribution():
    from videossr.keyed_sampling import KeyedSampler, rollout_keys, sampling_warpers

    class Config:
        temperature, top_k, top_p, min_p = 0.5, 0, 1.0, None

    logits = torch.tensor([1.0, 0.5, 0.0, -1.0])
    n = 20_000
    sampler = KeyedSampler(rollout_keys(1, 0, 0, 0, n), prompt_width=0, warpers=sampling_warpers(Config))
    picks = sampler(torch.zeros(n, 0, dtype=torch.long), logits.expand(n, 4).clone()).argmax(-1)
    freq = torch.bincount(picks, minlength=4).double() / n
    expected = torch.softmax(logits.double() / 0.5, -1)
    assert torch.allclose(freq, expected, atol=0.015), (freq, expected)  # ~4 standard errors


def test_last_checkpoint_skips_half_written_folders(tmp_path):
    from videossr.training.models import last_checkpoint

    assert last_checkpoint(tmp_path / "missing") is None
    for step, complete in ((5, True), (10, True), (15, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


def test_recipe_resumes_from_the_newest_checkpoint_by_itself(tmp_path):
    from types import SimpleNamespace

    from _recipe_helpers import load_recipe

    recipe = load_recipe()
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text("{}")
    train = SimpleNamespace(resume_from_checkpoint=None, output_dir=str(tmp_path))
    assert recipe.resume_point(SimpleNamespace(auto_resume=True), train) == str(tmp_path / "checkpoint-3")
    assert recipe.resume_point(SimpleNamespace(auto_resume=False), train) is None
    train.resume_from_checkpoint = "elsewhere"
    assert recipe.resume_point(SimpleNamespace(auto_resume=True), train) == "elsewhere"
    assert recipe.resume_point(SimpleNamespace(auto_resume=False), train) == "elsewhere"


def test_model_card_shows_the_global_batch_not_the_layout():
    from types import SimpleNamespace

    from trl import GRPOConfig

    from videossr.training import GRPOScriptArguments, recipe_summary

    model = SimpleNamespace(model_name_or_path="tiny:qwen3_vl", use_peft=False)
    summaries = []
    for per_device, world in ((8, 1), (4, 2), (2, 4)):
        args = GRPOConfig(
            output_dir="/tmp/x",
            use_cpu=True,
            bf16=False,
            per_device_train_batch_size=per_device,
            num_generations=2,
        )
        summary = recipe_summary(
            GRPOScriptArguments(), SimpleNamespace(**vars(args), world_size=world), model
        )
        summaries.append(summary)
    assert all(s == summaries[0] for s in summaries)
    assert summaries[0]["global_batch_size"] == 8 and "world_size" not in summaries[0]


def test_fsdp_cpu_config_keeps_the_gpu_config_wrapping():
    import yaml

    gpu = yaml.safe_load((ROOT / "recipes" / "accelerate_configs" / "fsdp.yaml").read_text())
    cpu = yaml.safe_load(FSDP_CPU.read_text())
    assert cpu["distributed_type"] == "FSDP" and cpu["num_processes"] == 2 and cpu["mixed_precision"] == "no"
    for key in (
        "fsdp_version",
        "fsdp_auto_wrap_policy",
        "fsdp_transformer_layer_cls_to_wrap",
        "fsdp_state_dict_type",
    ):
        assert cpu["fsdp_config"][key] == gpu["fsdp_config"][key], key


def test_zero3_cpu_config_keeps_the_gpu_config_settings():
    """``zero3_cpu.yaml`` (+ its DeepSpeed JSON) is ``zero3.yaml`` on two CPU processes in fp32, with every
    parameter partitioned (the tiny model's are all under DeepSpeed's default persistence threshold)."""
    import yaml

    gpu = yaml.safe_load((ROOT / "recipes" / "accelerate_configs" / "zero3.yaml").read_text())
    cpu = yaml.safe_load(ZERO3_CPU.read_text())
    assert gpu["distributed_type"] == cpu["distributed_type"] == "DEEPSPEED"
    assert cpu["num_processes"] == 2 and cpu["use_cpu"] is False  # torchrun launcher; CPU via the recipe
    ds = cpu["deepspeed_config"]
    assert ds["zero3_init_flag"] == gpu["deepspeed_config"]["zero3_init_flag"]
    config = json.loads((ROOT / ds["deepspeed_config_file"]).read_text())
    zero = config["zero_optimization"]
    assert zero["stage"] == gpu["deepspeed_config"]["zero_stage"] == 3
    assert (
        zero["stage3_gather_16bit_weights_on_model_save"] is gpu["deepspeed_config"]["zero3_save_16bit_model"]
    )
    assert zero["stage3_param_persistence_threshold"] == 0
    assert not config["bf16"]["enabled"] and not config["fp16"]["enabled"]


def test_tiny_model_is_built_whole_under_zero3_init(tmp_path, monkeypatch):
    """Under ``accelerate launch`` with ZeRO-3 (``zero3_init_flag``) transformers builds every model inside
    DeepSpeed's ``zero.Init``, which leaves each parameter an empty partition; the tiny model must still be
    built, and saved, whole. (Were ZeRO-3 seen here, transformers would import deepspeed, or call it with this
    stand-in config, and fail.)"""
    from safetensors.torch import load_file
    from transformers.integrations import deepspeed as hf_deepspeed

    from videossr.tiny import build_tiny_model

    class Zero3:
        def is_zero3(self):
            return True

    config = Zero3()
    monkeypatch.setattr(hf_deepspeed, "_hf_deepspeed_config_weak_ref", lambda: config)
    assert hf_deepspeed.is_deepspeed_zero3_enabled()
    folder = build_tiny_model(tmp_path / "tiny")
    assert hf_deepspeed.is_deepspeed_zero3_enabled()  # the setting is back afterwards
    weights = load_file(str(folder / "model.safetensors"))
    assert weights and all(w.numel() > 0 for w in weights.values())


def test_saved_keys_stay_as_loaded_after_a_zero3_style_load(tmp_path):
    """transformers' ZeRO-3 loading path keeps every checkpoint renaming, used or not, and reverses them all
    on save (``model.language_model.layers`` saved as ``model.language_model.model.layers``): ``load_model``
    keeps only the used ones, as the ordinary path does."""
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText
    from transformers.conversion_mapping import get_model_conversion_mapping

    from videossr.tiny import build_tiny_model
    from videossr.training.models import keep_used_weight_conversions

    model = AutoModelForImageTextToText.from_pretrained(build_tiny_model(tmp_path / "tiny"))
    expected = set(model.state_dict())
    model._weight_conversions = get_model_conversion_mapping(model, add_legacy=True)  # the ZeRO-3 path's list
    model.save_pretrained(tmp_path / "bug", state_dict=model.state_dict())
    assert set(load_file(str(tmp_path / "bug" / "model.safetensors"))) != expected  # the renaming, reversed
    keep_used_weight_conversions(model)
    model.save_pretrained(tmp_path / "fixed", state_dict=model.state_dict())
    assert set(load_file(str(tmp_path / "fixed" / "model.safetensors"))) == expected


def test_gpu_acceptance_launches_zero3_and_fsdp():
    """``scripts/gpu_acceptance.sh`` runs the README's ZeRO-3 and FSDP2 launch paths when a GPU is there."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_acceptance", ROOT / "scripts" / "gpu_acceptance.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert {config for _, config, _ in script.SHARDED} == {"zero3.yaml", "fsdp.yaml"}
    argv = script.sharded_argv("zero3.yaml", 8, Path("/tmp/w"), port=29700)
    config = Path(argv[argv.index("--config_file") + 1])
    assert config.is_file() and argv[argv.index("--num_processes") + 1] == "8"
    assert argv[argv.index("--per_device_train_batch_size") + 1] == "1"  # the global batch of 8
    assert argv[argv.index("--use_cpu") + 1] == "false" and str(ROOT / "recipes" / "grpo.py") in argv
    rows = script.sharded_rows(argparse.Namespace(cpu=True))
    assert set(rows) == {"ZeRO-3", "FSDP2"} and all(r["status"].startswith("skipped") for r in rows.values())
    step = {"mean": {"step_s": 1.0, "peak_rss_gib": 1.0}}
    bench = {name: {"batch_size": 1, "items_per_s": 1.0} for name in ("one_at_a_time", "batched")}
    assert "| ZeRO-3 launch" in script.table({"on": step, "off": step}, bench, "cpu", rows)


def test_lockstep_generation_is_asked_for_every_sharded_layout():
    """The ZeRO-3 and FSDP decisions the package makes itself (no DeepSpeed run here; docs/sharding.md)."""
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    from videossr.sharding import is_sharded, needs_synced_generation

    def accelerator(kind, processes, stage=None):
        plugin = SimpleNamespace(zero_stage=stage) if stage is not None else None
        state = SimpleNamespace(distributed_type=kind, deepspeed_plugin=plugin)
        return SimpleNamespace(num_processes=processes, state=state)

    assert needs_synced_generation(accelerator(DistributedType.DEEPSPEED, 8, stage=3))
    assert needs_synced_generation(accelerator(DistributedType.FSDP, 2))
    assert not needs_synced_generation(accelerator(DistributedType.FSDP, 1))
    assert not is_sharded(accelerator(DistributedType.DEEPSPEED, 8, stage=2))  # ZeRO-2: whole weights
    assert not is_sharded(accelerator(DistributedType.MULTI_CPU, 2))


def test_recipe_saves_on_every_rank_and_writes_outputs_on_the_main_one():
    """ZeRO-3 and FSDP gather the consolidated weights collectively: ``save_model`` must run on all ranks
    (the card, the curve and the push only on the main one)."""
    import ast

    source = (ROOT / "recipes" / "grpo.py").read_text()
    main = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    top_level = [ast.unparse(n) for n in main.body]
    assert any(line.startswith("trainer.save_model(") for line in top_level)
    guarded = [n for n in main.body if isinstance(n, ast.If) and "is_main_process" in ast.unparse(n.test)]
    assert guarded and "write_run_outputs" in ast.unparse(guarded[0])


# ------------------------------------------------------------------------------------------ the slow test
def sharded_run_matches_one_process(
    tmp_path: Path, config_file: Path, kind: str, port: int, env: dict | None = None
) -> dict:
    """Two sharded CPU ranks (accelerate launch with ``config_file``, the recipe, shared prefix, video, the
    paper's rewards) against one process: rank 1 is SIGKILLed after the middle checkpoint, the relaunched run
    resumes by itself, and its logged steps and final weights match an uninterrupted single-process run; the
    vision tower changed on every rank's shard; the consolidated checkpoint loads, is scored by
    `videossr bench`, and has the single run's model card. Returns the comparison (the numbers in
    docs/sharding.md)."""
    steps = int(os.environ.get("VIDEOSSR_SHARDED_STEPS", "10"))
    kill_after = steps // 2
    common = ("--save_steps", str(kill_after))
    single = run_recipe(tmp_path / "one", 1, *common, steps=steps)
    assert single.returncode == 0, single.stderr[-3000:]

    sharded = tmp_path / "two"
    launch = {"steps": steps, "config_file": config_file}
    kill = {**(env or {}), "VIDEOSSR_KILL_RANK1_AT_STEP": str(kill_after + 1)}
    killed = run_recipe(sharded, 2, *common, port=port, env=kill, **launch)
    assert killed.returncode != 0, "rank 1 was not killed"
    assert (sharded / "run" / f"checkpoint-{kill_after}" / "trainer_state.json").is_file()
    assert not (sharded / "run" / "model.safetensors").exists()
    resumed = run_recipe(sharded, 2, *common, port=port + 1, env=env, **launch)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {sharded / 'run' / f'checkpoint-{kill_after}'}" in resumed.stderr

    ranks = rank_results(sharded, 2)
    assert [r["distributed_type"] for r in ranks] == [f"DistributedType.{kind}"] * 2
    assert all(r["sharded_params"] == r["params"] for r in ranks)  # every parameter is split over the ranks
    assert all(r["vision_changed_every_rank"] for r in ranks)
    # Not just some: every vision-tower parameter's shard changed on every rank (all 39 here, none empty).
    for r in ranks:
        assert r["vision_params"] > 0 and len(r["vision_nonempty"]) == r["vision_params"], r["rank"]
        assert r["vision_changed_here"] == r["vision_nonempty"], (r["rank"], r["vision_changed_here"])
    # Steps after the checkpoint were run again after the kill; all of them match the uninterrupted run.
    tiny = tmp_path / "tiny" / "tiny-qwen3_vl"
    report = check_against_single(sharded, tmp_path / "one", range(1, steps + 1), tiny)
    report.update(
        layout=kind, steps=steps, vision_changed={r["rank"]: len(r["vision_changed_here"]) for r in ranks}
    )

    from transformers import AutoModelForImageTextToText

    AutoModelForImageTextToText.from_pretrained(sharded / "run")
    assert card_body(sharded / "run") == card_body(tmp_path / "one" / "run")

    from _eval_helpers import viubench_rows, write_repo

    repo = write_repo(
        tmp_path / "viubench", viubench_rows(("grounding_mirror", "jigsaw_easy"), per_subtype=1)
    )
    from videossr.cli import main as cli

    out = tmp_path / "bench"
    code = cli(
        ["bench", "--data", str(repo), "--model", f"hf:{sharded / 'run'}", "--out", str(out), "--no-progress"]
        + ["--device", "cpu", "--max-new-tokens", "4"]
    )
    assert code == 0
    assert json.loads((out / "results.json").read_text())["scores"]["overall"] is not None
    print(json.dumps(report, indent=1))  # the numbers docs/sharding.md quotes (pytest -s)
    if os.environ.get("VIDEOSSR_SHARDED_REPORT"):
        Path(os.environ["VIDEOSSR_SHARDED_REPORT"]).write_text(json.dumps(report, indent=1) + "\n")
    return report


@pytest.mark.slow
def test_fsdp2_on_two_cpu_processes_matches_one_process_and_resumes_after_a_sigkill(tmp_path):
    """FSDP2 (``fsdp_cpu.yaml``): SIGKILL after the middle checkpoint, resume, against one process (see
    ``sharded_run_matches_one_process``)."""
    sharded_run_matches_one_process(tmp_path, FSDP_CPU, "FSDP", port=29661)


@pytest.mark.slow
def test_zero3_on_two_cpu_processes_matches_one_process_and_resumes_after_a_sigkill(tmp_path):
    """DeepSpeed ZeRO-3 (``zero3_cpu.yaml``, DeepSpeed's CPU accelerator): the same checks as FSDP2. Skipped
    where deepspeed is not installed (it is not in the package's extras: a source build; docs/sharding.md)."""
    pytest.importorskip("deepspeed")
    env = {"DS_ACCELERATOR": "cpu"}
    sharded_run_matches_one_process(tmp_path, ZERO3_CPU, "DEEPSPEED", port=29671, env=env)
