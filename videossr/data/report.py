"""Names and readers of a built repo folder's build report (``build_report.json``): where the build keeps
its work, the report and preview file names, the config that reads every row, and the report's files and
row count. A leaf: the assembly, the card, publishing and the summary all read these.
"""

from __future__ import annotations

from typing import Any

WORK_DIR = ".build"
REPORT_FILE = "build_report.json"
PREVIEW_FILE = "preview.jpg"
#: The config that reads every row (``load_dataset(REPO_DIR)`` without a config name).
DEFAULT_CONFIG = "default"


def stored_files(report: dict[str, Any]) -> list[str]:
    """Every data file of a built repo folder, once (configs share files), in a fixed order."""
    if "files" in report:
        return list(report["files"])
    # A report written before the stored-once layout: the configs' lists, deduplicated.
    return list(dict.fromkeys(f for c in report["configs"].values() for f in c["files"]))


def total_rows(report: dict[str, Any]) -> int:
    """Rows of a built repo folder, each counted once (the ``default`` config reads every row)."""
    configs = report["configs"]
    if DEFAULT_CONFIG in configs:
        return int(configs[DEFAULT_CONFIG]["rows"])
    return sum(int(c["rows"]) for c in configs.values())
