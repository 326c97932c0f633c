"""Publishing a repo folder and the data CLI, checked offline: we record what would be sent to the Hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _data_helpers import have_ffmpeg, make_folder

from videossr.data import BuildError
from videossr.data.publish import check_repo_folder, publish

pytestmark = pytest.mark.skipif(not have_ffmpeg(), reason="needs the ffmpeg binary to make test videos")


class FakeHfApi:
    """Records the calls ``publish`` makes instead of talking to the Hub."""

    def __init__(self, *args, **kwargs):
        self.init = kwargs
        self.calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", args, kwargs))
        return f"https://huggingface.co/datasets/{args[0]}"

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", (), kwargs))

        class Commit:
            oid = "0" * 40

        return Commit()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    from videossr.data.build import build_dataset, videossr30k_recipe

    videos = make_folder(tmp_path_factory.mktemp("pub_videos"), 3)
    out = tmp_path_factory.mktemp("pub") / "repo"
    build_dataset(videossr30k_recipe(size=6, max_pixels=128 * 128), videos, out, progress=False)
    return out


def _sent_files(folder: Path, upload: dict) -> list[str]:
    """The files upload_folder would send, applying its allow/ignore patterns the library's way."""
    from huggingface_hub.utils import filter_repo_objects

    local = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(
        filter_repo_objects(
            local, allow_patterns=upload["allow_patterns"], ignore_patterns=upload["ignore_patterns"]
        )
    )


def test_publish_sends_exactly_the_repo_files(repo, tmp_path):
    folder = tmp_path / "repo"
    shutil.copytree(repo, folder)
    # local clutter that must never be uploaded
    (folder / ".DS_Store").write_text("x")
    (folder / "data" / "jigsaw" / ".train-00000.parquet.tmp").write_text("x")
    (folder / "notes.txt").write_text("mine")
    api = FakeHfApi()
    result = publish(folder, "videossr/VideoSSR-30K", private=True, api=api)
    (name, args, kwargs), (name2, _, upload) = api.calls
    assert name == "create_repo" and args == ("videossr/VideoSSR-30K",)
    assert kwargs == {"repo_type": "dataset", "private": True, "exist_ok": True}
    assert name2 == "upload_folder"
    assert upload["repo_id"] == "videossr/VideoSSR-30K" and upload["repo_type"] == "dataset"
    assert Path(upload["folder_path"]) == folder
    assert upload["delete_patterns"] == ["data/**/*.parquet"]
    expected = sorted(
        [
            "README.md",
            "build_report.json",
            "preview.jpg",
            "data/grounding/train-00000-of-00001.parquet",
            "data/jigsaw/train-00000-of-00001.parquet",
            "data/counting/train-00000-of-00001.parquet",
        ]
    )
    assert _sent_files(folder, upload) == expected
    assert sorted(result["files"]) == expected
    assert "(6 rows" in upload["commit_message"]


def test_publish_refuses_unfinished_or_foreign_folders(repo, tmp_path):
    api = FakeHfApi()
    with pytest.raises(ValueError, match="ORG/NAME"):
        publish(repo, "no-slash", api=api)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(repo, unfinished)
    (unfinished / ".build").mkdir()
    with pytest.raises(BuildError, match="unfinished"):
        publish(unfinished, "a/b", api=api)
    missing = tmp_path / "missing"
    shutil.copytree(repo, missing)
    next((missing / "data" / "jigsaw").glob("*.parquet")).unlink()
    with pytest.raises(BuildError, match="missing"):
        check_repo_folder(missing)
    stray = tmp_path / "stray"
    shutil.copytree(repo, stray)
    shutil.copy(
        next((stray / "data" / "jigsaw").glob("*.parquet")), stray / "data" / "jigsaw" / "train-old.parquet"
    )
    with pytest.raises(BuildError, match="does not list"):
        check_repo_folder(stray)
    crossed = tmp_path / "crossed"
    shutil.copytree(repo, crossed)
    report = json.loads((crossed / "build_report.json").read_text())
    report["configs"]["jigsaw"]["data_files"] = ["data/*/train-*.parquet"]  # would read every task's rows
    (crossed / "build_report.json").write_text(json.dumps(report))
    with pytest.raises(BuildError, match="'jigsaw': its data_files"):
        check_repo_folder(crossed)
    (tmp_path / "plain").mkdir()
    with pytest.raises(BuildError, match="README.md"):
        check_repo_folder(tmp_path / "plain")
    assert api.calls == []  # nothing was sent for any of them


def test_publish_cli_uses_hfapi(repo, monkeypatch, capsys):
    import huggingface_hub

    from videossr.cli import main

    made: list[FakeHfApi] = []

    def factory(*args, **kwargs):
        made.append(FakeHfApi(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(huggingface_hub, "HfApi", factory)
    assert main(["publish", str(repo), "--repo-id", "org/name", "--private", "--token", "hf_fake"]) == 0
    assert made[0].init == {"token": "hf_fake"}
    assert [c[0] for c in made[0].calls] == ["create_repo", "upload_folder"]
    assert made[0].calls[0][2]["private"] is True
    out = json.loads(capsys.readouterr().out)
    assert out["commit"] == "0" * 40
    assert main(["publish", str(repo), "--repo-id", "org/name", "--dry-run"]) == 0
    assert len(made) == 1  # the dry run built no client


def test_cli_build_commands(tmp_path, capsys):
    from videossr.cli import main

    videos = make_folder(tmp_path / "v", 3)
    assert (
        main(
            [
                "build",
                "videossr-30k",
                "--videos",
                str(videos),
                "--out",
                str(tmp_path / "t"),
                "--size",
                "3",
                "--mix",
                "jigsaw_hard=1,grounding_shuffle=2",
                "--no-task-configs",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["configs"] == {"default": 3} and summary["rows"] == 3
    for i in range(2):
        assert (
            main(
                [
                    "build",
                    "viubench",
                    "--videos",
                    str(videos),
                    "--out",
                    str(tmp_path / f"p{i}"),
                    "--per-subtype",
                    "1",
                    "--num-shards",
                    "2",
                    "--shard-index",
                    str(i),
                    "--quiet",
                ]
            )
            == 0
        )
        assert "merge" in json.loads(capsys.readouterr().out)["next"]
    assert (
        main(
            [
                "build",
                "merge",
                str(tmp_path / "p0"),
                str(tmp_path / "p1"),
                "--out",
                str(tmp_path / "m"),
                "--quiet",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["rows"] == 9
    assert main(["build", "viubench", "--videos", str(videos), "--out", str(tmp_path / "t"), "--quiet"]) == 1
    assert "other options" in capsys.readouterr().err


def test_dataset_info_counts_each_row_once(repo, tmp_path):
    from videossr.data.summary import summarize

    info = summarize(repo, cache_dir=str(tmp_path / "cache"))
    files = sorted((repo / "data").rglob("*.parquet"))
    assert info["rows"] == 6 and info["data_files"] == len(files) == 3
    assert info["data_bytes"] == sum(f.stat().st_size for f in files)
    assert info["configs"]["default"]["rows"] == 6
    assert sum(info["configs"][t]["rows"] for t in ("grounding", "jigsaw", "counting")) == 6
