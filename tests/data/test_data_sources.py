"""Where a build's videos and exclusions come from (``videossr.data.sources``): read with limits."""

from __future__ import annotations

import os
import threading

import pytest


# --------------------------------------------------------------------------------------------------
# Issue 19 (Reliability II), item 7:
# --exclude reads with the same limits as --videos
# --------------------------------------------------------------------------------------------------
def test_exclude_refuses_a_fifo_without_hanging(tmp_path):
    from videossr.data.sources import load_exclusions

    fifo = tmp_path / "ids.txt"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            load_exclusions([str(fifo)])
            result.append(None)
        except BaseException as err:  # noqa: BLE001
            result.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the stuck open() so the thread can end
        with open(fifo, "w"):
            pass
        pytest.fail("--exclude blocked on a named pipe")
    assert isinstance(result[0], ValueError) and "named pipe" in str(result[0])


def test_exclude_refuses_devices_and_huge_files(tmp_path):
    from videossr.data import sources

    with pytest.raises(ValueError, match="device"):
        sources.load_exclusions(["/dev/zero"])
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(sources.MAX_EXCLUDE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ValueError, match="larger than"):
        sources.load_exclusions([str(big)])
