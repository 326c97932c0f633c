# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""Profile video GRPO steps: where the time goes, tokens/s, peak memory, and the update's MFU.

Meant for a GPU (``bf16``, a real-size randomly initialised Qwen3-VL, 48-frame clips); it also runs on
CPU with the tiny model so it is exercised by the tests::

    # GPU: random-initialised Qwen3-VL with the 2B architecture, one group of 8 rollouts on 48 frames 256x256,
    # shared-prefix passes on and off (each in its own process), side by side
    python scripts/profile_grpo.py --arch qwen3_vl_2b --frames 48 --height 256 --width 256 \\
        --num_generations 8 --steps 4 --shared_prefix both --out profile_2b.json

    # CPU smoke run (tiny model)
    python scripts/profile_grpo.py --arch tiny --steps 2 --out /tmp/profile_tiny.json

No weights are downloaded: the model is built from an architecture preset with random weights, and the
processor is the offline byte-level one of ``videossr.tiny`` with the real models' patch sizes, so the visual
token counts and the compute are those of the real model (only the text vocabulary is smaller).

Reported per step (after ``--warmup`` steps): wall time split into generation, log-prob passes without
gradient (old policy / reference model), video preprocessing, and the update (loss forward + backward +
optimizer step, i.e. the rest); tokens per second; peak memory; and the model-FLOPs utilisation of the
update, estimated as ``6 x (parameters) x (tokens)`` plus attention FLOPs over the peak dense bf16 FLOP/s
of the device (``--peak_tflops``; 989 for H100/H200 SXM). ``--shared_prefix on|off`` chooses
:class:`~videossr.trl_video.VideoGRPOTrainer`'s shared-prefix passes; ``both`` runs each in a fresh process
and reports them together with their ratios. ``gpu_hours_per_epoch_30k`` extrapolates the mean step to one
epoch of VideoSSR-30K (30,000 prompts) on one device.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Architecture presets (text / vision sizes of the public Qwen3-VL and Qwen2.5-VL configs, random weights).
PRESETS: dict[str, dict[str, Any]] = {
    "qwen3_vl_2b": {
        "family": "qwen3_vl",
        "tie_word_embeddings": True,
        "text": {
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 28,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "vision": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "out_hidden_size": 2048,
            "deepstack_visual_indexes": [5, 11, 17],
        },
    },
    "qwen3_vl_4b": {
        "family": "qwen3_vl",
        "tie_word_embeddings": True,
        "text": {
            "hidden_size": 2560,
            "intermediate_size": 9728,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "vision": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "out_hidden_size": 2560,
            "deepstack_visual_indexes": [5, 11, 17],
        },
    },
    "qwen3_vl_8b": {
        "family": "qwen3_vl",
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "vision": {
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "out_hidden_size": 4096,
            "deepstack_visual_indexes": [8, 16, 24],
        },
    },
}
VOCAB_SIZE = 151_936  # the real vocabulary size, so the LM head costs what it costs


def build_model_and_processor(arch: str, workdir: Path, dtype: Any):
    """A random model of the preset's size and a processor with the real patch geometry (offline)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videossr.tiny import build_tiny_model

    if arch == "tiny":
        path = build_tiny_model(workdir / "tiny-qwen3_vl")
        return AutoModelForImageTextToText.from_pretrained(path, dtype=dtype), AutoProcessor.from_pretrained(
            path
        )
    processor, config = preset_config(arch)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    return model, processor


def preset_config(arch: str):
    """The offline processor (real patch geometry) and the model config of an architecture preset."""
    from videossr.tiny import build_config, build_processor

    preset = PRESETS[arch]
    processor = build_processor(preset["family"])
    # Real Qwen3-VL geometry: 16-pixel patches, 2x2 merge, 2-frame temporal patches.
    for sub in (processor.image_processor, processor.video_processor):
        sub.patch_size = 16
    tokens = (
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
        "<|endoftext|>",
    )
    ids = {t: processor.tokenizer.convert_tokens_to_ids(t) for t in tokens}
    config = build_config(preset["family"], ids, VOCAB_SIZE, hidden=16)
    for key, value in preset["text"].items():
        setattr(config.text_config, key, value)
    for key, value in preset["vision"].items():
        setattr(config.vision_config, key, value)
    config.vision_config.patch_size = 16
    config.vision_config.num_position_embeddings = 2304
    for sub in (config, config.text_config, config.vision_config):
        sub.initializer_range = 0.02  # the real models' value (the tiny model uses a wider one)
    tie = bool(preset.get("tie_word_embeddings", False))
    config.tie_word_embeddings = tie
    config.text_config.tie_word_embeddings = tie
    config.text_config.rope_parameters = {
        "rope_type": "default",
        "rope_theta": 5e6,
        "mrope_section": [24, 20, 20],
        "mrope_interleaved": True,
    }
    return processor, config


def synthetic_rows(n: int, frames: int, height: int, width: int, clips: int, fps: float, seed: int = 0):
    """Rows in the project's schema with random frames stored as JPEG bytes, as the built datasets
    store them."""
    import numpy as np

    from videossr.rows import encode_frame

    rng = np.random.default_rng(seed)
    # One random clip reused for every row: encoding is not what is profiled either.
    base = rng.integers(0, 256, (frames // clips, height, width, 3), dtype=np.uint8)

    def frames_of(_rng):
        return base

    rows = []
    for i in range(n):
        content = [{"type": "text", "text": "Something in this video changes for a while."}]
        for k in range(clips):
            if clips > 1:
                content.append({"type": "text", "text": f"\nClip {k + 1}:"})
            content.append({"type": "video", "text": None})
        content.append({"type": "text", "text": "\nWhen? Answer as start-end in seconds, e.g. 4.5-9.0."})
        rows.append(
            {
                "id": f"profile-{i}",
                "prompt": [{"role": "user", "content": content}],
                # Encoded like the real datasets' frames (JPEG), so preprocessing includes their decoding.
                "videos": [
                    [{"bytes": encode_frame(f), "path": None} for f in frames_of(rng)] for _ in range(clips)
                ],
                "fps": fps,
                "answer": "1.0-2.0",
                "task": "anomaly_grounding",
            }
        )
    return rows


class Timers:
    """Accumulates wall time per named block, synchronising the GPU around each block."""

    def __init__(self, cuda: bool):
        self.cuda = cuda
        self.totals: dict[str, float] = {}

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    @contextmanager
    def block(self, name: str):
        self.sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.sync()
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start

    def pop(self) -> dict[str, float]:
        totals, self.totals = self.totals, {}
        return totals


def instrument(trainer: Any, timers: Timers) -> dict[str, Any]:
    """Wrap the trainer's phases with timers; returns a dict the step callback fills with token counts."""
    import torch

    counters: dict[str, Any] = {"tokens": 0, "update_tokens": 0, "update_seq_sq": 0}

    generate = trainer._generate_single_turn
    logps = trainer._get_per_token_logps_and_entropies
    preprocess = trainer._row_video_inputs
    compute_loss = trainer._compute_loss

    def timed_generate(*args, **kwargs):
        with timers.block("generation"):
            return generate(*args, **kwargs)

    def timed_logps(model, input_ids, attention_mask, *args, **kwargs):
        if torch.is_grad_enabled():  # the loss pass: counted in the update
            return logps(model, input_ids, attention_mask, *args, **kwargs)
        with timers.block("logprob_passes"):
            return logps(model, input_ids, attention_mask, *args, **kwargs)

    def timed_preprocess(*args, **kwargs):
        with timers.block("video_preprocess"):
            return preprocess(*args, **kwargs)

    def counting_loss(model, inputs):
        mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        lengths = mask.sum(dim=1)
        counters["update_tokens"] += int(lengths.sum())
        counters["update_seq_sq"] += int((lengths.double() ** 2).sum())
        return compute_loss(model, inputs)

    trainer._generate_single_turn = timed_generate
    trainer._get_per_token_logps_and_entropies = timed_logps
    trainer._row_video_inputs = timed_preprocess
    trainer._compute_loss = counting_loss
    return counters


def update_flops(model: Any, tokens: int, seq_sq: int) -> float:
    """Training FLOPs of the loss forward + backward: 6 N T for the weights plus 12 L d s^2 for attention."""
    n_params = sum(p.numel() for p in model.parameters())
    text = model.config.get_text_config()
    heads_dim = text.num_attention_heads * getattr(
        text, "head_dim", text.hidden_size // text.num_attention_heads
    )
    attention = 12 * text.num_hidden_layers * heads_dim * seq_sq / 2  # causal: half the score matrix
    return 6.0 * n_params * tokens + attention


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="qwen3_vl_2b", choices=["tiny", *PRESETS])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--clips", type=int, default=1, help="videos per prompt (6 or 8 for jigsaw)")
    parser.add_argument("--num_generations", type=int, default=8)
    parser.add_argument("--prompts_per_step", type=int, default=1)
    parser.add_argument("--max_completion_length", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1, help="steps left out of the averages")
    parser.add_argument("--beta", type=float, default=1e-3, help="KL coefficient (adds the reference pass)")
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument(
        "--weights_dtype",
        default="bfloat16",
        choices=["bfloat16", "float32"],
        help="bfloat16: weights, gradients and AdamW states in bf16 (the one-GPU floor); float32: fp32 "
        "master weights with bf16 autocast, the memory layout of mixed-precision training without "
        "sharding",
    )
    parser.add_argument("--video_mode", default="video", choices=["video", "images"])
    parser.add_argument(
        "--shared_prefix",
        default="on",
        choices=["on", "off", "both"],
        help="shared-prefix passes of VideoGRPOTrainer; `both`: one fresh process per mode, reported "
        "side by side",
    )
    parser.add_argument(
        "--peak_tflops", type=float, default=None, help="device peak dense TFLOP/s (H100: 989)"
    )
    parser.add_argument("--workdir", default="/tmp/videossr-profile")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.shared_prefix == "both":
        return compare_modes(argv if argv is not None else sys.argv[1:], args.out)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig

    from videossr.trl_video import VideoGRPOTrainer

    cuda = torch.cuda.is_available()
    dtype = getattr(torch, args.weights_dtype) if cuda else torch.float32
    workdir = Path(args.workdir)
    model, processor = build_model_and_processor(args.arch, workdir, dtype)
    if args.beta > 0 and args.arch != "tiny":
        # TRL loads the reference model from the policy's path: give the random model one.
        saved = workdir / f"random-{args.arch}"
        model.save_pretrained(saved)
        model.config._name_or_path = str(saved)
    total_steps = args.steps + args.warmup
    batch = args.prompts_per_step * args.num_generations
    rows = synthetic_rows(
        args.prompts_per_step * total_steps,
        args.frames,
        args.height,
        args.width,
        args.clips,
        fps=args.frames / 20.0,
    )
    config = GRPOConfig(
        output_dir=str(workdir / "out"),
        use_cpu=not cuda,
        bf16=cuda,
        gradient_checkpointing=args.gradient_checkpointing,
        per_device_train_batch_size=batch,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        max_steps=total_steps,
        beta=args.beta,
        learning_rate=1e-6,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        seed=0,
    )

    def reward(completion_ids, **kwargs):
        return [float(len(ids) % 3) / 2 for ids in completion_ids]

    trainer = VideoGRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=[reward],
        args=config,
        train_dataset=Dataset.from_list(rows),
        video_mode=args.video_mode,
        shared_prefix=args.shared_prefix == "on",
        # Keep the frames at the requested size (the tiny model keeps its own tiny bounds).
        video_max_pixels=None if args.arch == "tiny" else args.height * args.width,
        video_min_pixels=None if args.arch == "tiny" else 128 * 128,
    )
    if args.arch != "tiny":
        processor.image_processor.size = {
            "shortest_edge": 128 * 128,
            "longest_edge": args.height * args.width,
        }
    timers = Timers(cuda)
    counters = instrument(trainer, timers)
    records: list[dict[str, Any]] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            timers.sync()
            self.start = time.perf_counter()
            counters.update(update_tokens=0, update_seq_sq=0)
            if cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_step_end(self, *_, **__):
            timers.sync()
            total = time.perf_counter() - self.start
            parts = timers.pop()
            measured = sum(parts.values())
            record = {"step_s": total, **{f"{k}_s": v for k, v in parts.items()}}
            record["update_s"] = max(total - measured, 0.0)
            record["tokens"] = counters["update_tokens"]
            record["tokens_per_s"] = counters["update_tokens"] / total if total else 0.0
            flops = update_flops(trainer.model, counters["update_tokens"], counters["update_seq_sq"])
            record["update_tflop"] = flops / 1e12
            if args.peak_tflops and record["update_s"] > 0:
                record["update_mfu"] = flops / record["update_s"] / (args.peak_tflops * 1e12)
            if cuda:
                record["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
            records.append(record)

    trainer.add_callback(StepTimer())
    trainer.train()

    kept = records[args.warmup :] or records
    keys = sorted({k for r in kept for k in r})
    mean = {k: sum(r.get(k, 0.0) for r in kept) / len(kept) for k in keys}
    if not cuda:
        # ru_maxrss is KiB on Linux: the process's peak resident memory.
        mean["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    report = {
        "command": "python scripts/profile_grpo.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": torch.cuda.get_device_name()
        if cuda
        else f"cpu ({platform.processor() or platform.machine()})",
        "dtype": str(dtype).replace("torch.", ""),
        "arch": args.arch,
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "frames": args.frames,
        "size": [args.height, args.width],
        "clips": args.clips,
        "sequences_per_step": batch,
        "shared_prefix": trainer.shared_prefix,
        "shared_prefix_stats": dict(trainer.shared_prefix_stats),
        "gpu_hours_per_epoch_30k": mean["step_s"] * 30_000 / args.prompts_per_step / 3600,
        "steps_measured": len(kept),
        "mean": mean,
        "steps": records,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return report


def compare_modes(argv: list[str], out: str | None) -> dict[str, Any]:
    """Run the profile with the shared-prefix passes on and off, each in a fresh process, and merge them."""
    # Drop the mode and output options; each child gets its own.
    cleaned: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--shared_prefix", "--out"):
            skip = True
            continue
        if a.startswith(("--shared_prefix=", "--out=")):
            continue
        cleaned.append(a)
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("on", "off"):
            path = Path(tmp) / f"{mode}.json"
            cmd = [sys.executable, __file__, *cleaned, "--shared_prefix", mode, "--out", str(path)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            reports[mode] = json.loads(path.read_text())
    on, off = reports["on"]["mean"], reports["off"]["mean"]
    ratios = {k: off[k] / on[k] for k in sorted(on) if k in off and isinstance(on[k], float) and on[k] > 0}
    report = {
        "command": "python scripts/profile_grpo.py " + " ".join(argv),
        "shared": reports["on"],
        "unshared": reports["off"],
        "unshared_over_shared": ratios,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
