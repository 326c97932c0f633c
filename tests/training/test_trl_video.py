"""The TRL video bridge: the video must reach generation and every log-prob / loss pass.

Everything runs offline on CPU with the tiny random Qwen-VL models of ``videossr.tiny``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("datasets")

from datasets import Dataset  # noqa: E402
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402
from trl import GRPOConfig  # noqa: E402

from videossr.tiny import build_tiny_model  # noqa: E402
from videossr.trl_video import (  # noqa: E402
    VideoGRPOTrainer,
    check_trl_version,
    frames_as_images_prompt,
    process_row_videos,
    video_size_kwargs,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_tiny_model(root / arch, arch=arch) for arch in ("qwen3_vl", "qwen2_5_vl")}


def _row(i: int, clips: int, frames: int, fps: float, task: str, rng) -> dict:
    videos = [rng.integers(0, 256, (frames, 36, 52, 3), dtype=np.uint8) for _ in range(clips)]
    content = [{"type": "text", "text": f"Question {i}."}]
    for k in range(clips):
        if clips > 1:
            content.append({"type": "text", "text": f" Clip {k + 1}:"})
        content.append({"type": "video", "text": None})
    content.append({"type": "text", "text": " Answer directly."})
    return {
        "id": f"row-{i}",
        "prompt": [{"role": "user", "content": content}],
        "videos": videos,
        "fps": fps,
        "answer": "1",
        "task": task,
    }


def mixed_rows(n: int = 4, seed: int = 0) -> list[dict]:
    """Alternating grounding-like rows (one 48-frame clip) and jigsaw-like rows (six 8-frame clips)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        if i % 2 == 0:
            rows.append(_row(i, clips=1, frames=48, fps=48 / (10.0 + i), task="anomaly_grounding", rng=rng))
        else:
            rows.append(_row(i, clips=6, frames=8, fps=48 / 12.0, task="temporal_jigsaw", rng=rng))
    return rows


def varied_reward(completions, completion_ids=None, **kwargs):
    """A reward that differs between rollouts of a random model, so advantages are non-zero.

    It reads token ids: a random byte-level model's replies often decode to the same replacement characters.
    """
    return [(sum(ids) % 11) / 10 + 0.01 * len(ids) for ids in completion_ids]


def encoded(row: dict) -> dict:
    """The row as datasets store it: frames as PNG bytes (lossless, so tests can compare pixels exactly).

    Arrow would otherwise store raw arrays as nested lists of ints, which is very slow to read back.
    """
    from videossr.rows import encode_frame

    videos = [[{"bytes": encode_frame(f, "png"), "path": None} for f in clip] for clip in row["videos"]]
    return {**row, "videos": videos}


def make_trainer(path, rows, tmp_path, **overrides):
    video_mode = overrides.pop("video_mode", "video")
    shared_prefix = overrides.pop("shared_prefix", True)
    peft_config = overrides.pop("peft_config", None)
    attn = overrides.pop("attn_implementation", None)
    config = {
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": "none",
        "per_device_train_batch_size": 4,
        "num_generations": 2,
        "max_completion_length": 6,
        "max_steps": 1,
        "learning_rate": 5e-2,
        "beta": 0.0,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "dataloader_num_workers": 0,
    }
    config.update(overrides)
    model = AutoModelForImageTextToText.from_pretrained(
        path, **({"attn_implementation": attn} if attn else {})
    )
    processor = AutoProcessor.from_pretrained(path)
    trainer = VideoGRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=[varied_reward],
        args=GRPOConfig(**config),
        train_dataset=Dataset.from_list([encoded(r) for r in rows]),
        video_mode=video_mode,
        shared_prefix=shared_prefix,
        peft_config=peft_config,
    )
    # Set by `Trainer.train()`; the tests that call the loss directly need it too.
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    return trainer


def repeated(rows, n):
    """The inputs TRL's sampler would give: each row repeated ``n`` times (one per rollout)."""
    return [dict(r) for r in rows for _ in range(n)]


def plain_completion_logps(model, processor, row, completion_ids, temperature=1.0):
    """Reference: a plain forward of the model on one unpadded prompt+completion with its video inputs.

    Built with transformers alone (chat template + processor call + forward), independently of the bridge.
    """
    messages = [
        {**m, "content": [{k: v for k, v in part.items() if v is not None} for part in m["content"]]}
        for m in row["prompt"]
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    clips = [np.asarray(v) for v in row["videos"]]
    meta = [
        {
            "total_num_frames": len(c),
            "fps": row["fps"],
            "duration": len(c) / row["fps"],
            "frames_indices": list(range(len(c))),
        }
        for c in clips
    ]
    if clips:
        enc = processor(
            text=[text], videos=clips, video_metadata=meta, do_sample_frames=False, return_tensors="pt"
        )
    else:
        enc = processor(text=[text], return_tensors="pt")
    n_prompt = enc["input_ids"].shape[1]
    ids = torch.cat([enc["input_ids"], torch.tensor([completion_ids])], dim=1)
    types = torch.cat(
        [enc["mm_token_type_ids"], torch.zeros(1, len(completion_ids), dtype=torch.long)], dim=1
    )
    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "mm_token_type_ids": types}
    if clips:
        kwargs.update(pixel_values_videos=enc["pixel_values_videos"], video_grid_thw=enc["video_grid_thw"])
    if "second_per_grid_ts" in enc:
        kwargs["second_per_grid_ts"] = enc["second_per_grid_ts"]
    with torch.no_grad():
        logits = model(**kwargs).logits[0].float() / temperature
    logps = torch.log_softmax(logits[:-1], dim=-1)
    targets = ids[0, 1:]
    token_logps = logps.gather(-1, targets[:, None])[:, 0]
    return token_logps[n_prompt - 1 :]


def test_version_guard(monkeypatch):
    check_trl_version("1.16.0")
    monkeypatch.delenv("VIDEOSSR_UNSAFE_TRL", raising=False)
    with pytest.raises(RuntimeError, match="trl==1.16.0"):
        check_trl_version("1.17.0")
    monkeypatch.setenv("VIDEOSSR_UNSAFE_TRL", "1")
    check_trl_version("1.17.0")


def test_video_inputs_carry_the_clip_fps(tiny_dirs):
    rng = np.random.default_rng(1)
    clip = rng.integers(0, 256, (48, 36, 52, 3), dtype=np.uint8)
    prompt = [
        {"role": "user", "content": [{"type": "video", "text": None}, {"type": "text", "text": "When?"}]}
    ]

    processor = AutoProcessor.from_pretrained(tiny_dirs["qwen3_vl"])
    slow = process_row_videos(processor, prompt, [clip], fps=2.4)
    fast = process_row_videos(processor, prompt, [clip], fps=4.8)
    text = processor.tokenizer.decode(slow.prompt_ids)
    # Qwen3-VL timestamps are the middle of each 2-frame temporal patch on the clip's own timeline.
    assert "<0.2 seconds>" in text and f"<{(46 + 47) / 2 / 2.4:.1f} seconds>" in text
    assert slow.prompt_ids != fast.prompt_ids
    assert int(slow.video_grid_thw[0, 0]) == 24  # 48 frames, temporal patch of 2: not resampled

    processor25 = AutoProcessor.from_pretrained(tiny_dirs["qwen2_5_vl"])
    enc = process_row_videos(processor25, prompt, [clip], fps=2.4)
    # Qwen2.5-VL time ids: seconds per temporal patch = temporal_patch_size / fps.
    assert enc.second_per_grid_ts is not None
    assert float(enc.second_per_grid_ts[0]) == pytest.approx(2 / 2.4)

    with pytest.raises(ValueError, match="placeholders"):
        process_row_videos(processor, prompt, [clip, clip], fps=2.4)


def test_size_kwargs_bound_frames_not_clips(tiny_dirs):
    processor = AutoProcessor.from_pretrained(tiny_dirs["qwen3_vl"])
    kw = video_size_kwargs(processor.video_processor, 48, 256 * 256, 128 * 128)
    # Qwen3-VL's processor bounds the whole clip, so the per-frame budget is scaled by the frame count.
    assert kw["size"]["longest_edge"] == 48 * 256 * 256
    processor25 = AutoProcessor.from_pretrained(tiny_dirs["qwen2_5_vl"])
    kw25 = video_size_kwargs(processor25.video_processor, 48, 256 * 256, None)
    assert kw25["size"]["longest_edge"] == 256 * 256
    assert video_size_kwargs(processor.video_processor, 48, None, None) == {}


def text_only_row() -> dict:
    prompt = [{"role": "user", "content": [{"type": "text", "text": "No video here. Say 3,1,4."}]}]
    return {
        "id": "text-0",
        "prompt": prompt,
        "videos": [],
        "fps": 1.0,
        "answer": "3,1,4",
        "task": "object_counting",
    }


@pytest.mark.parametrize(
    ("arch", "with_text_row"), [("qwen3_vl", False), ("qwen2_5_vl", False), ("qwen3_vl", True)]
)
def test_trainer_logps_equal_plain_forward(tiny_dirs, tmp_path, arch, with_text_row):
    # Grounding-like and jigsaw-like rows (and a text-only row) in one batch, scored in chunks of 3 rows.
    rows = mixed_rows(2) + ([text_only_row()] if with_text_row else [])
    trainer = make_trainer(tiny_dirs[arch], rows, tmp_path, per_device_train_batch_size=2 * len(rows))
    trainer.model.train()
    batch = trainer._generate_and_score_completions(repeated(rows, 2))
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    keep = batch["completion_ids"].size(1)
    per_row = {k: v for k, v in batch.items() if k.startswith("videossr_")}
    with torch.no_grad(), trainer._videos_active(per_row):
        logps, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep, batch_size=3)
        # Without the bridge (TRL's own path) the same tokens are scored without the video.
        blind, _, _ = GRPOTrainerPath.logps(trainer, ids, mask, keep)

    model = trainer.model.eval()
    inputs = repeated(rows, 2)
    for i, row in enumerate(inputs):
        n = int(batch["completion_mask"][i].sum())
        completion = batch["completion_ids"][i, :n].tolist()
        # The bridge's generation prompt is the one a plain processor call gives.
        prompt = batch["prompt_ids"][i][batch["prompt_mask"][i].bool()].tolist()
        assert (
            prompt
            == process_row_videos(
                trainer.processing_class, row["prompt"], row["videos"], row["fps"]
            ).prompt_ids
        )
        reference = plain_completion_logps(model, trainer.processing_class, row, completion)
        torch.testing.assert_close(logps[i, :n], reference, atol=2e-5, rtol=1e-4)
    assert not torch.allclose(logps, blind, atol=1e-4), "the video must change the log-probs"


class GRPOTrainerPath:
    """TRL's unbridged scoring path, for contrast."""

    @staticmethod
    def logps(trainer, ids, mask, keep):
        from trl import GRPOTrainer

        return GRPOTrainer._get_per_token_logps_and_entropies(trainer, trainer.model, ids, mask, keep)


def test_vision_tower_has_gradients_in_the_loss(tiny_dirs, tmp_path):
    rows = mixed_rows(2)
    trainer = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path)
    trainer.model.train()
    batch = trainer._generate_and_score_completions(repeated(rows, 2))
    assert batch["advantages"].abs().sum() > 0
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    visual = trainer.model.model.visual
    grads = [p.grad for p in visual.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads), "no gradient reached the vision tower"
    embed_grad = visual.patch_embed.proj.weight.grad
    assert embed_grad is not None and embed_grad.abs().sum() > 0


def test_rows_stay_aligned_with_their_videos_across_micro_batches(tiny_dirs, tmp_path):
    rows = mixed_rows(4)
    trainer = make_trainer(
        tiny_dirs["qwen3_vl"], rows, tmp_path, per_device_train_batch_size=2, steps_per_generation=4
    )
    trainer.model.train()
    trainer._step = 0
    trainer._buffered_inputs = None
    merge = trainer.processing_class.video_processor.merge_size**2
    video_id = trainer.model.config.video_token_id
    seen = 0
    for step in range(4):
        trainer._step = step
        micro = trainer._prepare_inputs(repeated(rows, 2))
        assert micro["prompt_ids"].size(0) == 2
        for i in range(2):
            n_tokens = int((micro["prompt_ids"][i] == video_id).sum())
            grid = micro["videossr_video_grid_thw"][i]
            assert n_tokens == int(grid.prod(-1).sum()) // merge
            assert micro["videossr_pixel_values_videos"][i].size(0) == int(grid.prod(-1).sum())
            seen += 1
        # The loss runs on the micro-batch with its own rows' videos.
        loss = trainer.compute_loss(trainer.model, micro)
        assert torch.isfinite(loss)
    assert seen == 8


def _changed(before, model, prefix_in: str | None = None, prefix_out: str | None = None) -> list[str]:
    names = []
    for name, p in model.named_parameters():
        if prefix_in and prefix_in not in name:
            continue
        if prefix_out and prefix_out in name:
            continue
        if not torch.equal(before[name], p.detach()):
            names.append(name)
    return names


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_a_step_updates_language_model_and_vision_tower(tiny_dirs, tmp_path, arch):
    rows = mixed_rows(4)
    trainer = make_trainer(
        tiny_dirs[arch], rows, tmp_path, per_device_train_batch_size=4, steps_per_generation=2, beta=1e-3
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    assert _changed(before, trainer.model, prefix_in="visual"), "vision tower unchanged"
    assert _changed(before, trainer.model, prefix_in="language_model"), "language model unchanged"
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert logged and "kl" in logged[0]


def test_frames_as_images_mode(tiny_dirs, tmp_path):
    rows = mixed_rows(2)
    prompt, images = frames_as_images_prompt(rows[0]["prompt"], rows[0]["videos"], rows[0]["fps"])
    assert len(images) == 48
    texts = [p.get("text") for p in prompt[0]["content"] if p["type"] == "text"]
    assert "<0.0 seconds>" in texts and f"<{47 / rows[0]['fps']:.1f} seconds>" in texts

    trainer = make_trainer(
        tiny_dirs["qwen3_vl"], rows, tmp_path, video_mode="images", per_device_train_batch_size=2
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    assert _changed(before, trainer.model, prefix_in="visual"), "vision tower unchanged with frames as images"
