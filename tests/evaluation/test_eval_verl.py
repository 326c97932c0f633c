"""The official release's verl-style rows: conversion, subtype inference, and scoring through the harness."""

from __future__ import annotations

import numpy as np
import pytest
from _eval_helpers import fixture_clips

from videossr.evaluation import infer_subtype, load_benchmark, run_bench, verl_row_to_row
from videossr.evaluation.data import BenchmarkError
from videossr.rows import encode_frame
from videossr.tasks import task_for_subtype

SUBTYPES = ("counting_easy", "grounding_mirror", "grounding_zoom_out", "jigsaw_easy", "jigsaw_hard")


def _verl_rows(root, labelled: bool = True):
    """Rows laid out the way the reference release's verl Parquet is: frame files on disk, relative paths."""
    clips = fixture_clips()
    rows, samples = [], []
    for k, subtype in enumerate(SUBTYPES):
        sample = task_for_subtype(subtype).generate(clips[k % len(clips)], seed=k)
        videos = []
        for v, frames in enumerate(sample.videos):
            folder = root / "frames" / f"{k}_{v}"
            folder.mkdir(parents=True)
            paths = []
            for t, frame in enumerate(frames):
                (folder / f"{t:03d}.png").write_bytes(encode_frame(frame, "png"))
                paths.append(f"frames/{k}_{v}/{t:03d}.png")
            videos.append({"video": paths, "sample_fps": sample.fps})
        # verl keeps the question as one string with a <video> placeholder per clip.
        text = "".join(p if isinstance(p, str) else "<video>" for p in sample.parts)
        extra = {"index": k, "split": "test"}
        if labelled:
            extra["type"] = subtype
        rows.append(
            {
                "data_source": "viubench" if labelled else "unknown",
                "prompt": [{"role": "user", "content": text}],
                "videos": videos,
                "ability": "video",
                "reward_model": {"style": "rule", "ground_truth": sample.answer},
                "extra_info": extra,
            }
        )
        samples.append(sample)
    return rows, samples


@pytest.mark.parametrize("labelled", [True, False])
def test_verl_parquet_loads_and_scores(tmp_path, labelled):
    from datasets import Dataset

    rows, samples = _verl_rows(tmp_path, labelled)
    Dataset.from_list(rows).to_parquet(tmp_path / "viubench.parquet")
    bench = load_benchmark(tmp_path / "viubench.parquet")
    assert bench.info["layout"] == "verl"
    # Labels, or else the question text and the answer's shape, give the subtype.
    assert [it.subtype for it in bench.items] == list(SUBTYPES)
    for item, sample in zip(bench.items, samples):
        assert item.answer == sample.answer and item.fps == pytest.approx(sample.fps)
        converted = item.sample()
        assert converted.prompt == sample.prompt and converted.task == sample.task
        assert all(np.array_equal(a, b) for a, b in zip(converted.videos, sample.videos))  # PNG: lossless
    oracle = run_bench(bench, "heuristic", out_dir=tmp_path / "out", progress=False, report=False)
    assert oracle["num_items"] == len(SUBTYPES) and oracle["benchmark"]["layout"] == "verl"
    assert oracle["unparsed"] == {s: 0 for s in SUBTYPES}


def test_verl_row_with_embedded_bytes_and_resize():
    clip = fixture_clips()[0]
    sample = task_for_subtype("counting_hard").generate(clip, seed=3)
    row = {
        "prompt": [{"role": "user", "content": "<video>" + sample.parts[1]}],
        "videos": [
            {
                "video": [{"bytes": encode_frame(f, "png"), "path": None} for f in sample.videos[0]],
                "sample_fps": 2.5,
            }
        ],
        "reward_model": {"ground_truth": sample.answer},
        "extra_info": {"id": "q7", "level": "hard", "task": "counting"},
    }
    out = verl_row_to_row(row, max_pixels=64 * 64)
    assert out["id"] == "counting_hard-q7" and out["task"] == "object_counting" and out["fps"] == 2.5
    h, w = out["videos"][0].shape[1:3]
    assert h * w <= 64 * 64 and abs(w / h - clip.frames.shape[2] / clip.frames.shape[1]) < 0.1
    assert out["prompt"][0]["content"][0] == {"type": "video", "text": None}


def test_infer_subtype_rules():
    assert infer_subtype({"extra_info": {"type": "jigsaw"}}, "21345678", 8, "") == "jigsaw_hard"
    assert infer_subtype({}, "213456", 6, "") == "jigsaw_easy"
    assert infer_subtype({}, "12,3,4", 1, "") == "counting_hard"  # a count above 9 cannot be easy
    assert infer_subtype({"data_source": "counting_easy"}, "1,3,4", 1, "") == "counting_easy"
    assert (
        infer_subtype({}, "1.0-2.0", 1, "This video is 180.0 seconds long; it is mirrored left to right")
        == "grounding_mirror"
    )
    assert (
        infer_subtype({"extra_info": {"perturbation": "ChannelSwap"}}, "1.0-2.0", 1, "")
        == "grounding_channel_swap"
    )
    with pytest.raises(BenchmarkError):
        infer_subtype({}, "maybe", 1, "")
