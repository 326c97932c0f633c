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

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.data.jobs import Job, atomic_write_bytes, atomic_write_text

#: Object store of a local cluster started by the build: a job's rows are a few MB and only a few jobs
#: are in flight, so a small store is plenty and leaves memory to the decoders.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024
#: Tasks in flight per cluster CPU: enough to keep every worker busy while the driver writes results.
IN_FLIGHT_PER_CPU = 2


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

    def start(self) -> None:
        """Connect to the cluster (or start a local one); a no-op when already connected."""
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self.num_cpus,
                    include_dashboard=False,
                    object_store_memory=self.object_store_memory,
                    log_to_driver=False,
                )
            self._started = True
        if self._remote is None:
            # retry_exceptions=False: run_job reports bad videos itself, so an exception out of it is a
            # bug to surface at once; only a lost worker (killed, OOM, node gone) is worth a retry.
            self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(
                build_job_on_worker
            )

    def close(self) -> None:
        """Shut down the local cluster this engine started (a cluster it joined is left running)."""
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False
        self._remote = None

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
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        window = max(4, IN_FLIGHT_PER_CPU * cpus)
        recipe_ref = ray.put(recipe)
        schema_ref = ray.put(schema)
        queue = list(reversed(jobs))  # popped from the end: submitted in plan order
        running: dict[Any, Job] = {}
        try:
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
        finally:
            for ref in running:  # on Ctrl-C or an error: do not leave the cluster working for nobody
                ray.cancel(ref, force=True)


def default_engine(address: str | None, num_proc: int) -> RayEngine:
    """The engine ``--engine ray`` uses: ``address`` (or ``RAY_ADDRESS``) when given, else a local cluster
    of ``num_proc`` CPUs."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    return RayEngine(address=address, num_cpus=None if address else num_proc)
