"""A build's writes (``videossr.data.jobs``): atomic, and a full disk names the file."""

from __future__ import annotations

from pathlib import Path

import pytest


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 13 (smaller points)
# --------------------------------------------------------------------------------------------------
def test_disk_full_names_the_file(tmp_path, monkeypatch, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from videossr.cli import _one_line
    from videossr.data import jobs

    real_write_text = Path.write_text

    def full_disk(self, *args, **kwargs):
        real_write_text(self, "half")
        raise OSError(28, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr(Path, "write_text", full_disk)
    target = tmp_path / "manifest.json"
    with pytest.raises(OSError) as info:
        jobs.atomic_write_text(target, "{}")
    assert _one_line(info.value) == f"{target}: no space left on device"
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind

    def full_disk_parquet(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk_parquet)
    shard = tmp_path / "train-00000.parquet"
    with pytest.raises(OSError) as info:
        with jobs.writing(shard, tmp_path / ".shard.tmp"):
            pq.write_table(pa.table({"a": [1]}), tmp_path / ".shard.tmp")
    assert _one_line(info.value) == f"{shard}: no space left on device"
    assert list(tmp_path.iterdir()) == []
