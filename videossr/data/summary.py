"""Load built dataset repo folders back with ``datasets.load_dataset`` and print what they hold.

``videossr dataset-info REPO_DIR...`` (also ``python -m videossr.data.summary REPO_DIR...``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from videossr.data.report import REPORT_FILE, stored_files, total_rows
from videossr.rows import row_to_sample


def summarize(folder: str | Path, cache_dir: str | None = None) -> dict[str, Any]:
    """Every config of a repo folder loaded with ``load_dataset``: rows, columns, frame size, one example."""
    from datasets import get_dataset_config_names, load_dataset

    folder = Path(folder)
    out: dict[str, Any] = {"folder": str(folder)}
    report_file = folder / REPORT_FILE
    if report_file.is_file():
        # What is on disk, each data file once (configs are views over the same files).
        report = json.loads(report_file.read_text())
        files = stored_files(report)
        out["rows"] = total_rows(report)
        out["data_files"] = len(files)
        out["data_bytes"] = sum((folder / f).stat().st_size for f in files if (folder / f).is_file())
    out["configs"] = {}
    for config in get_dataset_config_names(str(folder)):
        dsd = load_dataset(str(folder), config, cache_dir=cache_dir)
        for split, ds in dsd.items():
            sample = row_to_sample(ds[0])
            out["configs"][config] = {
                "split": split,
                "rows": ds.num_rows,
                "subtypes": dict(sorted(_count(ds["subtype"]).items())),
                "clips x frames x HxW": f"{len(sample.videos)} x {sample.videos[0].shape[0]} x "
                f"{sample.videos[0].shape[1]}x{sample.videos[0].shape[2]}",
                "example answer": sample.answer,
            }
    return out


def _count(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    folders = sys.argv[1:] if argv is None else argv
    if not folders:
        print("usage: python -m videossr.data.summary REPO_DIR...", file=sys.stderr)
        return 2
    for folder in folders:
        print(json.dumps(summarize(folder), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
