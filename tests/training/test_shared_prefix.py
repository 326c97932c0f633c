"""Shared-prefix GRPO is exact: same log-probs and gradients as the unshared passes, on tiny fp32 models.

Every check compares the two paths of the same trainer on the same batch (same completions): the per-token
log-probs within 1e-5 and the gradient of every parameter, vision tower included, within a relative 1e-4.
Sabotaged sharing (a reply given another prompt's prefix, or plain 1-D positions) must fail the same checks.
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

from test_trl_video import make_trainer, mixed_rows, repeated  # noqa: E402

import videossr.trl_video as trl_video  # noqa: E402
from videossr.shared_prefix import group_rows, pack_micro_batch, unpack  # noqa: E402
from videossr.tiny import build_tiny_model  # noqa: E402

torch.set_num_threads(1)

LOGP_ATOL = 1e-5
GRAD_RTOL = 1e-4


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-shared")
    return {arch: build_tiny_model(root / arch, arch=arch) for arch in ("qwen3_vl", "qwen2_5_vl")}


def _video_rows(batch):
    return {k: v for k, v in batch.items() if k.startswith("videossr_")}


def _permute(batch, order):
    """The batch with its rows in ``order`` (as TRL's shuffle leaves them)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == len(order):
            out[key] = value[order]
        elif isinstance(value, list) and len(value) == len(order):
            out[key] = [value[i] for i in order]
        else:
            out[key] = value
    return out


def loss_pass(trainer, batch, shared: bool):
    """Per-token log-probs of the loss pass, its loss and the gradient of every trainable parameter."""
    trainer.shared_prefix = shared
    model = trainer.model
    model.zero_grad(set_to_none=True)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    keep = batch["completion_ids"].size(1)
    with trainer._videos_active(_video_rows(batch)):
        logps, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, keep)
    loss = trainer.compute_loss(model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return logps.detach(), loss.detach(), grads


def compare(trainer, batch) -> tuple[float, float]:
    """Raise unless the shared loss pass equals the unshared one; return (max |dlogp|, max relative dgrad)."""
    shared_logps, shared_loss, shared_grads = loss_pass(trainer, batch, shared=True)
    logps, loss, grads = loss_pass(trainer, batch, shared=False)
    trainer.shared_prefix = True
    mask = batch["completion_mask"].bool()
    logp_diff = float((shared_logps - logps)[mask].abs().max())
    assert logp_diff <= LOGP_ATOL, f"log-probs differ by {logp_diff:.2e}"
    torch.testing.assert_close(shared_loss, loss, atol=1e-6, rtol=1e-5)
    worst = 0.0
    for name, grad in grads.items():
        scale = float(grad.abs().max())
        diff = float((shared_grads[name] - grad).abs().max())
        rel = diff / scale if scale > 0 else diff
        assert rel <= GRAD_RTOL, f"gradient of {name} differs by a relative {rel:.2e}"
        worst = max(worst, rel)
    visual = [g for n, g in grads.items() if "visual" in n]
    assert visual and any(float(g.abs().max()) > 0 for g in visual), "no gradient reached the vision tower"
    print(f"max |dlogp| {logp_diff:.1e}, max relative dgrad {worst:.1e} over {len(grads)} parameters")
    return logp_diff, worst


def generation_batch(trainer, rows, seed=0):
    torch.manual_seed(seed)
    trainer.model.train()
    batch = trainer._generate_and_score_completions(repeated(rows, trainer.num_generations))
    assert batch["advantages"].abs().sum() > 0
    return batch


# ----------------------------------------------------------------------------- units


def test_group_rows_needs_same_ids_and_same_pixels():
    ids = torch.tensor([[0, 5, 6], [0, 5, 6], [7, 5, 6], [0, 5, 6]])
    mask = torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [0, 1, 1]])
    a, b = torch.ones(4, 3), torch.zeros(4, 3)
    assert group_rows(ids, mask, [[a, a.clone(), a, b]]) == [[0, 1], [2], [3]]
    assert group_rows(ids, mask) == [[0, 1, 3], [2]]


def test_packed_layout_gives_each_reply_its_own_block():
    prompt = torch.tensor([[9, 1, 2, 3], [9, 1, 2, 3], [4, 5, 6, 7]])
    prompt_mask = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]])
    reply = torch.tensor([[10, 11], [12, 0], [13, 14]])
    reply_mask = torch.tensor([[1, 1], [1, 0], [1, 1]])
    groups = group_rows(prompt, prompt_mask)
    assert groups == [[0, 1], [2]]

    def rope(p, u):
        return torch.arange(p.size(1)).expand(3, -1) * 10  # distinct from packed indices

    packed = pack_micro_batch(prompt, prompt_mask, reply, reply_mask, groups, rope, pad_token_id=0)
    # Group 0: [1 2] [3 10 11] [3 12 0]; group 1: [4 5 6] [7 13 14] then padding.
    assert packed.input_ids.tolist() == [[1, 2, 3, 10, 11, 3, 12, 0], [4, 5, 6, 7, 13, 14, 0, 0]]
    assert packed.position_ids[0, 0].tolist() == [0, 10, 20, 21, 22, 20, 21, 22]
    assert unpack(packed.shift_labels, packed).tolist() == [[10, 11], [12, -100], [13, 14]]
    m = packed.attention_mask[0, 0]
    assert m[6].tolist() == [
        True,
        True,
        False,
        False,
        False,
        True,
        True,
        False,
    ]  # 2nd reply: prefix + own block
    # A reply's padding (after its EOS) is masked as a key; as a query it sees only what a reply token would.
    assert m[7].tolist() == [True, True, False, False, False, True, True, True]
    # Packing padding sees only itself (no all-masked softmax row).
    assert packed.attention_mask[1, 0, 6].tolist() == [False] * 6 + [True, False]


# ----------------------------------------------------------------------------- exactness of the loss pass


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_loss_pass_is_exact_with_mixed_tasks_and_shuffled_rows(tiny_dirs, tmp_path, arch):
    # Grounding-like rows (one 48-frame clip) and jigsaw-like rows (six clips), G=3, rows shuffled so that the
    # micro-batch holds the groups out of order.
    rows = mixed_rows(2)
    trainer = make_trainer(tiny_dirs[arch], rows, tmp_path, per_device_train_batch_size=6, num_generations=3)
    batch = generation_batch(trainer, rows)
    batch = _permute(batch, [4, 0, 3, 1, 5, 2])
    logp_diff, grad_diff = compare(trainer, batch)
    stats = trainer.shared_prefix_stats
    assert stats["sequences"] < stats["rows"], "the shared pass packed nothing"


def test_sabotaged_sharing_fails(tiny_dirs, tmp_path, monkeypatch):
    rows = mixed_rows(2)
    trainer = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path, per_device_train_batch_size=4)
    batch = generation_batch(trainer, rows)
    compare(trainer, batch)  # honest sharing passes

    def wrong_prefix(prompt_ids, prompt_mask, visuals=None):
        groups = group_rows(prompt_ids, prompt_mask, visuals)
        moved = groups[1].pop()  # one reply scored after another prompt
        groups[0].append(moved)
        return groups

    with monkeypatch.context() as patch:
        patch.setattr(trl_video, "group_rows", wrong_prefix)
        with pytest.raises(AssertionError, match="differ") as wrong:
            compare(trainer, batch)
    print("wrong prefix:", str(wrong.value).splitlines()[0])

    def text_positions(model):
        def rope(prompt, **kwargs):
            n = prompt.size(1)
            return torch.arange(n).expand(3, 1, n), None

        return rope

    with monkeypatch.context() as patch:
        patch.setattr(trl_video, "find_rope_index", text_positions)
        with pytest.raises(AssertionError, match="differ") as wrong:
            compare(trainer, batch)
    print("1-D positions:", str(wrong.value).splitlines()[0])


def test_gradient_checkpointing(tiny_dirs, tmp_path):
    rows = mixed_rows(2)
    trainer = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path)
    batch = generation_batch(trainer, rows)
    # What `Trainer.train()` does with `gradient_checkpointing=True`; both reentrant variants.
    for reentrant in (False, True):
        trainer.model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": reentrant}
        )
        trainer.model.enable_input_require_grads()
        layers = [m for m in trainer.model.modules() if getattr(m, "gradient_checkpointing", False)]
        assert layers, "checkpointing is not active"
        compare(trainer, batch)


def test_sharing_is_on_by_default_and_off_where_it_cannot_be_exact(tiny_dirs, tmp_path):
    rows = mixed_rows(2)
    assert make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path).shared_prefix
    assert not make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path, shared_prefix=False).shared_prefix
    # Frames as images go through TRL's own image path, which this bridge does not pack.
    assert not make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path, video_mode="images").shared_prefix


def test_eager_attention(tiny_dirs, tmp_path):
    rows = mixed_rows(2)
    trainer = make_trainer(tiny_dirs["qwen2_5_vl"], rows, tmp_path, attn_implementation="eager")
    compare(trainer, generation_batch(trainer, rows))


def test_lora(tiny_dirs, tmp_path):
    peft = pytest.importorskip("peft")
    rows = mixed_rows(2)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "qkv"], lora_dropout=0.0)
    trainer = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path, peft_config=config)
    assert trainer.shared_prefix, "sharing must stay on under PEFT"
    batch = generation_batch(trainer, rows)
    shared_logps, _, shared_grads = loss_pass(trainer, batch, shared=True)
    logps, _, grads = loss_pass(trainer, batch, shared=False)
    assert grads and all("lora" in n for n in grads)
    assert any("visual" in n for n in grads), "the LoRA adapters of the vision tower get no gradient"
    mask = batch["completion_mask"].bool()
    logp_diff = float((shared_logps - logps)[mask].abs().max())
    assert logp_diff <= LOGP_ATOL
    worst = 0.0
    for name, grad in grads.items():
        scale = max(float(grad.abs().max()), 1e-12)
        rel = float((shared_grads[name] - grad).abs().max()) / scale
        assert rel <= GRAD_RTOL, name
        worst = max(worst, rel)
    print(f"LoRA: max |dlogp| {logp_diff:.1e}, max relative dgrad {worst:.1e} over {len(grads)} adapters")


# ---------------------------------------------------------------------------- old-policy and reference passes


def test_old_and_reference_passes_are_shared_and_exact(tiny_dirs, tmp_path):
    # num_iterations > 1 and steps_per_generation > 1: TRL computes the old-policy log-probs at generation
    # time (chunked by the micro-batch size); beta > 0 adds the reference model's pass.
    rows = mixed_rows(4)
    trainer = make_trainer(
        tiny_dirs["qwen3_vl"],
        rows,
        tmp_path,
        per_device_train_batch_size=4,
        steps_per_generation=2,
        num_iterations=2,
        beta=0.1,
    )
    assert trainer.ref_model is not None
    batch = generation_batch(trainer, rows)
    assert batch.get("old_per_token_logps") is not None and batch.get("ref_per_token_logps") is not None
    stats = dict(trainer.shared_prefix_stats)
    assert stats["sequences"] == 2 * len(rows)  # two passes, each prompt packed once
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    keep = batch["completion_ids"].size(1)
    trainer.shared_prefix = False
    with torch.no_grad(), trainer._videos_active(_video_rows(batch)):
        old, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep, batch_size=4)
        ref, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.ref_model, ids, mask, keep, batch_size=4
        )
    valid = batch["completion_mask"].bool()
    assert float((batch["old_per_token_logps"] - old)[valid].abs().max()) <= LOGP_ATOL
    assert float((batch["ref_per_token_logps"] - ref)[valid].abs().max()) <= LOGP_ATOL


def test_split_micro_batches_share_what_they_can(tiny_dirs, tmp_path):
    # steps_per_generation=2 with TRL's shuffle: each micro-batch of 4 holds parts of several groups.
    rows = mixed_rows(4)
    trainer = make_trainer(
        tiny_dirs["qwen3_vl"],
        rows,
        tmp_path,
        per_device_train_batch_size=4,
        steps_per_generation=2,
    )
    trainer.model.train()
    trainer._step, trainer._buffered_inputs = 0, None
    torch.manual_seed(0)
    micro = trainer._prepare_inputs(repeated(rows, 2))
    compare(trainer, micro)
    trainer._step = 1
    compare(trainer, trainer._prepare_inputs(repeated(rows, 2)))


# ----------------------------------------------------------------------------- training equivalence


def _train_history(path, rows, tmp_path, shared, steps):
    trainer = make_trainer(
        path,
        rows,
        tmp_path / ("on" if shared else "off"),
        shared_prefix=shared,
        max_steps=steps,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        beta=0.05,
        num_iterations=2,
    )
    trainer.train()
    return [h for h in trainer.state.log_history if "loss" in h]


def test_ten_training_steps_match(tiny_dirs, tmp_path):
    rows = mixed_rows(4)
    on = _train_history(tiny_dirs["qwen3_vl"], rows, tmp_path, True, 10)
    off = _train_history(tiny_dirs["qwen3_vl"], rows, tmp_path, False, 10)
    assert len(on) == len(off) == 10
    for a, b in zip(on, off):
        assert a.keys() == b.keys()
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        for key in ("reward", "kl", "entropy", "completions/mean_length"):
            if key in a:
                assert a[key] == pytest.approx(b[key], abs=1e-4), key
    assert np.std([h["loss"] for h in on]) > 0


# ----------------------------------------------------------------------------- generation


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_generation_prefills_each_prompt_once_and_samples_the_same(tiny_dirs, tmp_path, arch):
    rows = mixed_rows(2)
    trainer = make_trainer(
        tiny_dirs[arch],
        rows,
        tmp_path,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=8,
    )
    trainer.model.train()
    out = {}
    for shared in (True, False):
        trainer.shared_prefix = shared
        trainer.shared_prefix_stats.clear()
        torch.manual_seed(123)
        batch = trainer._generate_and_score_completions(repeated(rows, 4))
        out[shared] = (batch["completion_ids"], batch["completion_mask"], dict(trainer.shared_prefix_stats))
    # Same seed, same distributions: the sampled rollouts are the same tokens.
    assert torch.equal(out[True][0], out[False][0]) and torch.equal(out[True][1], out[False][1])
    assert len(set(map(tuple, out[True][0].tolist()))) > 2, "rollouts of a group should differ"
    prefill = out[True][2]["prefill_tokens"]
    assert 0 < prefill < int(batch["prompt_mask"].sum()) / 3  # two prompts prefilled, not eight
    assert "prefill_tokens" not in out[False][2]


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_dirs, tmp_path):
    """Two CPU processes (gloo DDP): the packed forward goes through the DDP wrapper, so gradients are
    averaged across ranks (both ranks end with the same weights) and the run matches the unshared one."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).with_name("_ddp_shared_prefix.py")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        str(worker),
        str(tiny_dirs["qwen3_vl"]),
        str(tmp_path),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    for mode in ("True", "False"):
        assert ranks[0][mode]["checksum"] == pytest.approx(ranks[1][mode]["checksum"], rel=1e-9)
    on, off = ranks[0]["True"], ranks[0]["False"]
    assert on["stats"]["sequences"] < on["stats"]["rows"]
    assert on["loss"] == pytest.approx(off["loss"], abs=1e-4)
    assert on["abs_checksum"] == pytest.approx(off["abs_checksum"], rel=1e-5)


def test_group_split_keeps_groups_whole_and_the_update_unchanged(tiny_dirs, tmp_path):
    # The paper's layout in small: one optimizer step accumulates the whole generation batch
    # (gradient_accumulation_steps == steps_per_generation), dapo loss. Micro-batches of whole groups then
    # give the same update as TRL's row shuffle, and each micro-batch packs 2 prompts instead of up to 4.
    rows = mixed_rows(4)
    common = dict(
        per_device_train_batch_size=4,
        steps_per_generation=2,
        gradient_accumulation_steps=2,
        max_steps=1,
        beta=0.05,
        learning_rate=1e-2,
        optim="sgd",
    )
    # SGD: the weight change is the gradient itself (Adam's first step g/|g| would magnify float noise).
    # Built and trained one after the other: building a trainer re-seeds the global RNG.
    grouped = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path / "grouped", **common)
    grouped.train()
    rowwise = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path / "rows", shared_prefix=False, **common)
    rowwise.train()
    assert grouped.shared_prefix_group_split and not rowwise.shared_prefix_group_split
    for micro in grouped._buffered_inputs:
        assert len(group_rows(micro["prompt_ids"], micro["prompt_mask"])) == 2
    for (name, a), b in zip(grouped.model.named_parameters(), rowwise.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    loss = [[h["loss"] for h in t.state.log_history if "loss" in h] for t in (grouped, rowwise)]
    assert loss[0] == pytest.approx(loss[1], abs=1e-5)
    # Where the split changes the update (two optimizer steps per generation), TRL's row shuffle is kept.
    assert not make_trainer(
        tiny_dirs["qwen3_vl"], rows, tmp_path / "x", steps_per_generation=2
    ).shared_prefix_group_split


def test_same_text_different_videos_are_not_shared(tiny_dirs, tmp_path):
    # Two questions with the same wording and clip length have the same token ids; only the pixels differ.
    rows = mixed_rows(2)
    rows = [
        rows[0],
        {**rows[0], "id": "row-0-other-clip", "videos": [np.ascontiguousarray(rows[0]["videos"][0][::-1])]},
    ]
    trainer = make_trainer(tiny_dirs["qwen3_vl"], rows, tmp_path, per_device_train_batch_size=4)
    batch = generation_batch(trainer, rows)
    assert torch.equal(batch["prompt_ids"][0], batch["prompt_ids"][2])
    trainer.shared_prefix_stats.update(rows=0, sequences=0)
    compare(trainer, _permute(batch, [0, 2, 1, 3]))
    # compare() runs two shared passes (log-probs, then the loss): each packs one sequence per clip, not one.
    assert trainer.shared_prefix_stats["sequences"] == 4
