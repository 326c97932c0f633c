"""A task shipped as a package of its own is found through its entry point, with no edit to videossr.

The toy benchmark task (``tests/_toy_bench.py``) is installed with ``pip install --target`` from a tiny
``pyproject.toml`` in a temporary folder, its entry points in the groups ``videossr.tasks`` and
``videossr.rewards``. Every step then runs in a fresh process that has the folder on ``PYTHONPATH`` (as an
environment with the package installed has it): ``videossr generate --help``, a ``--num-proc 2`` build of
its subtype (spawned workers find the task the same way), ``videossr bench`` with the heuristic backend
(the toy's own solver; its Table 1 column in the report), the Space's form and a recipe's reward names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]  # where the shared toy task lives
ROOT = TESTS.parent
VIDEOSSR = Path(sys.executable).parent / "videossr"

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "videossr-toy-plugin"
version = "0.1"

[project.entry-points."videossr.tasks"]
darker_half = "videossr_toy_plugin:DarkerHalf"

[project.entry-points."videossr.rewards"]
toy_short = "videossr_toy_plugin:short_reply"

[tool.setuptools]
py-modules = ["videossr_toy_plugin"]
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a process in which the plugin package is installed."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(PYPROJECT)
    shutil.copy(TESTS / "_toy_bench.py", source / "videossr_toy_plugin.py")
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(site), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert list(site.glob("videossr_toy_plugin-0.1.dist-info/entry_points.txt"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _run(args: list[str], env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(1800)  # three fresh processes and a pool of two: minutes on a busy 2-core machine
def test_plugin_task_in_the_cli_a_parallel_build_and_bench(plugin_env, real_videos, tmp_path):
    help_text = _run([str(VIDEOSSR), "generate", "--help"], plugin_env)
    assert "darker_half" in help_text and "--half" in help_text

    videos = tmp_path / "videos"
    videos.mkdir()
    for path in sorted(real_videos, key=lambda p: p.stat().st_size)[:2]:
        shutil.copy(path, videos / path.name)
    repo = tmp_path / "repo"
    _run(
        [str(VIDEOSSR), "build", "videossr-30k", "--videos", str(videos), "--out", str(repo), "--size", "2"]
        + ["--mix", "toy_random=1", "--num-proc", "2"],
        plugin_env,
    )
    import pyarrow.parquet as pq

    rows = [r for path in sorted(repo.glob("data/toy/*.parquet")) for r in pq.read_table(path).to_pylist()]
    assert [(r["task"], r["subtype"]) for r in rows] == [("darker_half", "toy_random")] * 2
    assert {r["answer"] for r in rows} <= {"first", "second"}

    out = tmp_path / "bench"
    _run(
        [
            str(VIDEOSSR),
            "bench",
            "--data",
            str(repo),
            "--model",
            "heuristic",
            "--out",
            str(out),
            "--no-progress",
        ],
        plugin_env,
    )
    results = json.loads((out / "results.json").read_text())
    assert results["scores"]["counts"] == {"toy_random": 2}
    assert results["scores"]["subtypes"]["toy_random"] == 100.0  # the toy's own solver, found by its task
    header = next(ln for ln in (out / "table.md").read_text().splitlines() if ln.startswith("| Model"))
    assert "| C-E | C-H | T-R | Chan |" in header and header.endswith("| Cnt | Toy | Grd | Jig | Overall |")


def test_plugin_task_in_the_space_form_and_its_reward_by_name(plugin_env):
    pytest.importorskip("gradio")
    script = (
        "import sys, json, tempfile\n"
        f"sys.path.insert(0, {str(ROOT / 'space')!r})\n"
        "from videossr_space import handlers, ui\n"
        "from videossr.rewards import get_reward_funcs\n"
        "ctx = handlers.Context(handlers.Settings(tmp_root=tempfile.mkdtemp(), keep=2, timeout_s=30))\n"
        "demo = ui.build_demo(ctx)\n"
        "labels = [c.get('props', {}).get('label') for c in demo.config['components']]\n"
        "tasks = [c['props']['choices'] for c in demo.config['components']\n"
        "         if c.get('props', {}).get('label') == 'Task'][0]\n"
        "demo.close(); ctx.close()\n"
        "reward = get_reward_funcs(['toy', 'toy_short'])\n"
        "print(json.dumps({'labels': labels, 'tasks': tasks,\n"
        "                  'rewards': [reward[0](['first'], answer=['first'], task=['darker_half']),\n"
        "                              reward[1](['first', 'a long reply'])]}))\n"
    )
    seen = json.loads(_run([sys.executable, "-c", script], plugin_env).strip().splitlines()[-1])
    assert "Half" in seen["labels"]
    assert ["Darker half", "darker_half"] in seen["tasks"]
    assert seen["rewards"] == [[1.0], [1.0, 0.0]]
