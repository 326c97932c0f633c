"""VIUBench as an lmms-eval task (hub/lmms_eval/viubench): same replies and scores as `videossr bench`.

Skipped when lmms-eval (the `lmms` extra) is not installed. Everything runs offline on CPU: the small
VIUBench is built from the embedded sample videos with `videossr build viubench --per-subtype 2`, the
model is the tiny random Qwen3-VL of `videossr.tiny`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lmms_eval")

from videossr.cli import main  # noqa: E402
from videossr.evaluation import lmms as vl  # noqa: E402
from videossr.evaluation.harness import run_bench  # noqa: E402
from videossr.metrics import TASK_GROUPS, VIUBENCH_SUBTYPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "hub" / "lmms_eval"


@pytest.fixture(scope="module", autouse=True)
def clip_cache(tmp_path_factory):
    # The clip files go to a private folder; the data path is set per test through $VIUBENCH_DATA.
    old = {k: os.environ.get(k) for k in (vl.CACHE_ENV, vl.DATA_ENV)}
    os.environ[vl.CACHE_ENV] = str(tmp_path_factory.mktemp("clips"))
    yield Path(os.environ[vl.CACHE_ENV])
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def viubench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "viubench"
    rc = main(
        [
            "build",
            "viubench",
            "--videos",
            "default",
            "--out",
            str(out),
            "--per-subtype",
            "2",
            "--num-proc",
            "1",
            "--quiet",
        ]
    )
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from videossr.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen3_vl", arch="qwen3_vl")


def _docs(viubench: Path, subtype: str):
    import datasets

    return datasets.load_dataset(str(viubench), subtype)["test"]


def _predictions(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (folder / "predictions.jsonl").read_text().splitlines())}


# ---------------------------------------------------------------------------------------------- task folder
def test_task_folder_matches_the_package():
    from lmms_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS))
    names = set(manager.all_tasks)
    assert set(vl.subtask_names()) <= names
    assert set(vl.group_names()) <= names
    from lmms_eval.utils import load_yaml_config

    folder = TASKS / "viubench"
    for group, members in vl.group_names().items():
        config = load_yaml_config(str(folder / f"{group}.yaml"), mode="simple")
        assert config["task"] == members, group
        assert config["aggregate_metric_list"][0]["weight_by_size"] is False
    assert vl.group_names()["viubench"] == [f"viubench_{g}" for g in TASK_GROUPS]
    for subtype in VIUBENCH_SUBTYPES:
        config = load_yaml_config(str(folder / f"viubench_{subtype}.yaml"), mode="simple")
        assert config["dataset_name"] == subtype and config["task"] == f"viubench_{subtype}"


def test_doc_functions_give_the_stored_prompt_and_exact_frames(viubench):
    import cv2
    import decord

    from videossr.rows import row_videos

    for subtype in ("grounding_mirror", "jigsaw_hard"):
        doc = _docs(viubench, subtype)[0]  # what lmms-eval hands the hooks: a datasets row, frames as PIL
        frames = row_videos(doc)

        def shape(message):
            return [p["text"] if p["type"] == "text" else "<video>" for p in message["content"]]

        messages = vl.doc_to_messages(doc)
        assert [m["role"] for m in messages] == [m["role"] for m in doc["prompt"]]  # system turn kept
        assert [shape(m) for m in messages] == [shape(m) for m in doc["prompt"]]
        paths = [p["url"] for m in messages for p in m["content"] if p["type"] == "video"]
        assert paths == vl.doc_to_visual(doc)  # written once, then reused
        assert len(paths) == len(frames)
        for path, clip in zip(paths, frames):
            assert path.endswith(".avi")
            np.testing.assert_array_equal(vl.read_clip(path), clip)
            reader = decord.VideoReader(path)  # the reader lmms-eval's Qwen wrappers use
            np.testing.assert_array_equal(reader.get_batch(list(range(len(reader)))).asnumpy(), clip)
            cap = cv2.VideoCapture(path)
            assert abs(cap.get(cv2.CAP_PROP_FPS) - doc["fps"]) < 1e-3
            cap.release()
        text = vl.doc_to_text(doc)
        turns = ["".join(p for p in shape(m) if p != "<video>") for m in doc["prompt"]]
        assert text == "\n".join(t for t in turns if t)
        assert vl.doc_to_text(doc, {"pre_prompt": "A ", "post_prompt": " Z"}) == f"A {text} Z"
        assert vl.doc_to_target(doc) == doc["answer"]


def test_process_results_and_aggregation_on_lmms_eval_objects(viubench):
    from lmms_eval.api.instance import GenerationResult

    doc = _docs(viubench, "counting_easy")[0]
    exact = vl.process_results(doc, [doc["answer"]])
    assert exact["score"]["score"] == 1.0 and exact["score"]["parsed"]
    wrapped = vl.process_results(doc, [GenerationResult(text="nonsense")])
    assert wrapped["score"]["score"] == 0.0 and not wrapped["score"]["parsed"]
    assert vl.aggregate_unparsed([exact["unparsed"], wrapped["unparsed"]]) == 1
    cell = vl.aggregate_score([exact["score"], wrapped["score"]])
    assert cell == 50.0 and cell.fraction == 0.5 and cell.subtype == "counting_easy"
    with pytest.raises(vl.LmmsEvalError):
        vl.aggregate_score([exact["score"], {**wrapped["score"], "subtype": "jigsaw_easy"}])


def test_group_mean_uses_unrounded_subtype_scores():
    from videossr.metrics import aggregate

    # Five subtypes just above 11.15 % (cells 11.2) and four at 11.149 % (cells 11.1): the mean of the
    # unrounded scores is 11.1496 -> 11.1 (VIUBench's Overall), the mean of the cells 11.156 -> 11.2.
    fractions = dict(zip(VIUBENCH_SUBTYPES, [0.11150001] * 5 + [0.11149] * 4))
    cells = [vl.SubtypeScore(round(100 * f, 1), f, s) for s, f in fractions.items()]
    assert [float(c) for c in cells] == [11.2] * 5 + [11.1] * 4
    expected = aggregate({s: [f] for s, f in fractions.items()})["overall"]
    assert vl.aggregate_group(cells, [1] * 9) == expected == 11.1
    plain = [float(c) for c in cells]  # read back from a file: only the rounded cells are known
    assert vl.aggregate_group(plain, [1] * 9) == 11.2
    import pickle

    clone = pickle.loads(pickle.dumps(cells[0]))
    assert isinstance(clone, vl.SubtypeScore) and clone.fraction == cells[0].fraction


# ---------------------------------------------------------------------------------------------- same numbers
def _assert_same_run(a: dict, b: dict, pa: dict, pb: dict, keys=("prediction", "score", "parsed")):
    assert a["scores"] == b["scores"]
    assert set(pa) == set(pb) and len(pa) == 18
    for item_id, rec in pa.items():
        for key in keys:
            assert rec.get(key) == pb[item_id].get(key), (item_id, key)
    lmms_numbers = b["lmms_eval"]["results"]
    assert lmms_numbers["viubench"]["score"] == a["scores"]["overall"]
    for subtype, value in a["scores"]["subtypes"].items():
        assert lmms_numbers[f"viubench_{subtype}"]["score"] == value
    for task, value in a["scores"]["tasks"].items():
        assert lmms_numbers[f"viubench_{task}"]["score"] == value


def test_tiny_qwen_same_replies_and_scores_both_ways(viubench, tiny_model, tmp_path):
    options = {"max_new_tokens": 16, "num_workers": 1}
    spec = f"hf:{tiny_model}"
    a = run_bench(
        viubench,
        spec,
        out_dir=tmp_path / "bench",
        configs=list(VIUBENCH_SUBTYPES),
        batch_size=8,
        backend_options=options,
        progress=False,
    )
    b = vl.run_lmms_bench(viubench, spec, out_dir=tmp_path / "lmms", batch_size=8, backend_options=options)
    pa, pb = _predictions(tmp_path / "bench"), _predictions(tmp_path / "lmms")
    # Same replies from the same inputs: frames per clip, frame size, fps, prompt and its token count.
    _assert_same_run(
        a,
        b,
        pa,
        pb,
        keys=("prediction", "score", "parsed", "frames", "size", "fps", "prompt_tokens", "prompt_sha1"),
    )
    assert b["inputs"] == a["inputs"] and b["lmms_eval"]["version"] == vl.lmms_eval_version()
    assert {len(r["frames"]) for r in pb.values()} == {1, 6, 8}  # grounding/counting 1 clip, jigsaw 6 and 8


def test_heuristic_same_scores_both_ways(viubench, tmp_path):
    # The heuristic solver reads the pixels: equal non-trivial scores mean the clip files are exact.
    a = run_bench(
        viubench, "heuristic", out_dir=tmp_path / "bench", configs=list(VIUBENCH_SUBTYPES), progress=False
    )
    b = vl.run_lmms_bench(viubench, "heuristic", out_dir=tmp_path / "lmms")
    _assert_same_run(a, b, _predictions(tmp_path / "bench"), _predictions(tmp_path / "lmms"))
    assert a["scores"]["overall"] > 0


def test_bench_cli_via_lmms_eval(viubench, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "bench",
            "--data",
            str(viubench),
            "--model",
            "random",
            "--via",
            "lmms-eval",
            "--out",
            str(out),
            "--subtypes",
            "counting_easy",
            "jigsaw_easy",
        ]
    )
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert results["via"] == "lmms-eval" and results["num_items"] == 4
    assert results["lmms_eval"]["tasks"] == ["viubench_counting_easy", "viubench_jigsaw_easy"]
    assert "| **random** |" in capsys.readouterr().out


def test_lmms_eval_cli_with_its_own_qwen3_vl_wrapper(viubench, tiny_model, tmp_path):
    """`lmms-eval --include_path hub/lmms_eval --tasks viubench --model qwen3_vl` on the tiny checkpoint."""
    env = {**os.environ, vl.DATA_ENV: str(viubench), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "lmms_eval",
        "--model",
        "qwen3_vl",
        "--force_simple",
        "--model_args",
        f"pretrained={tiny_model},device=cpu,device_map=cpu",
        "--tasks",
        "viubench",
        "--include_path",
        str(TASKS),
        "--limit",
        "1",
        "--batch_size",
        "1",
        "--gen_kwargs",
        "max_new_tokens=4",
        "--output_path",
        str(tmp_path / "out"),
        "--verbosity",
        "ERROR",
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    files = list((tmp_path / "out").rglob("*results*.json"))
    assert files, res.stdout[-1000:]
    saved = json.loads(files[0].read_text())["results"]
    assert {"viubench", "viubench_counting", "viubench_jigsaw_hard"} <= set(saved)
    assert 0.0 <= saved["viubench"]["score,none"] <= 100.0


# ---------------------------------------------------------------------------------------------- bad input
def test_not_viubench_and_missing_subtype_are_clear_errors(viubench, tmp_path, capsys):
    from datasets import Dataset

    other = tmp_path / "other"  # a real dataset repo, but with no VIUBench config at all
    (other / "x").mkdir(parents=True)
    Dataset.from_list([{"question": "q", "answer": "A"}]).to_parquet(other / "x" / "test.parquet")
    (other / "README.md").write_text(
        "---\nconfigs:\n- config_name: mvbench\n  data_files: x/*.parquet\n---\n"
    )
    with pytest.raises(vl.LmmsEvalError, match="is not VIUBench"):
        vl.check_viubench(other)
    with pytest.raises(vl.LmmsEvalError, match="cannot open"):
        vl.check_viubench(tmp_path / "does-not-exist")
    with pytest.raises(vl.LmmsEvalError, match="unknown VIUBench subtypes"):
        vl.check_viubench(viubench, ["grounding_blur"])
    partial = tmp_path / "partial"
    partial.mkdir()
    card = (viubench / "README.md").read_text()
    (partial / "README.md").write_text(card.replace("config_name: jigsaw_hard", "config_name: jigsaw_hard_x"))
    for sub in (viubench / "data").iterdir():
        (partial / "data").mkdir(exist_ok=True)
        (partial / "data" / sub.name).symlink_to(sub)
    with pytest.raises(vl.LmmsEvalError, match=r"no config for subtype\(s\) \['jigsaw_hard'\]"):
        vl.check_viubench(partial)
    assert vl.check_viubench(partial, ["counting_easy"]) == ["counting_easy"]
    # The CLI turns them into one line and exit code 1, never a traceback.
    assert main(["bench", "--data", str(partial), "--model", "random", "--via", "lmms-eval"]) == 1
    err = capsys.readouterr().err
    assert "jigsaw_hard" in err and "Traceback" not in err
    assert (
        main(
            ["bench", "--data", str(viubench), "--model", "random", "--via", "lmms-eval", "--mode", "lenient"]
        )
        == 1
    )
    assert "do not apply with --via lmms-eval" in capsys.readouterr().err


def test_rows_that_are_not_viubench_are_refused():
    from datasets import Dataset

    with pytest.raises(vl.LmmsEvalError, match="lack"):
        vl.check_docs(Dataset.from_list([{"question": "q", "answer": "A"}]))
    rows = Dataset.from_list([{c: "x" for c in vl.REQUIRED_COLUMNS}])
    with pytest.raises(vl.LmmsEvalError, match="not among"):
        vl.check_docs(rows)


def test_unsupported_lmms_eval_version_is_a_clear_error(monkeypatch):
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.3.5" if name == "lmms-eval" else real(name))
    with pytest.raises(vl.LmmsEvalError, match=r"lmms-eval 0.3.5 is not supported.*>=0.7,<0.8"):
        vl.lmms_eval_version()
    assert vl.lmms_eval_version(check=False) == "0.3.5"

    # 0.7.1-0.7.3 patch filelock 3.x internals in every evaluation: with filelock 4 that is a clear error too.
    import importlib.util

    real_find = importlib.util.find_spec
    monkeypatch.setattr(metadata, "version", lambda name: "0.7.3" if name == "lmms-eval" else real(name))
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "filelock._api" else real_find(name, *a)
    )
    with pytest.raises(vl.LmmsEvalError, match=r"lmms-eval 0.7.3 needs filelock<4"):
        vl.lmms_eval_version()

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(vl.LmmsEvalError, match="not installed"):
        vl.lmms_eval_version()
