# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""The GPU acceptance check's Python side (``scripts/gpu_acceptance.sh`` installs carried wheels, then runs
this).

On one H100/H200, in well under 10 minutes, with random weights (nothing is downloaded):

1. a few GRPO steps of Qwen3-VL with the **8B architecture at reduced depth** (``--text_layers`` decoder
   layers, ``--vision_blocks`` vision blocks; the 8B's widths, heads and 151,936-token LM head), 48 frames at
   256x256, a group of 8 rollouts, shared prefix **on and off** (each in a fresh process): step time and peak
   memory, through ``scripts/profile_grpo.py``;
2. VIUBench throughput of the same model (saved, then loaded as ``hf:<dir>``): one item at a time against
   batched generation, on a small VIUBench-style set built from synthetic videos (``videossr.synthetic``);

3. the README's sharded launch paths on the GPU(s): ``recipes/grpo.py`` with the tiny model for 4 GRPO steps
   under ``accelerate launch`` with ``recipes/accelerate_configs/zero3.yaml`` (DeepSpeed ZeRO-3; skipped with
   the reason when deepspeed is not installed: carry its wheel) and with ``fsdp.yaml`` (FSDP2), bf16, on
   every GPU of the machine: exit status, seconds, and whether the consolidated ``model.safetensors`` loads.
   The numerical checks of both layouts (against one process, resume, the vision tower's shards) run on CPU
   processes in ``tests/training/test_sharded_grpo.py``; this is the part only a GPU can show (NCCL, bf16,
   DeepSpeed's CUDA accelerator).

and prints one table (and writes it with the raw figures to ``--out``). Without a GPU it falls back to the
tiny offline model and small inputs, so parts 1 and 2 are exercised on CPU (part 3 is skipped there).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# (name in the table, accelerate config, the module it needs)
SHARDED = (("ZeRO-3", "zero3.yaml", "deepspeed"), ("FSDP2", "fsdp.yaml", None))
REDUCED = "qwen3_vl_8b_reduced"


def _profile_module() -> Any:
    sys.path.insert(0, str(HERE))
    import profile_grpo

    return profile_grpo


def register_reduced_preset(text_layers: int, vision_blocks: int) -> str:
    """Add the 8B preset at reduced depth to ``profile_grpo.PRESETS`` (deepstack taps inside the tower)."""
    profile = _profile_module()
    preset = copy.deepcopy(profile.PRESETS["qwen3_vl_8b"])
    preset["text"]["num_hidden_layers"] = text_layers
    preset["vision"]["depth"] = vision_blocks
    taps = preset["vision"].get("deepstack_visual_indexes") or []
    preset["vision"]["deepstack_visual_indexes"] = [
        min(vision_blocks - 1, round(i * vision_blocks / 27)) for i in taps
    ]
    profile.PRESETS[REDUCED] = preset
    return REDUCED


def grpo_argv(args: argparse.Namespace, mode: str, out: Path) -> list[str]:
    arch = "tiny" if args.cpu else REDUCED
    argv = [
        "--arch",
        arch,
        "--frames",
        str(args.frames),
        "--height",
        str(args.size),
        "--width",
        str(args.size),
        "--num_generations",
        str(args.num_generations),
        "--steps",
        str(args.steps),
        "--warmup",
        "1",
        "--beta",
        "0",
        "--shared_prefix",
        mode,
        "--workdir",
        str(Path(args.workdir) / "profile"),
        "--out",
        str(out),
    ]
    if not args.cpu:
        argv += ["--gradient_checkpointing", "--peak_tflops", str(args.peak_tflops)]
    return argv


def run_grpo_child(args: argparse.Namespace) -> None:
    """In a fresh process: one shared-prefix mode through ``profile_grpo.main``."""
    register_reduced_preset(args.text_layers, args.vision_blocks)
    _profile_module().main(grpo_argv(args, args.child_mode, Path(args.child_out)))


def grpo_rows(args: argparse.Namespace) -> dict[str, Any]:
    reports = {}
    for mode in ("on", "off"):
        out = Path(args.workdir) / f"grpo_{mode}.json"
        cmd = [sys.executable, __file__, *args.raw_argv, "--child_mode", mode, "--child_out", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        reports[mode] = json.loads(out.read_text())
    return reports


def save_model(args: argparse.Namespace) -> Path:
    """The benchmarked model, saved so that the ``hf:`` backend loads it like a trained checkpoint."""
    import torch

    target = Path(args.workdir) / "model"
    profile = _profile_module()
    if args.cpu:
        from videossr.tiny import build_tiny_model

        return Path(build_tiny_model(target))
    register_reduced_preset(args.text_layers, args.vision_blocks)
    model, processor = profile.build_model_and_processor(REDUCED, Path(args.workdir), torch.bfloat16)
    model.save_pretrained(target)
    processor.save_pretrained(target)
    del model
    torch.cuda.empty_cache()
    return target


def viubench_fixture(args: argparse.Namespace) -> Path:
    """A small VIUBench-style folder (every subtype, ``--items`` each) from synthetic videos."""
    from datasets import Dataset

    from videossr import load_clip
    from videossr.data.features import row_features
    from videossr.metrics import VIUBENCH_SUBTYPES
    from videossr.rows import sample_to_row
    from videossr.synthetic import make_videos
    from videossr.tasks import task_for_subtype

    root = Path(args.workdir) / "viubench"
    videos = make_videos(root / "videos", 3, size=(args.size, args.size), progress=False)
    clips = [load_clip(v.path, max_pixels=args.size * args.size) for v in videos]
    card = ["---", "configs:"]
    for subtype in VIUBENCH_SUBTYPES:
        task = task_for_subtype(subtype)
        rows = [
            sample_to_row(task.generate(clips[k % len(clips)], seed=k), id=f"{subtype}-{k:04d}")
            for k in range(args.items)
        ]
        (root / subtype).mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=row_features()).to_parquet(root / subtype / "test-00000.parquet")
        card += [
            f"- config_name: {subtype}",
            "  data_files:",
            "  - split: test",
            f"    path: {subtype}/test-*",
        ]
    (root / "README.md").write_text("\n".join([*card, "---", ""]))
    return root


def bench_rows(args: argparse.Namespace) -> dict[str, Any]:
    from videossr.evaluation import run_bench

    model = save_model(args)
    data = viubench_fixture(args)
    device = "cpu" if args.cpu else "cuda"
    out = {}
    for name, batch in (("one_at_a_time", 1), ("batched", args.batch_size)):
        start = time.perf_counter()
        result = run_bench(
            data,
            f"hf:{model}",
            out_dir=Path(args.workdir) / f"bench_{name}",
            batch_size=batch,
            overwrite=True,
            progress=False,
            report=False,
            backend_options={"device": device, "max_new_tokens": args.max_new_tokens},
        )
        timing = result.get("timing") or {}
        out[name] = {
            "batch_size": batch,
            "items": timing.get("new_items"),
            "seconds": round(time.perf_counter() - start, 3),
            "items_per_s": timing.get("items_per_s"),
        }
    return out


def sharded_argv(config: str, processes: int, workdir: Path, port: int) -> list[str]:
    """``accelerate launch --config_file recipes/accelerate_configs/<config>`` of the tiny sharded recipe on
    ``processes`` GPUs: the same global batch of 8 completions, bf16, a checkpoint after step 2."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "recipes" / "accelerate_configs" / config),
        "--num_processes",
        str(processes),
        "--main_process_port",
        str(port),
        str(ROOT / "recipes" / "grpo.py"),
        "--config",
        str(ROOT / "recipes" / "tiny" / "grpo" / "config_tiny_fsdp.yaml"),
        "--use_cpu",
        "false",
        "--bf16",
        "true",
        "--max_steps",
        "4",
        "--save_steps",
        "2",
        "--per_device_train_batch_size",
        str(max(1, 8 // processes)),
        "--output_dir",
        str(workdir / "run"),
        "--tiny_model_dir",
        str(workdir / "tiny"),
    ]


def sharded_rows(args: argparse.Namespace) -> dict[str, Any]:
    """Part 3: each sharded launch path once (GPU only)."""
    if args.cpu:
        reason = "skipped: no GPU (tests/training/test_sharded_grpo.py runs both layouts on CPU processes)"
        return {name: {"status": reason} for name, _, _ in SHARDED}
    import torch

    processes = max(1, torch.cuda.device_count())
    rows: dict[str, Any] = {}
    for k, (name, config, module) in enumerate(SHARDED):
        if module and importlib.util.find_spec(module) is None:
            rows[name] = {"status": f"skipped: {module} is not installed (carry its wheel in .whl/)"}
            continue
        workdir = Path(args.workdir) / f"sharded_{config.split('.')[0]}"
        argv = sharded_argv(config, processes, workdir, port=29700 + 10 * k)
        start = time.perf_counter()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=args.sharded_timeout, cwd=ROOT
            )
            code, log = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            code, log = "timeout", f"{exc.stdout or ''}{exc.stderr or ''}"
        seconds = round(time.perf_counter() - start, 1)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "log.txt").write_text(str(log))
        row: dict[str, Any] = {"processes": processes, "seconds": seconds, "exit": code}
        if code == 0:
            from transformers import AutoModelForImageTextToText

            try:
                AutoModelForImageTextToText.from_pretrained(workdir / "run")
                row["status"] = "ok: 4 steps, checkpoint, consolidated model loads"
            except Exception as exc:  # reported in the table, not raised: the other rows still count
                row["status"] = f"trained, but the saved model does not load: {type(exc).__name__}: {exc}"
        else:
            row["status"] = f"failed (exit {code}; log in {workdir / 'log.txt'})"
        rows[name] = row
    return rows


def table(
    grpo: dict[str, Any], bench: dict[str, Any], device: str, sharded: dict[str, Any] | None = None
) -> str:
    lines = [f"videossr GPU acceptance on {device}", "", "| measurement | value |", "| --- | --- |"]
    for mode, label in (("on", "shared prefix on"), ("off", "shared prefix off")):
        mean = grpo[mode]["mean"]
        lines.append(f"| GRPO step, {label} (s) | {mean['step_s']:.3f} |")
        memory = mean.get("peak_memory_gib", mean.get("peak_rss_gib"))
        kind = "GPU peak" if "peak_memory_gib" in mean else "CPU peak RSS"
        lines.append(f"| {kind} memory, {label} (GiB) | {memory:.2f} |")
    on, off = grpo["on"]["mean"]["step_s"], grpo["off"]["mean"]["step_s"]
    lines.append(f"| step time, off / on | {off / on:.2f}x |")
    for name, row in bench.items():
        label = f"VIUBench items/s, {name.replace('_', ' ')} (batch {row['batch_size']})"
        lines.append(f"| {label} | {row['items_per_s']} |")
    one, many = bench["one_at_a_time"]["items_per_s"], bench["batched"]["items_per_s"]
    if one and many:
        lines.append(f"| VIUBench, batched / one at a time | {many / one:.2f}x |")
    for name, row in (sharded or {}).items():
        where = f", {row['processes']} GPU(s), {row['seconds']} s" if "seconds" in row else ""
        lines.append(f"| {name} launch (tiny recipe{where}) | {row['status']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="gpu_acceptance.json")
    parser.add_argument("--workdir", default="/tmp/videossr-acceptance")
    parser.add_argument(
        "--cpu", action="store_true", help="force the CPU fallback (tiny model, small inputs)"
    )
    parser.add_argument("--text_layers", type=int, default=4)
    parser.add_argument("--vision_blocks", type=int, default=4)
    parser.add_argument("--frames", type=int, default=None, help="default 48 (GPU), 8 (CPU)")
    parser.add_argument("--size", type=int, default=None, help="frame side; default 256 (GPU), 64 (CPU)")
    parser.add_argument("--num_generations", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--items", type=int, default=None, help="VIUBench items per subtype; 4 (GPU), 1 (CPU)"
    )
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_new_tokens", type=int, default=32)
    parser.add_argument("--peak_tflops", type=float, default=989.0)
    parser.add_argument(
        "--sharded_timeout", type=int, default=120, help="seconds for each sharded launch (part 3)"
    )
    parser.add_argument("--child_mode", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.raw_argv = [a for a in (argv if argv is not None else sys.argv[1:])]
    import torch

    args.cpu = args.cpu or not torch.cuda.is_available()
    args.frames = args.frames or (8 if args.cpu else 48)
    args.size = args.size or (64 if args.cpu else 256)
    args.items = args.items or (1 if args.cpu else 4)
    if args.cpu:
        args.num_generations = min(args.num_generations, 4)
        args.steps = min(args.steps, 2)
        args.max_new_tokens = min(args.max_new_tokens, 8)
    if args.child_mode:
        run_grpo_child(args)
        return {}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    device = "cpu (fallback: tiny model)" if args.cpu else torch.cuda.get_device_name()
    grpo = grpo_rows(args)
    bench = bench_rows(args)
    sharded = sharded_rows(args)
    text = table(grpo, bench, device, sharded)
    print(text)
    report = {
        "device": device,
        "table": text,
        "grpo": grpo,
        "bench": bench,
        "sharded": sharded,
        "argv": argv or sys.argv[1:],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


if __name__ == "__main__":
    main()
