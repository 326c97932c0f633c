"""The GPU profiling script runs end to end on CPU (tiny model) and its presets have the real sizes."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "profile_grpo.py"


@pytest.fixture(scope="module")
def profile():
    spec = importlib.util.spec_from_file_location("videossr_profile_grpo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tiny_args(workdir: Path) -> list[str]:
    """One short step of the tiny model on 16 frames at 64x64: the CPU runs of the profiler."""
    return [
        "--arch",
        "tiny",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--num_generations",
        "2",
        "--frames",
        "16",
        "--height",
        "64",
        "--width",
        "64",
        "--workdir",
        str(workdir),
    ]


@pytest.mark.parametrize(
    ("arch", "billions"), [("qwen3_vl_2b", 2.13), ("qwen3_vl_4b", 4.44), ("qwen3_vl_8b", 8.77)]
)
def test_presets_have_the_published_parameter_counts(profile, arch, billions):
    from transformers import AutoModelForImageTextToText

    _, config = profile.preset_config(arch)
    with torch.device("meta"):  # no memory: shapes only
        model = AutoModelForImageTextToText.from_config(config)
    assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(billions, abs=0.01)


def test_profile_runs_on_cpu_with_the_tiny_model(profile, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "profile.json"
    report = profile.main([*_tiny_args(tmp_path), "--out", str(out), "--peak_tflops", "1"])
    assert json.loads(out.read_text())["arch"] == "tiny"
    mean = report["mean"]
    for key in ("step_s", "generation_s", "update_s", "tokens_per_s", "update_tflop", "update_mfu"):
        assert mean[key] > 0, key
    # The split never claims more time than the step took.
    parts = mean["generation_s"] + mean.get("logprob_passes_s", 0) + mean.get("video_preprocess_s", 0)
    assert parts + mean["update_s"] == pytest.approx(mean["step_s"], rel=0.05)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_profile_a_real_size_model_on_gpu(profile, tmp_path):
    """The figures of the README's training section: random Qwen3-VL-2B, bf16, 48 frames at 256x256, a
    group of 8."""
    report = profile.main(
        [
            "--arch",
            "qwen3_vl_2b",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--gradient_checkpointing",
            "--peak_tflops",
            "989",
            "--workdir",
            str(tmp_path),
            "--out",
            str(tmp_path / "profile_2b.json"),
        ]
    )
    mean = report["mean"]
    assert mean["peak_memory_gib"] > 4  # 2B parameters in bf16 with Adam states
    assert 0 < mean["update_mfu"] < 1


@pytest.mark.slow
def test_profile_compares_shared_and_unshared(profile, tmp_path):
    out = tmp_path / "both.json"
    report = profile.main([*_tiny_args(tmp_path), "--shared_prefix", "both", "--out", str(out)])
    assert report["shared"]["shared_prefix"] is True and report["unshared"]["shared_prefix"] is False
    assert (
        report["shared"]["shared_prefix_stats"]["sequences"] < report["shared"]["shared_prefix_stats"]["rows"]
    )
    assert report["unshared_over_shared"]["step_s"] > 0
    assert json.loads(out.read_text())["unshared"]["gpu_hours_per_epoch_30k"] > 0
