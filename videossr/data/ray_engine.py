"""Run a build's per-video work as tasks on a Ray cluster (``videossr build ... --engine ray``).

Only *where* jobs run changes. The plan (waves, jobs, seeds), the per-job work
(:func:`videossr.data.jobs.run_job`) and the assembly of the repo folder are the local build's, so
the folder is byte-identical to a local build with the same options, whatever the cluster.

- **One Ray task per job** (a few videos and every question they serve in a wave). The task decodes
  and generates on a worker and returns the job's Parquet file as bytes with its completion marker;
  the driver writes both into ``REPO_DIR/.build/jobs/`` exactly as a local worker would. Workers need
  no shared file system with the driver: only the videos must be reachable from them, through a URL
  (``s3://...``, copied to the worker's local disk per job, :mod:`videossr.data.remote`) or a path
  that is mounted on every node.
- **Faults.** A worker that dies (killed, out of memory, node lost) has its task retried by Ray on
  another worker (``max_retries``); a job's result only counts once the driver has written it, so a
  retried job is never counted twice. A driver that dies leaves the finished jobs on disk: re-running
  the same command resumes, as a local build does.
- **Flow control.** At most a few tasks per CPU of the cluster are in flight: results are collected as
  they finish (the object store holds only those few jobs' rows), and the driver never waits on a list
  of millions of futures.

Why Ray tasks and not Ray Data or datatrove: see "Builds on a Ray cluster" in ``docs/datasets.md``
(measured: Ray Data runs the same jobs at the same speed, but its executor and writers add nothing the
shared plan and assembly do not already do; datatrove's static split over input files does not fit
the build's waves, and its Ray extra adds about 30 packages).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.data.jobs import Job, atomic_write_bytes, atomic_write_text
from videossr.errors import VideoSSRError

#: Object store of a local cluster started by the build: a job's rows are a few MB and only a few jobs
#: are in flight, so a small store is plenty and leaves memory to the decoders.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024
#: Tasks in flight per cluster CPU: enough to keep every worker busy while the driver writes results.
IN_FLIGHT_PER_CPU = 2


#: Seconds allowed to reach a cluster's address before the build gives up.
CONNECT_TIMEOUT_S = 10.0


class RayConnectError(VideoSSRError, ConnectionError):
    """The Ray cluster named by ``--address`` cannot be reached."""


class RayStartError(VideoSSRError, RuntimeError):
    """A local Ray cluster could not be started (e.g. "The current node timed out during startup" on a
    loaded machine). Whatever the failed start had launched is stopped before it is raised."""


#: Seconds Ray's processes get to end after SIGTERM before they are killed (a loaded machine's
#: ``ray::RuntimeEnvAgent`` outlived its raylet by more than 30 s).
REAP_GRACE_S = 2.0


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(err).__name__)


@contextlib.contextmanager
def _suppressed() -> Iterator[None]:
    try:
        yield
    except Exception:  # noqa: BLE001 - cleaning up after a failed connect; the connect error is reported
        pass


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """``(parent pid, start time)`` of a process from ``/proc/PID/stat``; ``None`` when it is gone (or a
    zombie: it runs nothing any more)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[19])


def _ray_processes() -> dict[int, int]:
    """Ray's processes descended from this one (gcs_server, raylet, its agents and workers, the reaper):
    ``{pid: start time}``. Linux only (``/proc``); empty elsewhere.

    A process counts when its title starts with ``ray::`` or a word of its command line lies in the
    installed ``ray`` package (``.../ray/core/src/ray/raylet/raylet``, ``python .../ray/dashboard/agent.py``).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    import ray

    ray_dir = os.path.dirname(ray.__file__) + os.sep
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (st := _proc_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            args = (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args[0].startswith("ray::") or any(a.startswith(ray_dir) for a in args):
            found[pid] = stats[pid][1]
    return found


def _alive(procs: dict[int, int]) -> dict[int, int]:
    """The processes of ``procs`` still running (same pid and start time: a reused pid is not ours)."""
    return {pid: t for pid, t in procs.items() if (st := _proc_stat(pid)) is not None and st[1] == t}


def _reap(procs: dict[int, int], grace: float = REAP_GRACE_S) -> None:
    """End ``procs`` (from :func:`_ray_processes`): SIGTERM, then SIGKILL what is left after ``grace``
    seconds. ``ray.shutdown`` stops the node's own processes, but the raylet's agents (and everything
    of a node whose start failed, which Ray no longer tracks) were left to notice it alone."""

    def send(sig: int) -> None:
        for pid in _alive(procs):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    if not _alive(procs):
        return
    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    send(signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.02)


def _signal_in(err: BaseException) -> BaseException | None:
    """The ``Terminated`` / ``KeyboardInterrupt`` / ``SystemExit`` that ``err`` stands for, if any.

    A Python signal handler that raises while Ray's C++ core waits (``ray.wait``, ``ray.get``) does not
    get through as itself: Cython reports ``SystemError: ... returned a result with an exception set``
    with the handler's exception as its cause (only ``KeyboardInterrupt`` is turned back into itself).
    """
    seen = 0
    while err is not None and seen < 8:
        if not isinstance(err, Exception):
            return err
        if not isinstance(err, SystemError):
            return None
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def _restore_sigterm(handler: Any) -> None:
    """Install ``handler`` for SIGTERM again, in the kernel too: ``ray.init`` sets its own (``sys.exit``),
    and Ray's C++ core installs a stack-dumping handler and, at ``ray.shutdown``, resets SIGTERM to the
    default action (the process then dies at once) while Python still reports its own handler."""
    if handler is not None and _main_thread():
        signal.signal(signal.SIGTERM, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse at once an ``address`` nothing answers at, before Ray retries it for minutes.

    ``auto`` and ``local`` are left to Ray (they name a cluster on this machine, which Ray finds or
    refuses quickly). ``HOST:PORT`` and ``ray://HOST:PORT`` must parse and accept a TCP connection
    within ``timeout`` seconds.

    Raises:
        RayConnectError: a malformed address, or nothing listening there.
    """
    import socket

    if address in ("auto", "local"):
        return
    rest = address[len("ray://") :] if address.startswith("ray://") else address
    if "://" in rest:
        raise RayConnectError(f"--address {address}: use HOST:PORT, ray://HOST:PORT or auto")
    host, sep, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if (
        not sep
        or not host
        or not port_text.isascii()
        or not port_text.isdigit()
        or not 0 < int(port_text) < 65536
    ):
        raise RayConnectError(f"--address {address}: use HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout):
            pass
    except OSError as err:
        why = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__).lower()
        raise RayConnectError(f"cannot reach the Ray cluster at {address}: {why}") from None


def build_job_on_worker(
    job: Job, recipe: dict[str, Any], decode_timeout: float | None, schema: Any
) -> tuple[dict[str, Any], bytes | None]:
    """The body of one Ray task: make a job's rows on this worker and return them.

    Runs :func:`videossr.data.remote.run_job_fetching` into a private temporary folder and returns its
    marker and the bytes of its Parquet file (``None`` when the job made no row), for the driver to
    write. Nothing is written where another task or the driver could see it half done.
    """
    import tempfile

    import cv2

    from videossr.data.remote import run_job_fetching

    # One task per CPU: OpenCV's own thread pool would only oversubscribe the worker's core.
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="videossr-job-") as tmp:
        marker = run_job_fetching(job, recipe, tmp, decode_timeout, schema)
        parquet = Path(tmp) / f"{job.name}.parquet"
        data = parquet.read_bytes() if marker["rows"] else None
    return marker, data


@dataclass
class RayEngine:
    """Runs a build's jobs on Ray; pass it as ``engine=`` to :func:`videossr.data.build_dataset`.

    Args:
        address: a running cluster (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); ``None``
            joins the cluster this process is already connected to, or starts a local one.
        num_cpus: CPUs (so: concurrent workers) of a local cluster started here; ignored otherwise.
        max_retries: how often Ray re-runs a job whose worker died.
        object_store_memory: object store of a local cluster started here, in bytes.

    Example:
        >>> from videossr.data import build_dataset, videossr30k_recipe
        >>> build_dataset(videossr30k_recipe(size=1000), "s3://bucket/videos", "out/set",
        ...               engine=RayEngine(address="auto"))  # doctest: +SKIP
    """

    address: str | None = None
    num_cpus: int | None = None
    max_retries: int = 3
    object_store_memory: int = LOCAL_OBJECT_STORE_BYTES
    _started: bool = field(default=False, init=False, repr=False)
    _remote: Any = field(default=None, init=False, repr=False)
    _launched: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    def start(self) -> None:
        """Connect to the cluster (or start a local one); a no-op when already connected.

        Raises:
            RayConnectError: the cluster at ``address`` cannot be reached or refused the connection; one
                line, within :data:`CONNECT_TIMEOUT_S` (Ray itself kept retrying a refused address for
                minutes).
            RayStartError: a local cluster did not start; what it had launched is stopped first.
        """
        if self.address:
            check_reachable(self.address)  # before importing Ray, which alone can take seconds
        import ray

        # ray.init replaces the SIGTERM handler with its own (sys.exit, and the core worker prints a stack
        # dump): the CLI's handler is put back, so SIGTERM still ends in its one error line, after the
        # finally blocks that shut the local cluster down.
        sigterm = signal.getsignal(signal.SIGTERM) if _main_thread() else None
        if not ray.is_initialized():
            if self.address:
                try:
                    ray.init(address=self.address, log_to_driver=False)
                except Exception as err:  # noqa: BLE001 - Ray raises many types; the user gets one line
                    with _suppressed():
                        ray.shutdown()
                    _restore_sigterm(sigterm)
                    raise RayConnectError(
                        f"cannot connect to the Ray cluster at {self.address}: {_one_line(err)}"
                    ) from None
            else:
                self._start_local(sigterm)
            self._started = True
        _restore_sigterm(sigterm)
        if self._remote is None:
            # retry_exceptions=False: run_job reports bad videos itself, so an exception out of it is a
            # bug to surface at once; only a lost worker (killed, OOM, node gone) is worth a retry.
            self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(
                build_job_on_worker
            )

    def _start_local(self, sigterm: Any) -> None:
        """``ray.init`` of a local cluster. On any failure (Ray's start-up timeout on a loaded machine, a
        SIGTERM or Ctrl-C while it starts) every process it launched is stopped before the error goes
        on: Ray forgets a node whose start failed, and its agents ran on for over half a minute."""
        import ray
        import ray._private.ray_constants as ray_constants

        before = _ray_processes()
        # Ray's C++ core would install a failure handler for SIGTERM too: a SIGTERM before ``start`` puts
        # the CLI's handler back would dump a C++ stack and abort, skipping every cleanup.
        dump = getattr(ray_constants, "RAY_DISABLE_FAILURE_SIGNAL_HANDLER", None)
        ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True
        try:
            ray.init(
                num_cpus=self.num_cpus,
                include_dashboard=False,
                object_store_memory=self.object_store_memory,
                log_to_driver=False,
            )
        except BaseException as err:
            launched = {p: t for p, t in _ray_processes().items() if before.get(p) != t}
            with _suppressed():
                ray.shutdown()
            _reap(launched)
            _restore_sigterm(sigterm)
            cause = _signal_in(err)
            if isinstance(cause, SystemExit) and cause.code == signal.SIGTERM and callable(sigterm):
                # Ray's own SIGTERM handler (sys.exit) was in place: hand the signal to the one it displaced
                # (the CLI's raises Terminated); if that one returns, the start still failed.
                sigterm(signal.SIGTERM, None)
                raise RayStartError("cannot start a local Ray cluster: stopped by SIGTERM") from None
            if cause is not None:
                raise cause from None
            raise RayStartError(f"cannot start a local Ray cluster: {_one_line(err)}") from None
        finally:
            ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = dump
        self._launched = {p: t for p, t in _ray_processes().items() if before.get(p) != t}

    def close(self) -> None:
        """Shut down the local cluster this engine started (a cluster it joined is left running), and end
        any of its processes still running 2 s later (:func:`_reap`)."""
        import ray

        sigterm = signal.getsignal(signal.SIGTERM) if _main_thread() else None
        try:
            if self._started and ray.is_initialized():
                launched = {**self._launched, **_ray_processes()}
                try:
                    ray.shutdown()
                finally:
                    _reap(launched)
        finally:
            _restore_sigterm(sigterm)  # ray.shutdown leaves SIGTERM at the default action (see there)
            self._started = False
            self._remote = None
            self._launched = {}

    def __call__(
        self,
        jobs: list[Job],
        recipe: dict[str, Any],
        jobs_dir: Path,
        decode_timeout: float | None,
        schema: Any,
    ) -> Iterator[tuple[Job, dict[str, Any]]]:
        """Run ``jobs`` on the cluster; yield ``(job, marker)`` as each finishes, once its rows and marker
        are written under ``jobs_dir`` (the local build's job files, so resume and assembly work as is)."""
        import ray

        self.start()
        queue = list(reversed(jobs))  # popped from the end: submitted in plan order
        running: dict[Any, Job] = {}
        try:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            window = max(4, IN_FLIGHT_PER_CPU * cpus)
            recipe_ref = ray.put(recipe)
            schema_ref = ray.put(schema)
            while queue or running:
                while queue and len(running) < window:
                    job = queue.pop()
                    ref = self._remote.options(name=f"videossr:{job.name}").remote(
                        job, recipe_ref, decode_timeout, schema_ref
                    )
                    running[ref] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    marker, data = ray.get(ref)
                    if data is not None:
                        atomic_write_bytes(jobs_dir / f"{job.name}.parquet", data)
                    # The marker last: a job counts as done (for a resumed build too) only once its rows
                    # are in place.
                    atomic_write_text(jobs_dir / f"{job.name}.json", json.dumps(marker, sort_keys=True))
                    yield job, marker
        except SystemError as err:
            # a SIGTERM (or Ctrl-C) while Ray waited: raise it as itself, not as Cython's SystemError
            cause = _signal_in(err)
            if cause is None:
                raise
            raise cause from None
        finally:
            for ref in running:  # on Ctrl-C or an error: do not leave the cluster working for nobody
                ray.cancel(ref, force=True)


def default_engine(address: str | None, num_proc: int) -> RayEngine:
    """The engine ``--engine ray`` uses: ``address`` (or ``RAY_ADDRESS``) when given, else a local cluster
    of ``num_proc`` CPUs."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    return RayEngine(address=address, num_cpus=None if address else num_proc)
