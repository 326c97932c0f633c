"""The isolated loader: :func:`~videossr.video.decode.load_clip` in a forked child that can be killed,
and the fork hook that keeps forked children off the parent's decoders."""

from __future__ import annotations

import os
from pathlib import Path

from videossr.errors import VideoError
from videossr.types import Clip
from videossr.video.files import _check_file, _live


def _freeze_inherited_objects() -> None:
    """In a forked child, never garbage-collect what the parent left behind.

    A decord ``VideoReader`` caught in a reference cycle in the parent (an exception's traceback is
    enough) is still garbage when a DataLoader worker or an isolated loader forks. If the child's
    collector then runs the reader's ``__del__``, decord's native state, which belongs to the parent,
    crashes the child (SIGSEGV/SIGABRT, seen as "DataLoader worker exited unexpectedly"). Freezing moves
    every inherited object out of the collector's reach; the child's own objects are collected as usual.
    """
    import gc

    gc.freeze()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_freeze_inherited_objects)


def _isolated_worker(conn, parent_end, args: tuple, kwargs: dict) -> None:
    # The fork inherited the parent's read end; holding it would keep a killed parent's pipe open and
    # leave this child blocked forever in send().
    parent_end.close()
    try:
        conn.send(("ok", _live("load_clip")(*args, **kwargs)))
    except VideoError as err:
        conn.send(("video_error", (err.path, err.reason, err.detail)))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which raises it as a VideoError
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def load_clip_isolated(path: str | os.PathLike, timeout: float = 120.0, **kwargs) -> Clip:
    """:func:`load_clip` in a forked child process, so a decoder that hangs or crashes costs one
    video, never the calling process, and is killed once ``timeout`` seconds have passed. Raises
    ``VideoError`` with reason ``timeout`` (also at once for a ``timeout`` of 0 or less) or ``crashed``.

    Use it for unvetted inputs (dataset builds over large crawled folders, uploads) and wherever
    decoding must be stoppable (the Space kills the decoder of a request that was given up); it adds
    the cost of a fork and of sending the frames back (a few ms for a 48-frame training clip). In a
    multi-threaded caller a forked child could, rarely, inherit a lock another thread held; it then
    hangs until the timeout kills it, which costs that one video.
    """
    import multiprocessing as mp

    _check_file(Path(path))  # a missing file, a FIFO or a device is refused here, without a fork
    if timeout <= 0:
        raise VideoError(path, "timeout", "no time left to decode")
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_isolated_worker, args=(child, parent, (path,), kwargs), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise VideoError(path, "timeout", f"decoding took more than {timeout:.0f}s")
        try:
            status, payload = parent.recv()
        except EOFError as err:
            proc.join(5)
            raise VideoError(
                path, "crashed", f"the decoder process died (exit code {proc.exitcode})"
            ) from err
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status == "ok":
        return payload
    if status == "video_error":
        raise VideoError(*payload)
    raise VideoError(path, "undecodable", str(payload)[:200])
