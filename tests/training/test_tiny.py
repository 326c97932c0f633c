"""The offline tiny Qwen-VL models used by tests, demos and the CPU recipe."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402

from videossr.tiny import build_tiny_model, main  # noqa: E402


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_tiny_model_generates_on_a_48_frame_video(tmp_path, arch):
    path = build_tiny_model(tmp_path / arch, arch=arch)
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    assert model.config.model_type == arch
    assert sum(p.numel() for p in model.parameters()) < 200_000

    frames = np.random.default_rng(0).integers(0, 256, (48, 64, 80, 3), dtype=np.uint8)
    fps = 48 / 20.0
    messages = [
        {
            "role": "system",
            "content": "Answer directly.",
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Watch:"},
                {"type": "video"},
                {"type": "text", "text": "When does it change? Answer as a-b."},
            ],
        },
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\nAnswer directly.<|im_end|>\n<|im_start|>user\nWatch:")
    assert text.endswith("<|im_start|>assistant\n")
    meta = {"total_num_frames": 48, "fps": fps, "duration": 20.0, "frames_indices": list(range(48))}
    inputs = processor(
        text=[text], videos=[frames], video_metadata=[meta], do_sample_frames=False, return_tensors="pt"
    )
    assert inputs["video_grid_thw"][0, 0].item() == 24  # all 48 frames kept, 2 per temporal patch
    # Byte-level tokenizer: any text round-trips.
    sample = "héllo, wörld 0.0-4.5 ✓"
    assert processor.tokenizer.decode(processor.tokenizer(sample)["input_ids"]) == sample

    # How long this takes is measured by tests/perf/bench_tiny.py, not asserted here.
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_build_is_cached_and_deterministic(tmp_path):
    first = build_tiny_model(tmp_path / "a", seed=3)
    weights = first / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert build_tiny_model(tmp_path / "a", seed=3) == first
    assert weights.stat().st_mtime_ns == stamp  # reused, not rewritten
    other = build_tiny_model(tmp_path / "b", seed=3)
    assert (other / "model.safetensors").read_bytes() == weights.read_bytes()
    # A different seed in the same folder rebuilds.
    build_tiny_model(tmp_path / "a", seed=4)
    assert (first / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()
    with pytest.raises(ValueError):
        build_tiny_model(tmp_path / "c", arch="llava")


def test_cli(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "cli"), "--arch", "qwen2_5_vl"]) == 0
    assert str(tmp_path / "cli") in capsys.readouterr().out
    assert (tmp_path / "cli" / "config.json").is_file()
