"""One registry, read one way: a task registered later has its Table 1 columns, rewards and Space widgets.

The toy benchmark task (``tests/_toy_bench.py``) has one VIUBench subtype placed right after counting's, so
a Table 1 aligned by position would shift every paper number after it (issue 29's reproduction).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
from _toy_bench import DarkerHalf, registered, short_reply

from videossr import metrics
from videossr.evaluation.lmms.config import group_names
from videossr.evaluation.report import leaderboard_rows, table1_markdown
from videossr.metrics import PAPER_TABLE1, aggregate, paper_row, table1_columns, table1_row
from videossr.rewards import REWARD_FUNCS, get_reward_funcs, register_reward, unregister_reward
from videossr.tasks import ALIASES, TASKS

SPACE = Path(__file__).resolve().parents[2] / "space"


def _markdown_cells(table: str, model: str) -> dict[str, str]:
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(ln for ln in lines if ln.startswith(f"| {model}"))
    return dict(zip(header, (c.strip() for c in row.strip("|").split("|"))))


def test_paper_numbers_stay_under_their_columns_when_a_task_adds_one():
    assert len(table1_columns()) == 13
    with registered():
        columns = table1_columns()
        assert len(columns) == 15 and columns[2] == "T-R" and columns[-2:] == ("Jig", "Overall")
        # The constants other modules imported before the registration are read now too.
        assert metrics.TABLE1_COLUMNS == columns and "toy_random" in metrics.VIUBENCH_SUBTYPES
        assert metrics.TASK_GROUPS["toy"] == ("toy_random",)

        paper = dict(zip(columns, paper_row("VideoSSR-8B")))
        assert (paper["C-E"], paper["Chan"], paper["J-H"]) == (29.0, 88.7, 8.0)
        assert (paper["Cnt"], paper["Grd"], paper["Jig"], paper["Overall"]) == (26.8, 76.2, 16.2, 51.9)
        assert paper["T-R"] is None and paper["Toy"] is None

        cells = _markdown_cells(table1_markdown([], paper=["VideoSSR-8B"]), "VideoSSR-8B")
        assert len(cells) == 16 and cells["Cnt"] == "26.8" and cells["Overall"] == "51.9"
        assert cells["Shuf"] == "41.0" and cells["T-R"] == "–" and cells["Toy"] == "–"
        assert "toy random" in table1_markdown([], paper=False)  # the legend names its column

        rows = leaderboard_rows([], paper=["VideoSSR-8B", "GPT-5"])
        assert rows[0]["Cnt"] == 26.8 and rows[1]["Overall"] == 58.7 and rows[1]["T-R"] is None
        assert group_names()["viubench_toy"] == ["viubench_toy_random"]

        # A run's own row has the toy's column, and Overall is the mean of every subtype it scored.
        result = aggregate({"counting_easy": [1.0], "toy_random": [0.0, 1.0]})
        assert dict(zip(columns, table1_row(result)))["T-R"] == 50.0 and result["overall"] == 75.0
    assert len(table1_columns()) == 13 and "toy_random" not in metrics.VIUBENCH_SUBTYPES
    assert list(PAPER_TABLE1["VideoSSR-8B"].values()) == paper_row("VideoSSR-8B")


def test_rewards_are_built_once_per_registry_state_and_follow_it():
    first = REWARD_FUNCS["counting"]
    assert REWARD_FUNCS["counting"] is first and get_reward_funcs(["counting"])[0] is first
    assert "toy" not in REWARD_FUNCS and "toy" not in ALIASES
    with registered():
        assert ALIASES["toy"] == "darker_half" and TASKS["darker_half"] is DarkerHalf
        toy = REWARD_FUNCS["toy"]
        assert toy(["second", "first"], answer=["second", "second"], task=["darker_half"] * 2) == [1.0, 0.0]
        assert toy(["3,1,4"], answer=["3,1,4"], task=["object_counting"]) == [None]
        assert REWARD_FUNCS["toy_strict01_lenient"] is REWARD_FUNCS["toy_strict01_lenient"]
        assert pickle.loads(pickle.dumps(toy))(["first"], answer=["first"]) == [1.0]
    assert "toy" not in REWARD_FUNCS


def test_a_users_reward_registers_by_name():
    register_reward("short_reply", short_reply)
    try:
        # Selected by name as a recipe's `reward_funcs` list is (recipes/grpo.py calls get_reward_funcs).
        assert get_reward_funcs(["counting", "short_reply"])[1] is short_reply
        assert REWARD_FUNCS["short_reply"](["first", "a long reply"]) == [1.0, 0.0]
        register_reward("short_reply", short_reply)  # the same function again: fine
        with pytest.raises(ValueError, match="taken"):
            register_reward("short_reply", lambda completions, **kw: [])
        with pytest.raises(ValueError, match="taken"):
            register_reward("counting", short_reply)  # a built-in reward's name
    finally:
        unregister_reward("short_reply")
    with pytest.raises(ValueError, match="unknown reward"):
        get_reward_funcs(["short_reply"])


def test_registry_reads_like_a_dict_and_refuses_a_clash():
    assert list(TASKS) == ["anomaly_grounding", "object_counting", "temporal_jigsaw"]
    assert "object_counting" in TASKS and TASKS.get("nope") is None and len(TASKS) == 3

    class Clash(DarkerHalf):
        name = "other_name"  # same short name "toy" as the toy task

    with registered(), pytest.raises(ValueError, match="clashes"):
        TASKS.register(Clash)
    assert "other_name" not in TASKS


def test_space_shows_a_new_tasks_option_and_benchmark_column(monkeypatch, tmp_path):
    pytest.importorskip("gradio")
    pytest.importorskip("pandas")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.syspath_prepend(str(SPACE))
    from videossr_space import bench, handlers
    from videossr_space import ui as app

    with registered():
        ctx = handlers.Context(handlers.Settings(tmp_root=tmp_path / "store", keep=4, timeout_s=60))
        demo = app.build_demo(ctx)
        try:
            components = demo.config["components"]
            half = [c for c in components if c.get("props", {}).get("label") == "Half"]
            assert len(half) == 1
            assert [choice[1] for choice in half[0]["props"]["choices"]] == ["first", "second"]
            clips = [c for c in components if c.get("props", {}).get("label") == "Clips"]
            assert len(clips) == 1  # the jigsaw's own option is on the page too
            generate = next(d for d in demo.config["dependencies"] if d.get("api_name") == "generate")
            assert (
                len(generate["inputs"]) == 8
            )  # upload, example, task, perturbation, difficulty, seed, clips, half
        finally:
            demo.close()
            ctx.close()

        table = bench.bench_table(None)
        assert "T-R" in table.columns and "Toy" in table.columns
        paper = table.set_index("Model").loc["VideoSSR-8B"]
        assert paper["Cnt"] == 26.8 and paper["Overall"] == 51.9 and paper.isna()["T-R"]
        assert [bar[0] for bar in bench.figure_bars()] == ["Cnt", "Toy", "Grd", "Jig", "Overall"]
        figure = bench.bench_figure(table)
        labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
        assert "Toy" in labels
        # The page passes the toy's option to the task (make_task keeps what the task declares).
        assert handlers.make_task("darker_half", "mirror", "easy", half="second", clips=4).half == "second"
    assert "videossr_space" in sys.modules
