"""Online generation: an IterableDataset of fresh questions with the dataset row schema."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _data_helpers import have_ffmpeg, make_folder

from videossr.data import row_features
from videossr.data.streaming import stream_dataset

pytestmark = pytest.mark.skipif(not have_ffmpeg(), reason="needs the ffmpeg binary to make test videos")

MIX = "grounding_mirror=1,jigsaw_easy=1,counting_easy=1"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("stream_videos"), 4, bad=True)


def _keys(ds) -> list[tuple]:
    return [(r["id"], r["source"], r["subtype"], r["seed"], r["answer"]) for r in ds]


def test_rows_have_the_dataset_schema(videos):
    from videossr.rows import row_to_sample
    from videossr.video import TRAIN_MAX_PIXELS

    ds = stream_dataset(videos, mix=MIX, seed=0, num_samples=6, num_shards=2, decode_timeout=60)
    assert ds.features == row_features()
    rows = list(ds)
    assert len(rows) == 6
    for row in rows:
        sample = row_to_sample(row)  # frames arrive as PIL images, as from load_dataset
        assert (
            sample.answer == row["answer"]
            and sample.videos[0].shape[1] * sample.videos[0].shape[2] <= TRAIN_MAX_PIXELS
        )
        assert row["source"] in {
            "clip_00.mp4",
            "clip_01.mp4",
            "more/clip_02.mp4",
            "clip_03.mp4",
        }  # bad ones skipped
        assert [m["role"] for m in row["prompt"]] == ["system", "user"] and row["generator_version"]


def test_seeded_reproducible_and_fresh_every_pass(videos):
    a = stream_dataset(videos, mix=MIX, seed=1, num_samples=6, num_shards=2)
    b = stream_dataset(videos, mix=MIX, seed=1, num_samples=6, num_shards=2)
    first = _keys(a)
    assert first == _keys(b)  # same seed, new object: same questions
    assert _keys(stream_dataset(videos, mix=MIX, seed=2, num_samples=6, num_shards=2)) != first
    second, third = _keys(a), _keys(a)  # later passes (epochs) over the same object
    questions = [(s, t, seed) for _, s, t, seed, _ in first + second + third]
    assert len(set(questions)) == len(questions) == 18  # never the same question twice


def test_endless_stream_never_repeats(videos):
    ds = stream_dataset(videos, mix=MIX, seed=0, num_shards=1)  # num_samples=None: endless
    rows = _keys(itertools.islice(ds, 15))  # 4 usable videos, so each is visited several times
    assert len(rows) == 15
    assert len({(s, t, seed) for _, s, t, seed, _ in rows}) == 15


def test_endless_stream_read_by_one_process_sees_every_video(videos):
    # datasets reads a reader's shards one after another; an endless first shard must not hide the others.
    ds = stream_dataset(videos, mix=MIX, seed=0)  # default shards, endless
    assert ds.num_shards > 1
    sources = {row["source"] for row in itertools.islice(ds, 24)}
    assert len(sources) == 4  # every usable video of the folder


def test_shards_split_across_ranks(videos):
    from datasets.distributed import split_dataset_by_node

    ds = stream_dataset(videos, mix=MIX, seed=0, num_samples=8, num_shards=4)
    assert ds.num_shards == 4
    ranks = [_keys(split_dataset_by_node(ds, rank=r, world_size=2)) for r in range(2)]
    ids = [{k[0] for k in keys} for keys in ranks]
    assert ids[0] and ids[1] and ids[0].isdisjoint(ids[1])
    assert sorted(ids[0] | ids[1]) == sorted(
        k[0] for k in _keys(stream_dataset(videos, mix=MIX, seed=0, num_samples=8, num_shards=4))
    )


def test_works_through_trl_grpo_stream_transform(videos):
    # GRPOTrainer (TRL 1.16) shuffles an iterable train set and repeats each prompt num_generations times
    # with repeat_iterable_dataset; the rows must survive that chain intact.
    trl_utils = pytest.importorskip("trl.trainer.utils")
    ds = stream_dataset(videos, mix=MIX, seed=0, num_samples=4, num_shards=2).shuffle(seed=0, buffer_size=2)
    stream = trl_utils.repeat_iterable_dataset(ds, mini_repeat_count=2, batch_size=2, repeat_count=1)
    rows = list(stream)
    assert len(rows) == 8
    assert [r["id"] for r in rows[0::2]] == [r["id"] for r in rows[1::2]]  # groups of 2 identical prompts
    assert all(hasattr(r["videos"][0][0], "size") for r in rows)  # still PIL frames


def test_swap_and_errors(videos, tmp_path):
    rows = list(stream_dataset(videos, mix="grounding_swap=1", seed=0, num_samples=2, num_shards=1))
    assert all(r["subtype"] == "grounding_swap" for r in rows)
    with pytest.raises(ValueError, match="excluded"):
        stream_dataset(videos, exclude=[videos])
    with pytest.raises(FileNotFoundError):
        stream_dataset(tmp_path / "missing")


@pytest.mark.slow
def test_torch_dataloader_workers_get_distinct_shards(videos):
    torch_data = pytest.importorskip("torch.utils.data")
    ds = stream_dataset(videos, mix=MIX, seed=0, num_samples=4, num_shards=2)
    loader = torch_data.DataLoader(ds, batch_size=None, num_workers=2, collate_fn=lambda x: x)
    ids = [row["id"] for row in loader]
    assert sorted(ids) == sorted(
        r["id"] for r in stream_dataset(videos, mix=MIX, seed=0, num_samples=4, num_shards=2)
    )
