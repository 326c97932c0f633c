"""VIUBench results as a model card's model-index (what the Hub renders) and leaderboard rows of `compare`.

Offline: the cards are parsed back with huggingface_hub's own `ModelCard.load(...).data.eval_results`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _eval_helpers import viubench_rows, write_repo

from videossr.cli import main
from videossr.evaluation.model_index import (
    DATASET_NAME,
    ModelIndexError,
    dataset_type_of,
    eval_results,
    read_model_index,
    write_model_index,
)
from videossr.evaluation.report import leaderboard_columns, leaderboard_rows
from videossr.metrics import PAPER_TABLE1, TABLE1_COLUMNS, VIUBENCH_SUBTYPES, paper_row, table1_row

huggingface_hub = pytest.importorskip("huggingface_hub")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two real `videossr bench` runs (random, two seeds) on a small VIUBench repo."""
    root = tmp_path_factory.mktemp("bench")
    repo = write_repo(root / "viubench", viubench_rows(per_subtype=2))
    out = {}
    for seed in (0, 1):
        folder = root / f"random-{seed}"
        assert (
            main(
                [
                    "bench",
                    "--data",
                    str(repo),
                    "--model",
                    "random",
                    "--seed",
                    str(seed),
                    "--out",
                    str(folder),
                    "--name",
                    f"random seed {seed}",
                    "--no-progress",
                ]
            )
            == 0
        )
        out[f"random-{seed}"] = folder
    return out


def _card(path: Path, body: str = "# a model\n") -> Path:
    card = huggingface_hub.ModelCard(
        "---\n"
        + huggingface_hub.ModelCardData(license="apache-2.0", tags=["video"]).to_yaml()
        + "\n---\n\n"
        + body
    )
    path.mkdir(parents=True, exist_ok=True)
    card.save(path / "README.md")
    return path / "README.md"


def test_eval_results_one_per_subtype_and_overall(runs):
    results = json.loads((runs["random-0"] / "results.json").read_text())
    entries = eval_results(results, dataset_id="org/VIUBench")
    assert [e.dataset_config for e in entries] == [*VIUBENCH_SUBTYPES, None]
    assert [e.metric_value for e in entries[:-1]] == [
        results["scores"]["subtypes"][s] for s in VIUBENCH_SUBTYPES
    ]
    assert entries[-1].metric_type == "viubench_overall"
    assert entries[-1].metric_value == results["scores"]["overall"]
    assert {e.dataset_type for e in entries} == {"org/VIUBench"}
    assert {e.metric_type for e in entries[:-1]} == {"accuracy", "miou", "exact_match"}
    # A local folder is not a Hub id: the entries name the benchmark instead.
    assert {e.dataset_type for e in eval_results(results)} == {"viubench"}
    assert dataset_type_of("org/VIUBench") == "org/VIUBench" and dataset_type_of(None) == "viubench"


def test_written_card_is_what_the_hub_parses(runs, tmp_path):
    card_path = _card(tmp_path / "model")
    # An entry for another benchmark is kept; VIUBench entries are replaced on a rewrite.
    card = huggingface_hub.ModelCard.load(card_path)
    card.data.model_name = "my-model"
    card.data.eval_results = [
        huggingface_hub.EvalResult(
            task_type="video-text-to-text",
            dataset_type="org/MVBench",
            dataset_name="MVBench",
            metric_type="accuracy",
            metric_value=60.1,
        )
    ]
    card.save(card_path)
    write_model_index(card_path, runs["random-0"], dataset_id="org/VIUBench")
    write_model_index(card_path.parent, runs["random-1"] / "results.json", dataset_id="org/VIUBench")
    loaded = huggingface_hub.ModelCard.load(card_path)
    assert loaded.text.strip() == "# a model"  # the body is untouched
    results = loaded.data.eval_results
    assert len(results) == 11 and results[0].dataset_name == "MVBench"
    viubench = [r for r in results if r.dataset_name == DATASET_NAME]
    second = json.loads((runs["random-1"] / "results.json").read_text())["scores"]
    assert {r.dataset_config: r.metric_value for r in viubench} == {
        **second["subtypes"],
        None: second["overall"],
    }
    assert loaded.data.model_name == "my-model"
    back = read_model_index(card_path)
    assert back["scores"]["subtypes"] == second["subtypes"] and back["scores"]["overall"] == second["overall"]
    assert back["dataset"] == "org/VIUBench"


def test_bench_cli_writes_the_model_card(runs, tmp_path, capsys):
    card_path = _card(tmp_path / "model")
    data = json.loads((runs["random-0"] / "results.json").read_text())["benchmark"]["data"]
    assert (
        main(
            [
                "bench",
                "--data",
                data,
                "--model",
                "random",
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
                "--model-card",
                str(card_path),
                "--dataset-id",
                "org/VIUBench",
                "--name",
                "random",
            ]
        )
        == 0
    )
    assert "10 VIUBench entries" in capsys.readouterr().out
    loaded = huggingface_hub.ModelCard.load(card_path)
    assert len(loaded.data.eval_results) == 10 and loaded.data.model_name == "random"


def test_grpo_model_card_carries_the_model_index(runs, tmp_path):
    from videossr.training import write_model_card

    scores = json.loads((runs["random-0"] / "results.json").read_text())["scores"]
    path = write_model_card(
        tmp_path / "ckpt",
        base_model="Qwen/Qwen3-VL-8B-Instruct",
        dataset="org/VideoSSR-30K",
        viubench=scores,
        hub_model_id="org/videossr-8b",
    )
    card = huggingface_hub.ModelCard.load(path)
    assert card.data.model_name == "org/videossr-8b"
    assert [r.metric_value for r in card.data.eval_results] == [*table1_row(scores)[:9], scores["overall"]]
    assert "## VIUBench" in card.text  # the text table stays
    # A subset that misses subtypes keeps its text table and gets no (misleading) model-index.
    partial = {**scores, "subtypes": {k: v for k, v in scores["subtypes"].items() if k != "jigsaw_hard"}}
    path = write_model_card(tmp_path / "ckpt2", base_model="tiny:qwen3_vl", dataset=None, viubench=partial)
    card = huggingface_hub.ModelCard.load(path)
    assert not card.data.eval_results and "## VIUBench" in card.text


def test_bad_input_is_a_clear_error(runs, tmp_path):
    scores = json.loads((runs["random-0"] / "results.json").read_text())["scores"]
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "README.md").write_text("# no metadata here\n")
    with pytest.raises(ModelIndexError, match="has no metadata block"):
        write_model_index(bare, scores)
    with pytest.raises(ModelIndexError, match="no model card"):
        write_model_index(tmp_path / "nowhere", scores)
    card = _card(tmp_path / "model")
    with pytest.raises(ModelIndexError, match="not VIUBench results"):
        write_model_index(card, {"scores": {"subtypes": {"mvbench_action": 50.0}, "overall": 50.0}})
    with pytest.raises(ModelIndexError, match="not VIUBench results"):
        write_model_index(card, {"accuracy": 0.5})
    missing = {**scores, "subtypes": {k: v for k, v in scores["subtypes"].items() if k != "grounding_mirror"}}
    with pytest.raises(ModelIndexError, match=r"lack subtype\(s\) \['grounding_mirror'\]"):
        write_model_index(card, missing)
    with pytest.raises(ModelIndexError, match="no VIUBench entries"):
        read_model_index(card)
    # The CLI reports it in one line (exit code 1), after the run's own files are written.
    assert (
        main(["bench", "--data", "nowhere-local-or-hub", "--model", "random", "--model-card", str(bare)]) == 1
    )


# ---------------------------------------------------------------------------------------------- leaderboard
def test_compare_writes_one_row_per_model_in_table1_columns(runs, tmp_path, capsys):
    card = _card(tmp_path / "carded")
    write_model_index(card, runs["random-1"], model_name="random from a card")
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                str(runs["random-0"]),
                str(runs["random-1"] / "results.json"),
                str(card),
                "--paper",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "leaderboard rows" in capsys.readouterr().out
    with (out / "compare.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(leaderboard_columns()) == ["Model", "Source", *TABLE1_COLUMNS]
    assert len(rows) == len(PAPER_TABLE1) + 3
    paper = rows[: len(PAPER_TABLE1)]
    assert [r["Model"] for r in paper] == list(PAPER_TABLE1) and {r["Source"] for r in paper} == {"paper"}
    assert [float(paper[-1][c]) for c in TABLE1_COLUMNS] == paper_row("VideoSSR-8B")
    ours = rows[len(PAPER_TABLE1) :]
    assert [r["Model"] for r in ours] == ["random seed 0", "random seed 1", "random from a card"]
    assert [r["Source"] for r in ours] == ["videossr bench", "videossr bench", "model card"]
    first = json.loads((runs["random-0"] / "results.json").read_text())
    assert [float(ours[0][c]) for c in TABLE1_COLUMNS] == table1_row(first["scores"])
    assert ours[2]["Overall"] == ours[1]["Overall"]
    as_json = json.loads((out / "compare.json").read_text())
    assert len(as_json) == len(rows) and as_json[-3]["Overall"] == first["scores"]["overall"]
    assert (out / "compare.md").is_file() and (out / "compare.png").is_file()


def test_leaderboard_rows_without_paper_and_missing_cells():
    run = {
        "name": "partial",
        "via": "lmms-eval",
        "scores": {"subtypes": {"counting_easy": 12.5}, "tasks": {"counting": 12.5}, "overall": None},
    }
    (row,) = leaderboard_rows([run])
    assert row["Model"] == "partial" and row["Source"] == "lmms-eval"
    assert row["C-E"] == 12.5 and row["Cnt"] == 12.5 and row["C-H"] is None and row["Overall"] is None
