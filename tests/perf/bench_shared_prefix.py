"""Benchmark: shared-prefix against unshared GRPO passes, in one run, on CPU with a narrow Qwen3-VL.

The model has Qwen3-VL's real geometry (16-pixel patches, 2x2 merge, 2-frame temporal patches, timestamps,
deepstack) so a 48-frame 256x256 clip gives the real number of video tokens (about 2,000 per prompt), but the
width and depth are shrunk (text width 64, 2 layers; vision width 64, 2 blocks) and the vocabulary is the tiny
byte-level one, so it runs on 2 CPU cores. The small vocabulary also keeps the LM head out of the comparison:
on CPU TRL's fused head scores every position, on a GPU only the reply tokens, in both paths.

Printed side by side, shared against unshared, with G rollouts of 32-token replies:

* loss pass: forward + backward of TRL's GRPO loss on the same generated batch;
* full GRPO step: ``trainer.train()`` steps (generation, old-policy / reference passes, loss, optimizer);
* peak memory of the loss pass: growth of the process's peak resident memory (each mode in a fresh child
  process) and the bytes autograd saves for the backward;
* the loss-pass ratio over G in {4, 8, 16} and prompts of about 0.5K, 2K and 5K tokens (``--table``),
  plotted to ``<out-dir>/shared_prefix.png`` with ``--out-dir``.

Not a test. Run::

    python tests/perf/bench_shared_prefix.py                      # headline (G=8, 48 frames 256x256)
    python tests/perf/bench_shared_prefix.py --table --out-dir docs   # + the G x prompt-length table and plot
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Idle OpenMP threads sleep instead of spinning, so CPU time counts work only (see `timed`).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# Prompt sizes of the table: (label, frames, height, width).
PROMPTS = {"0.5K": (16, 224, 224), "2K": (48, 256, 256), "5K": (48, 384, 512)}
REPLY = 32


def build_model_and_processor(width: int, depth: int):
    """A random narrow Qwen3-VL with the real patch geometry, and the offline processor."""
    from transformers import AutoModelForImageTextToText

    from videossr.tiny import build_config, build_processor

    processor = build_processor("qwen3_vl")
    for sub in (processor.image_processor, processor.video_processor):
        sub.patch_size = 16
    tok = processor.tokenizer
    names = (
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
        "<|endoftext|>",
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in names}
    config = build_config("qwen3_vl", ids, (len(tok) + 7) // 8 * 8, hidden=width)
    config.text_config.num_hidden_layers = depth
    config.text_config.num_attention_heads = 4
    config.text_config.num_key_value_heads = 2
    config.text_config.head_dim = width // 4
    config.text_config.rope_parameters = {
        "rope_type": "default",
        "rope_theta": 5e6,
        "mrope_section": [2, 3, 3],
        "mrope_interleaved": True,
    }
    vision = config.vision_config
    vision.depth, vision.patch_size, vision.num_position_embeddings = depth, 16, 2304
    vision.deepstack_visual_indexes = [0]
    for sub in (config, config.text_config, config.vision_config):
        sub.initializer_range = 0.02
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    # Saved once so TRL can load the reference model (beta > 0) from the path, as it does for Hub models.
    path = Path(tempfile.gettempdir()) / f"videossr-bench-shared-{width}x{depth}"
    model.save_pretrained(path)
    model.config._name_or_path = str(path)
    return model, processor


def rows(n: int, frames: int, height: int, width: int, seed: int = 0) -> list[dict[str, Any]]:
    """Rows in the project's schema; frames stored as JPEG bytes like the built datasets (Arrow reads raw
    arrays back very slowly)."""
    from videossr.rows import encode_frame

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        frames_ = rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
        clip = [{"bytes": encode_frame(f), "path": None} for f in frames_]
        content = [
            {"type": "text", "text": "Something in this video changes for a while."},
            {"type": "video"},
            {"type": "text", "text": "\nWhen? Answer as start-end in seconds, e.g. 4.5-9.0."},
        ]
        out.append(
            {
                "id": f"bench-{i}",
                "prompt": [{"role": "user", "content": content}],
                "videos": [clip],
                "fps": frames / 20.0,
                "answer": "1.0-2.0",
            }
        )
    return out


def make_trainer(
    model,
    processor,
    data,
    group: int,
    shared: bool,
    steps: int,
    workdir: str,
    beta: float,
    batch: int | None = None,
    steps_per_generation: int = 1,
):
    from datasets import Dataset
    from trl import GRPOConfig

    from videossr.trl_video import VideoGRPOTrainer

    def reward(completion_ids, **kwargs):
        return [float(sum(ids) % 7) / 6 for ids in completion_ids]

    config = GRPOConfig(
        output_dir=workdir,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        per_device_train_batch_size=batch or group,
        num_generations=group,
        max_completion_length=REPLY,
        steps_per_generation=steps_per_generation,
        gradient_accumulation_steps=steps_per_generation,
        # Every reply is exactly 32 tokens, as the benchmark asks.
        generation_kwargs={"min_new_tokens": REPLY},
        max_steps=steps,
        beta=beta,
        learning_rate=1e-6,
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
        shuffle_dataset=False,
    )
    trainer = VideoGRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=[reward],
        args=config,
        train_dataset=Dataset.from_list(data),
        shared_prefix=shared,
        video_max_pixels=None,
        video_min_pixels=None,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for callback in (PrinterCallback, ProgressCallback):  # keep the table readable
        trainer.remove_callback(callback)
    # Set by `Trainer.train()`; the loss-pass timings call the loss directly.
    trainer.current_gradient_accumulation_steps = config.gradient_accumulation_steps
    return trainer


def set_pixels(processor, height: int, width: int, frames: int) -> None:
    # Qwen3-VL's video processor bounds the whole clip: keep every frame at its own size.
    processor.video_processor.size = {
        "shortest_edge": 32 * 32 * frames,
        "longest_edge": height * width * frames,
    }


def setup(width: int, depth: int, prompt: str, n: int = 1):
    """The scaled-down model and processor, sized for ``prompt``, and ``n`` rows of it."""
    frames, height, w = PROMPTS[prompt]
    model, processor = build_model_and_processor(width, depth)
    set_pixels(processor, height, w, frames)
    return model, processor, rows(n, frames, height, w)


def loss_pass(trainer, batch, shared: bool) -> None:
    trainer.shared_prefix = shared
    trainer.model.zero_grad(set_to_none=True)
    trainer.compute_loss(trainer.model, batch).backward()


def timed(fn, repeats: int) -> float:
    """Least CPU time (all threads of this process) of ``fn`` over ``repeats`` runs, in seconds.

    CPU time rather than wall time: the benchmark machine is shared, and other processes' load stretches wall
    time by whatever they happen to run, while the CPU seconds this process spends stay the work it does.
    """
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def saved_bytes(fn) -> int:
    """Bytes of the tensors autograd keeps for the backward while ``fn`` runs its forward (deduplicated)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[(storage.data_ptr(), t.device.index or 0)] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def generated_batch(trainer, data):
    trainer.model.train()
    torch.manual_seed(0)
    inputs = [dict(r) for r in data for _ in range(trainer.num_generations)]
    batch = trainer._generate_and_score_completions(inputs)
    return batch


def loss_pass_times(width: int, depth: int, group: int, prompt: str, repeats: int) -> dict[str, Any]:
    model, processor, data = setup(width, depth, prompt)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(model, processor, data, group, True, 1, tmp, beta=0.0)
        batch = generated_batch(trainer, data)
        prompt_tokens = int(batch["prompt_mask"][0].sum())
        reply_tokens = int(batch["completion_mask"].sum(1).float().mean())
        loss_pass(trainer, batch, True)  # warm-up
        shared = timed(lambda: loss_pass(trainer, batch, True), repeats)
        unshared = timed(lambda: loss_pass(trainer, batch, False), repeats)
    return {
        "G": group,
        "prompt": prompt,
        "prompt_tokens": prompt_tokens,
        "reply_tokens": reply_tokens,
        "loss_shared_s": shared,
        "loss_unshared_s": unshared,
        "loss_speedup": unshared / shared,
    }


def kv_cache_loss(trainer, batch) -> torch.Tensor:
    """The alternative design, for comparison: prefill each unique prefix with gradients, index its KV cache
    out to the rows, then run the replies against it. Returns the per-token log-probs; backpropagates a
    GRPO-like loss. (No gradient checkpointing: a checkpointed layer re-runs in the backward and would append
    to the cache a second time.)"""
    from videossr.shared_prefix import group_rows

    model = trainer.model
    backbone = model.model
    pids, pmask = batch["prompt_ids"], batch["prompt_mask"]
    cids, cmask = batch["completion_ids"], batch["completion_mask"]
    pixels = batch["videossr_pixel_values_videos"]
    grids = batch["videossr_video_grid_thw"]
    groups = group_rows(pids, pmask, [pixels, grids])
    firsts = [g[0] for g in groups]
    row_group = torch.empty(pids.size(0), dtype=torch.long)
    for u, g in enumerate(groups):
        row_group[g] = u
    grid = torch.cat([grids[r] for r in firsts])
    types = trainer._mm_token_types(pids[firsts])
    pos, _ = backbone.get_rope_index(
        pids[firsts], mm_token_type_ids=types, video_grid_thw=grid, attention_mask=pmask[firsts]
    )
    out = backbone(
        input_ids=pids[firsts, :-1],
        attention_mask=pmask[firsts, :-1],
        position_ids=pos[:, :, :-1],
        pixel_values_videos=torch.cat([pixels[r] for r in firsts]),
        video_grid_thw=grid,
        mm_token_type_ids=types[:, :-1],
        use_cache=True,
    )
    cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
    cache.batch_select_indices(row_group)
    width = cids.size(1)
    base = pos.amax(dim=(0, 2))[row_group] + 1
    reply_pos = torch.cat(
        [pos[:, row_group, -1:], (base[:, None] + torch.arange(width)).expand(3, -1, -1)], -1
    )
    step_ids = torch.cat([pids[:, -1:], cids], dim=1)
    mask = torch.cat([pmask, cmask], dim=1)
    out = backbone(input_ids=step_ids, attention_mask=mask, position_ids=reply_pos, cache=cache)
    logits = model.lm_head(out.last_hidden_state[:, :-1]).float() / trainer.temperature
    logps = torch.log_softmax(logits, -1).gather(-1, cids[..., None])[..., 0]
    adv = batch["advantages"][:, None]
    loss = -(logps * adv * cmask).sum() / cmask.sum()
    loss.backward()
    return logps.detach()


def kv_variant(width: int, depth: int, group: int, prompt: str, repeats: int) -> dict[str, Any]:
    """Loss-pass CPU time and saved activations: block mask (the trainer's) against KV-cache reuse."""
    model, processor, data = setup(width, depth, prompt)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(model, processor, data, group, True, 1, tmp, beta=0.0)
        batch = generated_batch(trainer, data)
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        keep = batch["completion_ids"].size(1)
        trainer.shared_prefix = False
        with (
            torch.no_grad(),
            trainer._videos_active({k: v for k, v in batch.items() if k.startswith("videossr_")}),
        ):
            reference, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
        kv_logps = kv_cache_loss(trainer, batch)
        valid = batch["completion_mask"].bool()
        diff = float((kv_logps - reference)[valid].abs().max())

        def kv():
            trainer.model.zero_grad(set_to_none=True)
            kv_cache_loss(trainer, batch)

        out = {
            "kv_max_abs_logp_diff": diff,
            "block_s": timed(lambda: loss_pass(trainer, batch, True), repeats),
            "kv_s": timed(kv, repeats),
            "block_saved": saved_bytes(lambda: trainer.compute_loss(trainer.model, batch)),
            "kv_saved": saved_bytes(lambda: kv_cache_loss(trainer, batch)),
        }
        trainer.model.zero_grad(set_to_none=True)
    return out


def paper_layout(width: int, depth: int, prompt: str, repeats: int) -> dict[str, float]:
    """Loss passes over one generation batch in the paper's layout: 8 prompts x 8 rollouts cut into 8
    micro-batches of 8 (``steps_per_generation=8``), unshared, shared with TRL's row shuffle, shared with
    whole-group micro-batches. CPU seconds summed over the 8 micro-batches."""
    from trl.trainer.utils import shuffle_sequence_dict, split_tensor_dict

    from videossr.shared_prefix import group_rows
    from videossr.trl_video import shuffle_groups

    model, processor, data = setup(width, depth, prompt, 8)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(
            model, processor, data, 8, True, 1, tmp, beta=0.0, batch=8, steps_per_generation=8
        )
        trainer.model.train()
        torch.manual_seed(0)
        batch = trainer._generate_and_score_completions([dict(r) for r in data for _ in range(8)])
        for name, shuffle, shared in (
            ("unshared", shuffle_sequence_dict, False),
            ("shared_row_shuffle", shuffle_sequence_dict, True),
            ("shared_whole_groups", shuffle_groups, True),
        ):
            torch.manual_seed(1)
            micro = split_tensor_dict(shuffle(batch), 8)
            out[name] = timed(
                lambda micro=micro, shared=shared: [loss_pass(trainer, m, shared) for m in micro], repeats
            )
            prompts = [
                len(group_rows(m["prompt_ids"], m["prompt_mask"], [m["videossr_pixel_values_videos"]]))
                for m in micro
            ]
            out[name + "_prompts_per_micro_batch"] = sum(prompts) / len(prompts)
    return out


def full_steps(width: int, depth: int, group: int, prompt: str, steps: int, shared: bool) -> dict[str, Any]:
    from transformers import TrainerCallback

    model, processor, data = setup(width, depth, prompt, steps + 1)
    times: list[float] = []

    walls: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.t0, self.w0 = time.process_time(), time.perf_counter()

        def on_step_end(self, *_, **__):
            times.append(time.process_time() - self.t0)
            walls.append(time.perf_counter() - self.w0)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(model, processor, data, group, shared, steps + 1, tmp, beta=0.04)
        trainer.add_callback(StepTimer())
        trainer.train()
    kept = times[1:] or times  # the first step warms up
    return {"step_s": min(kept), "step_wall_s": statistics.median(walls[1:] or walls), "steps": len(kept)}


def _rss() -> tuple[int, int]:
    """(current, peak) resident memory of this process in bytes."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def memory_child(width: int, depth: int, group: int, prompt: str, shared: bool) -> dict[str, Any]:
    """Run in a fresh process: peak-RSS growth and saved activations of one loss pass in one mode."""
    model, processor, data = setup(width, depth, prompt)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(model, processor, data, group, shared, 1, tmp, beta=0.0)
        batch = generated_batch(trainer, data)
        saved = saved_bytes(lambda: trainer.compute_loss(trainer.model, batch))
        trainer.model.zero_grad(set_to_none=True)
        try:  # reset the peak-RSS mark (Linux >= 4.0), so only the loss pass is measured
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        before, _ = _rss()
        loss_pass(trainer, batch, shared)
        _, peak = _rss()
    return {"rss_growth_bytes": peak - before, "saved_bytes": saved}


def memory(width: int, depth: int, group: int, prompt: str) -> dict[str, dict[str, Any]]:
    out = {}
    for mode in ("shared", "unshared"):
        cmd = [
            sys.executable,
            __file__,
            "--memory-child",
            mode,
            "--width",
            str(width),
            "--depth",
            str(depth),
            "--group",
            str(group),
            "--prompt",
            prompt,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[mode] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def write_table(results: list[dict[str, Any]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = sorted({r["G"] for r in results})
    prompts = [p for p in PROMPTS if any(r["prompt"] == p for r in results)]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for p in prompts:
        sel = sorted((r for r in results if r["prompt"] == p), key=lambda r: r["G"])
        tokens = sel[0]["prompt_tokens"]
        ax.plot(
            [r["G"] for r in sel], [r["loss_speedup"] for r in sel], marker="o", label=f"{p} ({tokens} tok)"
        )
    ax.set_xlabel("rollouts per prompt (G)")
    ax.set_ylabel("loss pass speed-up (unshared / shared)")
    ax.set_xticks(groups)
    ax.grid(alpha=0.3)
    ax.legend(title="prompt")
    ax.set_title("Shared-prefix loss pass, CPU, narrow Qwen3-VL, 32-token replies", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "shared_prefix.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--prompt", default="2K", choices=list(PROMPTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--steps", type=int, default=2, help="measured full steps per mode (after one warm-up)"
    )
    parser.add_argument("--table", action="store_true", help="also the G x prompt-length loss-pass table")
    parser.add_argument("--no-headline", action="store_true", help="only the table")
    parser.add_argument("--kv-variant", action="store_true", help="also time the KV-cache-reuse alternative")
    parser.add_argument(
        "--paper-layout",
        action="store_true",
        help="also the loss passes of 8 prompts x 8 rollouts in 8 micro-batches (row vs group cut)",
    )
    parser.add_argument(
        "--out-dir", default=None, help="write the table plot shared_prefix.png here (with --table)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU time is summed over them)")
    parser.add_argument("--memory-child", choices=["shared", "unshared"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)

    if args.memory_child:
        print(
            json.dumps(
                memory_child(args.width, args.depth, args.group, args.prompt, args.memory_child == "shared")
            )
        )
        return

    print(
        f"narrow Qwen3-VL (text/vision width {args.width}, depth {args.depth}), fp32, "
        f"{args.threads} CPU threads"
    )
    if not args.no_headline:
        head = loss_pass_times(args.width, args.depth, args.group, args.prompt, args.repeats)
        frames, height, w = PROMPTS[args.prompt]
        print(
            f"G={head['G']}, prompt {head['prompt_tokens']} tokens ({frames} frames {height}x{w}), "
            f"replies {head['reply_tokens']} tokens"
        )
        on = full_steps(args.width, args.depth, args.group, args.prompt, args.steps, shared=True)
        off = full_steps(args.width, args.depth, args.group, args.prompt, args.steps, shared=False)
        mem = memory(args.width, args.depth, args.group, args.prompt)
        gib = 2**30
        print(f"{'':28s}{'shared':>10s}{'unshared':>10s}{'ratio':>8s}")
        print(
            f"{'loss pass (CPU s)':28s}{head['loss_shared_s']:10.3f}{head['loss_unshared_s']:10.3f}"
            f"{head['loss_speedup']:8.2f}"
        )
        print(
            f"{'full GRPO step (CPU s)':28s}{on['step_s']:10.3f}{off['step_s']:10.3f}"
            f"{off['step_s'] / on['step_s']:8.2f}"
        )
        print(
            f"{'full GRPO step (wall s)':28s}{on['step_wall_s']:10.3f}{off['step_wall_s']:10.3f}"
            f"{off['step_wall_s'] / on['step_wall_s']:8.2f}"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared; wall times vary)")
        for key, label in (
            ("rss_growth_bytes", "loss-pass peak RSS (GiB)"),
            ("saved_bytes", "saved activations (GiB)"),
        ):
            a, b = mem["shared"][key] / gib, mem["unshared"][key] / gib
            print(f"{label:28s}{a:10.3f}{b:10.3f}{(b / a if a else float('nan')):8.2f}")
    if args.kv_variant:
        kv = kv_variant(args.width, args.depth, args.group, args.prompt, args.repeats)
        print(
            f"\nloss pass, shared designs (G={args.group}, {args.prompt}): "
            f"block mask {kv['block_s']:.3f} CPU s, "
            f"{kv['block_saved'] / 2**30:.3f} GiB saved; KV-cache reuse {kv['kv_s']:.3f} CPU s, "
            f"{kv['kv_saved'] / 2**30:.3f} GiB saved (its log-probs within {kv['kv_max_abs_logp_diff']:.1e})"
        )
    if args.paper_layout:
        pl = paper_layout(args.width, args.depth, args.prompt, max(1, args.repeats - 1))
        print(
            f"\npaper layout ({args.prompt} prompts, 8 x 8 rows, 8 micro-batches of 8), loss passes, CPU s:"
        )
        for name in ("unshared", "shared_row_shuffle", "shared_whole_groups"):
            print(
                f"  {name:22s}{pl[name]:8.3f}  ({pl['unshared'] / pl[name]:.2f}x; "
                f"{pl[name + '_prompts_per_micro_batch']:.2f} prompts per micro-batch)"
            )
    if args.table:
        results = []
        print(
            f"\nloss pass, CPU seconds\n{'G':>3s} {'prompt':>7s} {'tokens':>7s} {'shared s':>9s} "
            f"{'unshared s':>11s} {'speed-up':>9s}"
        )
        for prompt in PROMPTS:
            for group in (4, 8, 16):
                r = loss_pass_times(args.width, args.depth, group, prompt, max(1, args.repeats - 1))
                results.append(r)
                print(
                    f"{group:3d} {prompt:>7s} {r['prompt_tokens']:7d} {r['loss_shared_s']:9.3f} "
                    f"{r['loss_unshared_s']:11.3f} {r['loss_speedup']:9.2f}",
                    flush=True,
                )
        if args.out_dir:
            write_table(results, Path(args.out_dir))


if __name__ == "__main__":
    main()
