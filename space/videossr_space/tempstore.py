"""Per-request working folders for the Space, with bounded disk use.

Every generated sample gets its own folder (its playable clips, its frames for the model, its metadata)
named by a random id. The store keeps the ``keep`` most recent finished folders and deletes older ones,
so a long-running Space never fills its disk, while a person who is still looking at a sample (or a
script that calls ``/answer`` a little later) still finds it. Folders that are being written are never
pruned, and a request that fails removes its own folder, so nothing half-written is left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Sample ids are 32 lowercase hex digits (a uuid4); anything else is refused before touching the disk.
_ID = re.compile(r"^[0-9a-f]{32}$")
_DONE = ".done"  # marker written last: a folder without it is still being filled (or was abandoned)


class UnknownSample(KeyError):
    """The id does not name a sample this store still holds."""


class TempStore:
    """A folder of per-sample folders, pruned to the newest ``keep`` finished ones.

    Args:
        root: where the folders live; a fresh folder under the system temp dir when ``None`` (gradio only
            serves returned files from the working directory, the temp dir or ``allowed_paths``).
        keep: how many finished samples to keep on disk.
    """

    def __init__(self, root: str | os.PathLike | None = None, keep: int = 64):
        if keep < 1:
            raise ValueError("keep must be at least 1")
        if root is None:
            root = tempfile.mkdtemp(prefix="videossr-space-")
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = int(keep)
        self._lock = threading.Lock()
        self._active: set[str] = set()

    # -- writing ----------------------------------------------------------------------------------
    @contextmanager
    def new(self) -> Iterator[tuple[str, Path]]:
        """A fresh ``(sample_id, folder)``; the folder is removed if the block raises.

        On success the folder is marked finished and older folders beyond ``keep`` are pruned.
        """
        sample_id = uuid.uuid4().hex
        folder = self.root / sample_id
        with self._lock:
            self._active.add(sample_id)
        folder.mkdir()
        try:
            yield sample_id, folder
            (folder / _DONE).write_text(f"{time.time():.6f}\n")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            with self._lock:
                self._active.discard(sample_id)
        self.prune()

    def discard(self, sample_id: str) -> None:
        """Remove one sample's folder (used when its request was abandoned after a timeout)."""
        if _ID.match(sample_id or ""):
            shutil.rmtree(self.root / sample_id, ignore_errors=True)

    # -- reading ----------------------------------------------------------------------------------
    def path(self, sample_id: str) -> Path:
        """The folder of a finished sample; :class:`UnknownSample` for a malformed, old or unknown id."""
        if not isinstance(sample_id, str) or not _ID.match(sample_id.strip()):
            raise UnknownSample(sample_id)
        folder = self.root / sample_id.strip()
        if not (folder / _DONE).is_file():
            raise UnknownSample(sample_id)
        return folder

    def finished(self) -> list[Path]:
        """Finished folders, oldest first."""
        items = []
        for folder in self.root.iterdir():
            marker = folder / _DONE
            if folder.is_dir() and _ID.match(folder.name) and marker.is_file():
                try:
                    items.append((marker.stat().st_mtime, folder.name, folder))
                except FileNotFoundError:  # pruned by another thread meanwhile
                    continue
        return [folder for _, _, folder in sorted(items)]

    # -- cleaning ---------------------------------------------------------------------------------
    def prune(self, stale_after: float = 3600.0) -> int:
        """Delete finished folders beyond the newest ``keep``, and abandoned unfinished ones.

        An unfinished folder that is not being written by a live request and is older than
        ``stale_after`` seconds is debris from a crash; it is removed too. Returns how many were removed.
        """
        removed = 0
        with self._lock:
            active = set(self._active)
            finished = self.finished()
            for folder in finished[: max(0, len(finished) - self.keep)]:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
            now = time.time()
            for folder in self.root.iterdir():
                # Only folders this store names (32 hex digits) are ever touched, so pointing the store at
                # a shared folder by mistake cannot delete anything else.
                if not _ID.match(folder.name) or folder.name in active or (folder / _DONE).exists():
                    continue
                try:
                    age = now - folder.stat().st_mtime
                except FileNotFoundError:
                    continue
                if age > stale_after:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        return removed

    def clear(self) -> None:
        """Remove every sample folder (at shutdown), then the store folder itself if nothing else is in it."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if _ID.match(folder.name):
                shutil.rmtree(folder, ignore_errors=True)
        try:
            self.root.rmdir()
        except OSError:  # not empty: someone else's files share the folder; leave them alone
            pass
