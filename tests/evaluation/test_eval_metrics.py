"""The evaluate metric modules in hub/metrics: offline loading, agreement with the library, Table 1 rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from videossr.evaluation import scoring
from videossr.metrics import VIUBENCH_SUBTYPES, paper_row, score

METRICS = Path(__file__).resolve().parents[2] / "hub" / "metrics"
NAMES = ("anomaly_grounding", "object_counting", "temporal_jigsaw", "viubench")


@pytest.fixture(scope="module")
def modules():
    import evaluate

    return {name: evaluate.load(str(METRICS / name)) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_module_layout(name):
    folder = METRICS / name
    assert (folder / f"{name}.py").is_file() and (folder / "app.py").is_file()
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "app_file: app.py" in card and "- evaluate" in card
    assert "## How to Use" in card and "## Limitations and Bias" in card


def test_viubench_matches_table1_rules(modules):
    # One subtype per row: scores 100 on half the subtypes and 0 (unparsable) on the rest.
    predictions, references, subtypes = [], [], []
    truth = {"counting": "3,1,4", "grounding": "10.0-20.0", "jigsaw": "213456"}
    for k, sub in enumerate(VIUBENCH_SUBTYPES):
        answer = truth[sub.split("_")[0]] if sub != "jigsaw_hard" else "21345678"
        for good in (True, False):
            predictions.append(answer if (good or k % 2) else "not sure")
            references.append(answer)
            subtypes.append(sub)
    out = modules["viubench"].compute(predictions=predictions, references=references, subtypes=subtypes)
    expected = {s: (100.0 if k % 2 else 50.0) for k, s in enumerate(VIUBENCH_SUBTYPES)}
    assert {s: out[s] for s in VIUBENCH_SUBTYPES} == expected
    assert out["counting"] == 75.0 and out["grounding"] == 70.0 and out["jigsaw"] == 75.0
    # Overall is the mean of the 9 subtypes (650/9), not of the 3 task averages (73.3).
    assert out["overall"] == round(sum(expected.values()) / 9, 1) == 72.2
    assert out["counts"] == {s: 2 for s in VIUBENCH_SUBTYPES} and out["missing"] == []


def test_viubench_reproduces_a_paper_row_from_subtype_scores(modules):
    # Items built so each subtype's mean is the paper's VideoSSR-8B subtype score: the averages follow.
    row = paper_row("VideoSSR-8B")
    predictions, references, subtypes = [], [], []
    for sub, pct in zip(VIUBENCH_SUBTYPES, row):
        kind = sub.split("_")[0]
        answer = {
            "counting": "3,1,4",
            "grounding": "10.0-20.0",
            "jigsaw": "213456" if sub == "jigsaw_easy" else "21345678",
        }[kind]
        hits = round(pct * 10)  # 1000 items per subtype, one decimal
        predictions += [answer] * hits + ["?"] * (1000 - hits)
        references += [answer] * 1000
        subtypes += [sub] * 1000
    out = modules["viubench"].compute(predictions=predictions, references=references, subtypes=subtypes)
    ours = [out[s] for s in VIUBENCH_SUBTYPES] + [
        out["counting"],
        out["grounding"],
        out["jigsaw"],
        out["overall"],
    ]
    # The paper's task averages and Overall are recomputed from its subtype columns to within rounding.
    assert ours == pytest.approx(list(row), abs=0.11)


def test_task_modules_agree_with_the_library(modules):
    preds = ["12.0-20.0", "oops", "5-9", "20.0-10.0"]
    refs = ["10.0-20.0", "5.0-9.0", "5.0-9.0", "10.0-20.0"]
    g = modules["anomaly_grounding"].compute(predictions=preds, references=refs)
    ious = [score("anomaly_grounding", p, r) for p, r in zip(preds, refs)]
    assert g["miou"] == pytest.approx(sum(ious) / 4) and g["unparsed"] == 1 and g["count"] == 4
    assert g["recall@0.5"] == 0.5 and g["recall@0.7"] == 0.5
    c = modules["object_counting"].compute(
        predictions=["3,1,5", "3 circles", "3,1,4"], references=["3,1,4"] * 3
    )
    assert c["per_shape_accuracy"] == pytest.approx((2 / 3 + 0 + 1) / 3) and c[
        "exact_match"
    ] == pytest.approx(1 / 3)
    assert c["unparsed"] == 1
    j = modules["temporal_jigsaw"].compute(predictions=["3124", "4213", "1123"], references=["3124"] * 3)
    assert (
        j["exact_match"] == pytest.approx(1 / 3)
        and j["mean_reward"] == pytest.approx(1 / 3)  # 4213 is 3124 reversed: reward 0 (docs/method.md §6)
        and j["unparsed"] == 1
    )
    lenient = modules["object_counting"].compute(
        predictions=["3 circles, 1 square and 4 triangles"], references=["3,1,4"], mode="lenient"
    )
    assert lenient["per_shape_accuracy"] == 1.0


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="same length"):
        scoring.viubench(["1,2,3"], ["1,2,3"], [])


def test_metric_space_app_scores_a_table():
    pytest.importorskip("gradio")
    spec = importlib.util.spec_from_file_location("viubench_app", METRICS / "viubench" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)  # builds the Blocks; launching only happens under __main__
    out = app.compute(
        [["3,1,4", "3,1,4", "counting_easy"], ["", "", ""], ["1-2", "1.0-3.0", "grounding_mirror"]]
    )
    assert out["counting_easy"] == 100.0 and out["grounding_mirror"] == 50.0 and out["overall"] == 75.0
