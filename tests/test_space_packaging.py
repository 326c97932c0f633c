"""The Space deploys unchanged: README front matter, requirements, apt packages, optional ZeroGPU."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

SPACE = Path(__file__).resolve().parents[1] / "space"


def front_matter() -> dict[str, str]:
    text = (SPACE / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "a Space README starts with a YAML block"
    block = text.split("---\n", 2)[1]
    out = {}
    for line in block.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip().strip('"')
    return out


def test_readme_header_describes_a_gradio_space():
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert (SPACE / meta["app_file"]).is_file()
    gradio = pytest.importorskip("gradio")
    # The Space runs the gradio version the app is developed and tested with.
    assert meta["sdk_version"].split(".")[0] == gradio.__version__.split(".")[0]
    assert "python_version" in meta and "short_description" in meta


def test_requirements_and_apt_packages():
    reqs = [
        line.split("#")[0].strip()
        for line in (SPACE / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert any(r.startswith("videossr[space]") for r in reqs)
    assert "ffmpeg" in (SPACE / "packages.txt").read_text().split()
    # The `space` extra of the package carries gradio itself.
    pyproject = (SPACE.parent / "pyproject.toml").read_text()
    assert 'space = ["videossr[eval]", "gradio' in pyproject


def test_gpu_decorator_only_when_spaces_is_importable(monkeypatch):
    sys.path.insert(0, str(SPACE))
    import backends

    assert "spaces" not in sys.modules or not hasattr(sys.modules["spaces"], "GPU")
    assert backends._predict_local.__name__ == "_predict_local"  # plain function off ZeroGPU
    calls = []

    def gpu(**kwargs):
        def wrap(fn):
            calls.append((fn.__name__, kwargs))
            return fn

        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    importlib.reload(backends)
    try:
        assert calls == [("_predict_local", {"duration": 120})]
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(backends)


def test_app_module_imports_from_any_working_directory(tmp_path):
    """`python space/app.py` works from the repository root, and importing app.py from elsewhere works too."""
    code = f"import runpy; m = runpy.run_path({str(SPACE / 'app.py')!r}); print(callable(m['build_demo']))"
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"GRADIO_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("True")
