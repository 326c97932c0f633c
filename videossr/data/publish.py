"""Publishing a built dataset repo folder to the Hugging Face Hub.

The upload is deliberately thin: the folder already is the repo (Parquet shards, ``README.md``,
``build_report.json``, ``preview.jpg``); we check it is complete, create the dataset repo, and upload
exactly those files with ``HfApi.upload_folder`` (which skips files already on the Hub, so a re-run after
an interrupted upload only sends what is missing).
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any

from videossr.data.plan import BuildError
from videossr.data.report import PREVIEW_FILE, REPORT_FILE, WORK_DIR, stored_files, total_rows

#: What may be uploaded from a repo folder; anything else (work files, editor droppings) stays local.
ALLOW_PATTERNS = ["README.md", REPORT_FILE, PREVIEW_FILE, "data/**/*.parquet"]
IGNORE_PATTERNS = [f"{WORK_DIR}/**", ".*", "**/.*", "*.tmp", "**/*.tmp"]


def check_repo_folder(folder: str | os.PathLike) -> list[str]:
    """The files of a finished repo folder that will be uploaded (relative POSIX paths, sorted).

    Raises:
        BuildError: the folder is not a finished build (no card, no report, unfinished work files,
            or a data file listed in the report is missing).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    if (folder / WORK_DIR).exists():
        raise BuildError(f"{folder} holds an unfinished build ({WORK_DIR}/): finish it before publishing")
    for name in ("README.md", REPORT_FILE):
        if not (folder / name).is_file():
            raise BuildError(f"{folder} has no {name}: is it a folder made by `videossr build`?")
    report = json.loads((folder / REPORT_FILE).read_text())
    listed = stored_files(report)
    missing = [f for f in listed if not (folder / f).is_file()]
    if missing:
        raise BuildError(
            f"{len(missing)} data files listed in {REPORT_FILE} are missing (first: {missing[0]})"
        )
    extra = sorted(p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*.parquet"))
    if sorted(listed) != extra:
        raise BuildError(
            f"data/ holds Parquet files that {REPORT_FILE} does not list: {sorted(set(extra) - set(listed))}"
        )
    for name, config in report["configs"].items():
        # What the Hub will read for a config is what its data_files globs match: it must be exactly the
        # files the report gives it, so no config silently reads another's rows or misses its own.
        patterns = config.get("data_files") or []
        matched = sorted(f for f in listed if any(fnmatch.fnmatchcase(f, p) for p in patterns))
        if patterns and matched != sorted(config["files"]):
            raise BuildError(
                f"config {name!r}: its data_files {patterns} do not match its files in {REPORT_FILE}"
            )
    files = ["README.md", REPORT_FILE, *sorted(listed)]
    if (folder / PREVIEW_FILE).is_file():
        files.insert(2, PREVIEW_FILE)
    return files


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    api: Any = None,
) -> dict[str, Any]:
    """Create the dataset repo ``repo_id`` (if needed) and upload a finished repo folder to it.

    Args:
        folder: a folder made by ``videossr build`` (or :func:`videossr.data.build_dataset`).
        repo_id: ``"org/name"``.
        private: create the repo private (an existing repo keeps its visibility).
        token: a Hub token; default: the locally saved one / ``HF_TOKEN``.
        revision: branch to upload to.
        commit_message: default: names the dataset and generator version.
        api: an ``huggingface_hub.HfApi`` (tests pass a fake).

    Returns:
        ``{"repo_url", "commit", "files"}``.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"--repo-id must look like ORG/NAME, got {repo_id!r}")
    folder = Path(folder)
    files = check_repo_folder(folder)
    report = json.loads((folder / REPORT_FILE).read_text())
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    rows = total_rows(report)
    message = (
        commit_message or f"Upload {report['dataset']} ({rows} rows, videossr {report['generator_version']})"
    )
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="dataset",
        revision=revision,
        commit_message=message,
        allow_patterns=list(ALLOW_PATTERNS),
        ignore_patterns=list(IGNORE_PATTERNS),
        # Shards of an earlier, different build must not linger next to the new ones.
        delete_patterns=["data/**/*.parquet"],
    )
    return {"repo_url": str(url), "commit": str(getattr(commit, "oid", commit)), "files": files}
