"""The VIUBench harness end to end on a small dataset repo built from real videos (CPU, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _eval_helpers import batched, bench_items, one_at_a_time, viubench_rows, write_repo

from videossr.cli import main
from videossr.evaluation import (
    Backend,
    BenchError,
    Prediction,
    load_benchmark,
    read_predictions,
    run_bench,
)
from videossr.metrics import PAPER_TABLE1, VIUBENCH_SUBTYPES


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    # 2 items per subtype: 18 items, enough to exercise every code path, small enough to stay fast.
    return write_repo(tmp_path_factory.mktemp("viubench"), viubench_rows(per_subtype=2))


class ScriptedBackend(Backend):
    """Replies from a function of the item; can crash after a number of batches (to test resuming)."""

    name = "scripted"

    def __init__(self, reply=lambda item: item.answer, crash_after: int | None = None):
        self.reply = reply
        self.crash_after = crash_after
        self.seen: list[str] = []

    def predict(self, items, batch_size=4):
        for k in range(0, len(items), batch_size):
            if self.crash_after is not None and k // batch_size >= self.crash_after:
                raise RuntimeError("simulated crash")
            batch = items[k : k + batch_size]
            self.seen += [it.id for it in batch]
            yield [Prediction(it, self.reply(it)) for it in batch]

    def describe(self):
        return {"backend": "scripted"}


def test_load_benchmark_reads_configs_and_limits(repo):
    bench = load_benchmark(repo)
    assert bench.info["layout"] == "videossr" and bench.info["split"] == "test"
    assert [s for s in bench.info["subtypes"]] == list(VIUBENCH_SUBTYPES)
    assert len(bench.items) == 18 and len({it.id for it in bench.items}) == 18
    jig = next(it for it in bench.items if it.subtype == "jigsaw_hard")
    assert jig.num_videos == 8 and jig.fps > 0
    sample = jig.sample()
    assert len(sample.videos) == 8 and sample.videos[0].shape[0] == 6
    limited = load_benchmark(repo, configs=["counting_easy", "jigsaw_easy"], limit=1)
    assert [it.subtype for it in limited.items] == ["counting_easy", "jigsaw_easy"]


def test_oracle_scores_100_and_garbage_scores_0_without_dropping(repo, tmp_path):
    perfect = run_bench(repo, ScriptedBackend(), out_dir=tmp_path / "oracle", progress=False, report=False)
    assert perfect["scores"]["overall"] == 100.0 and perfect["num_items"] == 18
    assert all(v == 100.0 for v in perfect["scores"]["subtypes"].values())
    garbage = run_bench(
        repo, ScriptedBackend(lambda it: "I am not sure."), out_dir=tmp_path / "garbage", progress=False
    )
    assert garbage["scores"]["overall"] == 0.0
    # Unparsable replies stay in the denominator and are reported per subtype.
    assert garbage["num_items"] == 18 and sum(garbage["unparsed"].values()) == 18
    assert garbage["scores"]["counts"] == {s: 2 for s in VIUBENCH_SUBTYPES}


def test_resume_after_crash_loses_nothing_and_skips_done(repo, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_bench(repo, ScriptedBackend(crash_after=2), out_dir=out, batch_size=4, progress=False)
    done = read_predictions(out / "predictions.jsonl")
    assert len(done) == 8  # two finished batches were saved before the crash
    # A torn last line (crash mid-write) must not break the resume.
    with (out / "predictions.jsonl").open("a") as fh:
        fh.write('{"id": "torn')
    second = ScriptedBackend()
    results = run_bench(repo, second, out_dir=out, batch_size=4, progress=False)
    assert len(second.seen) == 10 and not set(second.seen) & set(done)
    assert results["num_items"] == 18 and results["timing"]["resumed_items"] == 8
    assert results["scores"]["overall"] == 100.0


def test_resume_refuses_other_settings(repo, tmp_path):
    out = tmp_path / "run"
    run_bench(repo, "random", out_dir=out, progress=False, report=False)
    with pytest.raises(BenchError, match="mode"):
        run_bench(repo, "random", out_dir=out, mode="lenient", progress=False)
    run_bench(repo, "random", out_dir=out, mode="lenient", overwrite=True, progress=False, report=False)


def test_random_and_heuristic_outputs(repo, tmp_path):
    results = run_bench(repo, "random", out_dir=tmp_path / "random", progress=False)
    # Same seed, same ids -> same guesses: the random baseline is reproducible.
    again = run_bench(repo, "random", out_dir=tmp_path / "random2", progress=False, report=False)
    assert results["scores"] == again["scores"]
    assert results["unparsed"] == {s: 0 for s in VIUBENCH_SUBTYPES}
    assert results["backend"]["rule"] == "uniform"
    for name in ("results.json", "predictions.jsonl", "table.md", "plot.png", "run.json"):
        assert (tmp_path / "random" / name).is_file(), name
    table = (tmp_path / "random" / "table.md").read_text()
    assert "| Model | C-E | C-H | Chan |" in table and "Random guess (paper)" in table
    assert len([ln for ln in table.splitlines() if ln.startswith("| ")]) == 1 + len(PAPER_TABLE1) + 1
    assert (tmp_path / "random" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "random" / "results.json").read_text())
    for key in ("versions", "benchmark", "backend", "scoring", "inputs", "timing"):
        assert key in saved
    assert saved["scoring"]["mode"] == "strict" and saved["versions"]["videossr"]

    heuristic = run_bench(repo, "heuristic", out_dir=tmp_path / "heuristic", progress=False, report=False)
    assert heuristic["unparsed"] == {s: 0 for s in VIUBENCH_SUBTYPES}
    # The solver reads the frames: what it saw is recorded (48 frames, 6/8 per jigsaw clip).
    assert heuristic["inputs"]["frames_per_clip"] == [6, 8, 48]
    # On these smooth real clips the spatial grounding and the jigsaw are within classical vision's reach.
    assert heuristic["scores"]["tasks"]["grounding"] > 60 and heuristic["scores"]["tasks"]["jigsaw"] >= 50


def test_cli_bench_and_compare(repo, tmp_path, capsys):
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert (
        main(
            [
                "bench",
                "--data",
                str(repo),
                "--model",
                "random",
                "--out",
                str(out_a),
                "--limit",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| **random** |" in printed and "9 items" in printed
    assert (
        main(
            [
                "bench",
                "--data",
                str(repo),
                "--model",
                "random:prior",
                "--out",
                str(out_b),
                "--no-progress",
                "--configs",
                "grounding_mirror",
                "jigsaw_easy",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["compare", str(out_a / "results.json"), str(out_b), "--paper", "--out", str(tmp_path / "cmp")])
        == 0
    )
    text = capsys.readouterr().out
    assert "| **random** |" in text and "| **random:prior** |" in text and "VideoSSR-8B (paper)" in text
    assert "benchmark.configs" in text  # the runs differ in their data: flagged
    assert (tmp_path / "cmp" / "compare.png").is_file()
    # Clear errors, no tracebacks.
    assert main(["bench", "--data", str(repo), "--model", "nonsense", "--out", str(tmp_path / "x")]) == 1
    assert "unknown model spec" in capsys.readouterr().err


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_hf_backend_tiny_model(repo, tmp_path, arch, monkeypatch):
    from videossr.evaluation import HFBackend
    from videossr.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / f"tiny-{arch}", arch=arch)
    backend = HFBackend(str(path), max_new_tokens=6, num_workers=1)
    calls = []
    real = backend.processor.__class__.__call__

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(backend.processor.__class__, "__call__", spy)
    results = run_bench(
        repo, backend, out_dir=tmp_path / "out", batch_size=4, limit=1, progress=False, report=False
    )
    assert results["num_items"] == 9
    # Frames reach the processor as videos with their real fps, never resampled.
    video_calls = [c for c in calls if c.get("videos") is not None]
    assert video_calls and all(c["do_sample_frames"] is False for c in video_calls)
    fps = {round(m["fps"], 4) for c in video_calls for m in c["video_metadata"]}
    assert fps == {round(f, 4) for f in {it.fps for it in load_benchmark(repo, limit=1).items}}
    # Left padding for batched decoder-only generation; greedy decoding recorded.
    assert backend.processor.tokenizer.padding_side == "left"
    assert results["backend"]["decoding"] == {"do_sample": False, "num_beams": 1, "max_new_tokens": 6}
    assert results["inputs"]["prompt_tokens"]["max"] > 100  # the clips became visual tokens
    records = read_predictions(tmp_path / "out" / "predictions.jsonl")
    assert all(isinstance(r["prediction"], str) for r in records.values())


def test_batched_generation_matches_one_at_a_time(tmp_path):
    # The reference loop (one item per generate) and the batched, sorted, left-padded path give the
    # same greedy replies; tests/perf/bench_eval.py measures the speed of both.
    from videossr.evaluation import HFBackend
    from videossr.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny", arch="qwen3_vl")
    backend = HFBackend(str(path), max_new_tokens=6, num_workers=2, device="cpu")
    items = bench_items(9, 128 * 128)
    sequential = one_at_a_time(backend, items)
    assert len(sequential) == 9 and batched(backend, items, batch_size=4) == sequential


@pytest.mark.gpu
def test_batched_generation_on_gpu(tmp_path):
    # On a GPU the same identity holds in float32 (bfloat16 padding numerics may flip near-ties).
    from videossr.evaluation import HFBackend
    from videossr.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny", arch="qwen3_vl")
    backend = HFBackend(str(path), max_new_tokens=8, num_workers=4, device="cuda", dtype="float32")
    items = bench_items(16, 256 * 256)
    assert backend.device == "cuda"
    assert batched(backend, items, batch_size=8) == one_at_a_time(backend, items)


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_training_callback_and_bench_show_the_model_the_same_inputs(tmp_path, arch, monkeypatch):
    # The in-training VIUBench callback (score_rows) and `videossr bench --model hf:` (HFBackend, which
    # the Space's model answerers use too) prepare and decode through videossr.vlm: same tokens, same
    # pixels, same replies, and the same per-frame pixel bound.
    import torch

    import videossr.vlm
    from videossr.evaluation import HFBackend
    from videossr.tiny import build_tiny_model
    from videossr.training import score_rows

    seen: list[tuple] = []
    real = videossr.vlm.greedy_replies

    def record(model, processor, inputs, max_new_tokens, **kwargs):
        replies = real(model, processor, inputs, max_new_tokens, **kwargs)
        seen.append(
            (
                inputs["input_ids"].cpu(),
                inputs["video_grid_thw"].cpu(),
                inputs["pixel_values_videos"].float().cpu(),
                replies,
            )
        )
        return replies

    monkeypatch.setattr(videossr.vlm, "greedy_replies", record)
    path = build_tiny_model(tmp_path / arch, arch=arch)
    items = [
        it for it in bench_items(9) if it.subtype in ("grounding_mirror", "counting_easy", "jigsaw_easy")
    ]
    rows = [item.row() for item in items]
    grids = {}
    for bound in (None, 48 * 48):  # the processor's own bounds, then a bound below the stored frame size
        backend = HFBackend(
            str(path), max_new_tokens=5, num_workers=1, device="cpu", sort=False, video_max_pixels=bound
        )
        seen.clear()
        list(backend.predict(items, batch_size=1))
        by_bench = list(seen)
        seen.clear()
        score_rows(backend.model, backend.processor, rows, max_new_tokens=5, video_max_pixels=bound)
        assert len(by_bench) == len(seen) == 3
        for (ids, grid, pixels, replies), (ids2, grid2, pixels2, replies2) in zip(by_bench, seen):
            assert torch.equal(ids, ids2) and torch.equal(grid, grid2) and torch.equal(pixels, pixels2)
            assert replies == replies2
        grids[bound] = [rec[1].tolist() for rec in by_bench]
    # The bound reached the processor (the tiny one's own bounds are smaller): other frame sizes, each
    # frame within 48x48 pixels.
    patch = backend.processor.video_processor.patch_size
    assert grids[None] != grids[48 * 48]
    # Batched, a per-clip bound (Qwen3-VL) never mixes clip lengths in one processor call; with a
    # per-frame bound (Qwen2.5-VL) one call takes them all.
    mixed = bench_items(9)
    seen.clear()
    assert len([p for batch in backend.predict(mixed, batch_size=9) for p in batch]) == 9
    assert len(seen) == (3 if arch == "qwen3_vl" else 1)  # 1-clip items, 6-clip jigsaws, 8-clip jigsaws
    assert all(h * w * patch**2 <= 48 * 48 for g in grids[48 * 48] for _, h, w in g)
