"""The output folder of a build: its lock (one build writes a folder at a time), its progress manifest
(a killed build resumes, a build with other options is refused), and whether it already holds this build."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from videossr.data.jobs import atomic_write_text
from videossr.data.plan import BuildError, Recipe
from videossr.data.report import PREVIEW_FILE, REPORT_FILE, WORK_DIR, stored_files


def prepare_out(out: Path, recipe: Recipe, overwrite: bool) -> Path:
    """Check (or create) the output folder and its progress manifest; returns the work folder."""
    work = out / WORK_DIR
    manifest = work / "manifest.json"
    want = {"format": 1, "recipe": recipe.to_dict()}
    if out.exists() and overwrite:
        for name in ("data", WORK_DIR):
            if (out / name).exists():
                shutil.rmtree(out / name)
        for name in ("README.md", REPORT_FILE, PREVIEW_FILE, "part.json"):
            (out / name).unlink(missing_ok=True)
    if out.exists() and any(out.iterdir()):
        if manifest.exists():
            have = json.loads(manifest.read_text())
            if have != want:
                raise BuildError(
                    f"{out} holds an unfinished build with other options; re-run with the same options "
                    "to resume, or pass --overwrite"
                )
        elif (out / REPORT_FILE).exists():
            if "files" not in json.loads((out / REPORT_FILE).read_text()):
                raise BuildError(
                    f"{out} holds a build in the older layout (rows stored once per config); "
                    "pass --overwrite to rebuild it"
                )
            raise BuildError(
                f"{out} holds a finished build made with other options; choose another --out or "
                "pass --overwrite"
            )
        else:
            raise BuildError(
                f"{out} is not empty and holds no resumable build; choose another --out or pass --overwrite"
            )
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps(want, sort_keys=True))
    return work


#: Descriptors of the output folders this process holds locked (closed in forked children, see below).
_HELD_LOCKS: set[int] = set()


def _drop_locks_in_child() -> None:
    # A forked child (an isolated decoder) shares the parent's lock; closing its copy keeps the lock the
    # parent's alone, so a child left behind by a killed build never blocks the re-run.
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_locks_in_child)


def _lock_holder(folder: Path) -> str:
    """Who holds the lock on ``folder``: ``pid N (command line)`` from ``/proc/locks``, where Linux lists
    it; ``another process`` elsewhere."""
    try:
        inode = folder.stat().st_ino
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
                pid = int(fields[4])
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    cmd = " ".join(os.fsdecode(a) for a in raw.split(b"\0") if a)
                except OSError:
                    cmd = ""
                cmd = (cmd[:117] + "...") if len(cmd) > 120 else cmd
                return f"pid {pid}" + (f": {cmd!r}" if cmd else "")
    except (OSError, ValueError):
        pass
    return "another process"


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder while a build writes it (created if missing).

    Two builds into one ``--out`` would overwrite each other's job files and remove each other's work
    folder; the second one is refused at once instead, naming the folder and the process holding it. The
    lock is the folder's own (``flock`` on the directory), so it adds no file to the repo folder, and the
    kernel releases it when the holder dies (``kill -9`` included), so a re-run resumes at once. On a
    file system without ``flock`` the build runs unlocked, as before.

    Raises:
        BuildError: another process holds the lock.
    """
    import fcntl

    created = not os.path.lexists(out)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(
                f"{out} is being written by another build ({_lock_holder(out)}); wait for it to finish "
                "or stop it, or choose another --out"
            ) from None
        except OSError:  # no flock here (some network file systems): unlocked, as before
            pass
        _HELD_LOCKS.add(fd)
        try:
            yield
        except BaseException:
            # A build that failed before writing anything (a refused Ray address...) leaves no empty
            # folder it made itself.
            if created:
                with contextlib.suppress(OSError):
                    out.rmdir()  # only succeeds when empty
            raise
    finally:
        _HELD_LOCKS.discard(fd)
        os.close(fd)


def already_built(out: Path, recipe: Recipe) -> dict | None:
    report = out / REPORT_FILE
    if not report.exists() or (out / WORK_DIR).exists():
        return None
    data = json.loads(report.read_text())
    if data.get("recipe") != recipe.to_dict() | {"shard_index": 0}:
        return None
    # "files" marks the stored-once layout: a folder of the older layout is rebuilt, not reused.
    if "files" in data and all((out / f).exists() for f in stored_files(data)):
        return data
    return None
