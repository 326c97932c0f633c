"""Builds on Ray (``--engine ray``): the same bytes as a local build, URL inputs, killed workers and
drivers, the progress bar and ``--push-to-hub``. One local Ray cluster of 2 CPUs serves the module."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _data_helpers import have_ffmpeg, make_folder, make_video

pytest.importorskip("ray")

from videossr.data import build_dataset, videossr30k_recipe  # noqa: E402
from videossr.data.ray_engine import RayEngine  # noqa: E402

pytestmark = pytest.mark.skipif(not have_ffmpeg(), reason="needs the ffmpeg binary to make test videos")

SMALL = 128 * 128
#: Bad files of a crawled folder, each reported by name (see tests/_data_helpers.make_folder).
BAD = ("empty.mp4", "garbage.mp4", "short.mp4", "truncated.mp4")


def _odd_video(path: Path, size: str, index: int) -> None:
    """A clip with odd or extreme dimensions (4:4:4, so odd sizes are legal H.264)."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=12",
        "-frames:v",
        "60",
        "-vf",
        f"hue=h={index * 60}",
        "-pix_fmt",
        "yuv444p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file of a finished repo folder (shards, card, report, preview)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- a local cluster that fails to start, or is stopped while it starts --------------------------------
# (before the module's cluster exists: these fake ray.init in this process)

#: What Ray raises when a loaded machine's raylet does not register within 30 s.
STARTUP_TIMEOUT = (
    "The current node timed out during startup. This could happen because some of the raylet failed to "
    "startup or the GCS has become overloaded."
)


SLEEP = "import time; time.sleep(120)"


def _fake_launch() -> list[subprocess.Popen]:
    """What a half-started local cluster leaves: a "raylet" (its command line in the ray package) with an
    agent under it that ignores SIGTERM, and a ``ray::DashboardAgent``."""
    import ray

    ray_dir = os.path.dirname(ray.__file__)
    agent = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen(['ray::RuntimeEnvAgent', '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'], executable=sys.executable); "
        "time.sleep(120)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", agent, os.path.join(ray_dir, "core", "fake-raylet")]),
        subprocess.Popen(
            ["ray::DashboardAgent", "-c", "import time; time.sleep(120)"], executable=sys.executable
        ),
    ]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_descendants(procs[0].pid)) < 1:
        time.sleep(0.02)  # the raylet's agent is up (it ignores SIGTERM: only SIGKILL ends it)
    return procs


def _descendants(pid: int) -> list[int]:
    """Running processes below ``pid`` (zombies excluded)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] not in ("Z", "X"):
                parents[int(entry.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        kids = [p for p, pp in parents.items() if pp == todo[-1]]
        todo.pop()
        found += kids
        todo += kids
    return found


def _running(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            out.append(pid)
    return out


@pytest.fixture
def fake_start(monkeypatch):
    """ray.init made to launch :func:`_fake_launch`'s processes and then fail as ``fail`` says."""
    import ray

    calls = {"shutdown": 0, "pids": []}

    def install(fail):
        def fake_init(**kwargs):
            procs = _fake_launch()
            calls["pids"] = [p.pid for p in procs] + _descendants(procs[0].pid)
            fail()

        monkeypatch.setattr(ray, "is_initialized", lambda: False)
        monkeypatch.setattr(ray, "init", fake_init)
        monkeypatch.setattr(
            ray, "shutdown", lambda *a, **k: calls.__setitem__("shutdown", calls["shutdown"] + 1)
        )
        return calls

    yield install
    for pid in _running(calls["pids"]):  # a failing test leaves nothing running either
        os.kill(pid, signal.SIGKILL)


def _start_timed_out():
    raise Exception(STARTUP_TIMEOUT)  # what ray.init raises (node.py); a bare Exception


def test_a_failed_local_start_is_one_line_and_stops_what_it_launched(fake_start, tmp_path, capsys):
    """Issue 28 item 11: a local cluster's start-up timeout ended in a traceback and left
    ray::DashboardAgent and ray::RuntimeEnvAgent running."""
    from videossr.cli import main
    from videossr.data.ray_engine import RayStartError

    calls = fake_start(_start_timed_out)
    mine = signal.getsignal(signal.SIGTERM)
    t0 = time.monotonic()
    with pytest.raises(RayStartError, match="^cannot start a local Ray cluster: The current node timed out"):
        RayEngine(num_cpus=1).start()
    assert time.monotonic() - t0 < 30
    assert len(calls["pids"]) == 3 and calls["shutdown"] == 1
    assert _running(calls["pids"]) == []  # the agent that ignores SIGTERM too
    assert signal.getsignal(signal.SIGTERM) is mine
    # through the CLI: one error line, no traceback, nothing left
    args = ["build", "videossr-30k", "--videos", "default", "--size", "4", "--out", str(tmp_path / "o")]
    assert main([*args, "--engine", "ray", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot start a local Ray cluster: The current node"), (
        err
    )
    assert _running(calls["pids"]) == []


def test_sigterm_while_a_local_cluster_starts_ends_in_the_error_line(fake_start, tmp_path, capsys):
    """While ray.init runs, Ray's own SIGTERM handler (sys.exit(15)) is in place: the build exited 15 with
    no error line and left the half-started cluster's agents."""
    from videossr.cli import main

    def ray_handler_then_sigterm():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # as ray.init does
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    calls = fake_start(ray_handler_then_sigterm)
    args = ["build", "videossr-30k", "--videos", "default", "--size", "4", "--out", str(tmp_path / "o")]
    assert main([*args, "--engine", "ray", "--quiet"]) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: terminated (SIGTERM); a build re-run with the same command resumes"], err
    assert len(calls["pids"]) == 3 and calls["shutdown"] == 1
    assert _running(calls["pids"]) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the CLI put back what it found


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """The real sample videos, synthetic clips, odd sizes and the bad files of a crawled folder."""
    from videossr.video import sample_videos

    root = make_folder(tmp_path_factory.mktemp("mixed"), 12, bad=True)
    (root / "samples").mkdir()
    for src in sample_videos():
        shutil.copy(src, root / "samples" / src.name)
    (root / "odd").mkdir()
    _odd_video(root / "odd" / "tall 97x171.mp4", "97x171", 1)
    _odd_video(root / "odd" / "strip_400x34.mp4", "400x34", 2)
    return root


RECIPE = {"size": 72, "seed": 3, "max_pixels": SMALL}


@pytest.fixture(scope="module")
def reference(mixed, tmp_path_factory) -> Path:
    """The local build, one process, default (isolated) decoding: what every Ray build must equal.
    Made before the cluster starts, so no decoder is forked from a process holding Ray's threads."""
    out = tmp_path_factory.mktemp("ref") / "set"
    build_dataset(videossr30k_recipe(**RECIPE), mixed, out, num_proc=1, progress=False)
    return out


@pytest.fixture(scope="module")
def cluster(reference):
    """One local Ray cluster of 2 CPUs for the module (started after the reference build)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_same_bytes_as_local_build_and_every_bad_file_named(mixed, reference, cluster, tmp_path, capsys):
    out = tmp_path / "ray"
    result = build_dataset(videossr30k_recipe(**RECIPE), mixed, out, engine="ray", progress=True)
    assert _digests(out) == _digests(reference)
    assert {"README.md", "build_report.json", "preview.jpg"} <= set(_digests(out))
    assert any(f.startswith("data/") and f.endswith(".parquet") for f in _digests(out))
    skipped = {s["id"]: s["reason"] for s in json.loads((out / "build_report.json").read_text())["skipped"]}
    assert set(BAD) <= set(skipped), skipped
    assert set(BAD) <= set(result.skipped)
    # one bar for the whole build: rows (count and rate), videos used and videos failed
    err = capsys.readouterr().err
    # (the empty file is rejected when the folder is listed, before any job: the bar counts decode failures)
    assert "row/s" in err and "videos=" in err and f"failed={len(skipped) - 1}" in err, err[-300:]


def test_fsspec_urls_give_the_same_bytes(mixed, reference, cluster, tmp_path):
    import fsspec

    # a file:// URL on the cluster: each worker copies its job's videos to local disk to decode them
    out = tmp_path / "url"
    build_dataset(videossr30k_recipe(**RECIPE), "file://" + str(mixed), out, engine="ray", progress=False)
    assert _digests(out) == _digests(reference)
    # memory:// lives in this process only, so it is built here (one process, in-process decoding)
    # (the same folder name: the report records it as the origin, "folder <name>")
    mem = fsspec.filesystem("memory")
    for p in sorted(mixed.rglob("*")):
        if p.is_file():
            mem.pipe(f"/{mixed.name}/{p.relative_to(mixed).as_posix()}", p.read_bytes())
    try:
        out = tmp_path / "mem"
        url = f"memory://{mixed.name}"
        build_dataset(videossr30k_recipe(**RECIPE), url, out, decode_timeout=None, progress=False)
        assert _digests(out) == _digests(reference)
    finally:
        mem.rm(f"/{mixed.name}", recursive=True)


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return seen


def _busy_workers() -> list[tuple[int, str]]:
    """Ray workers of this test's cluster running a build job now: (pid, process title)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        # Ray names a busy worker's process after its task (RayEngine names tasks "videossr:<job>").
        if title.startswith("ray::videossr:") and me in _ancestors(int(entry.name)):
            found.append((int(entry.name), title))
    return found


class _KillsWorkers:
    """Wraps a Ray engine: SIGKILLs a busy worker after the ``at``-th, ... finished job of the build.

    Each kill takes a job not killed before (three kills of one job would also use up its retries);
    when only such jobs are running, the kill waits for the next finished job.
    """

    def __init__(self, engine: RayEngine, at: tuple[int, ...]):
        self.engine, self.at, self.finished, self.owed, self.killed = engine, set(at), 0, 0, []

    def __call__(self, jobs, *args):
        for job, marker in self.engine(jobs, *args):
            self.finished += 1
            self.owed += self.finished in self.at
            deadline = time.time() + 3
            while self.owed and time.time() < deadline:
                busy = [b for b in _busy_workers() if b[1] not in self.killed]
                if busy:
                    os.kill(busy[0][0], signal.SIGKILL)
                    self.killed.append(busy[0][1])
                    self.owed -= 1
                else:
                    time.sleep(0.01)
            yield job, marker

    def close(self) -> None:
        self.engine.close()


def test_killed_workers_at_three_points_lose_nothing(mixed, reference, cluster, tmp_path):
    engine = _KillsWorkers(RayEngine(), at=(1, 3, 5))
    out = tmp_path / "killed"
    build_dataset(videossr30k_recipe(**RECIPE), mixed, out, engine=engine, progress=False)
    # each kill hit a worker in the middle of a job, a different job each time
    assert len(set(engine.killed)) == 3, engine.killed
    assert _digests(out) == _digests(reference)
    report = json.loads((out / "build_report.json").read_text())
    import pyarrow.parquet as pq

    ids = [
        i for f in report["files"] for i in pq.read_table(out / f, columns=["id"]).column("id").to_pylist()
    ]
    assert len(ids) == len(set(ids)) == RECIPE["size"]  # no row lost, none twice


@pytest.mark.slow
def test_driver_killed_then_resumed_is_byte_identical(cluster, tmp_path, tmp_path_factory):
    src = make_folder(tmp_path_factory.mktemp("drv"), 10)
    make_video(src / "late.mp4", 3, frames=70)
    args = ["build", "videossr-30k", "--videos", str(src), "--size", "60", "--seed", "4", "--quiet"]
    clean = tmp_path / "clean"
    # The local reference, in-process decoding: Ray's threads live in this process (see `reference`).
    build_dataset(videossr30k_recipe(size=60, seed=4), src, clean, decode_timeout=None, progress=False)
    killed = tmp_path / "killed"
    # the driver joins the module's cluster (--address), so killing it leaves the cluster up
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "videossr.cli",
            *args,
            "--engine",
            "ray",
            "--address",
            cluster,
            "--out",
            str(killed),
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs = killed / ".build" / "jobs"
    deadline = time.time() + 180
    while time.time() < deadline and len(list(jobs.glob("*.json")) if jobs.exists() else []) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (killed / "README.md").exists(), "the build finished before it could be killed"
    done_before = len(list(jobs.glob("*.json")))
    result = build_dataset(videossr30k_recipe(size=60, seed=4), src, killed, engine="ray", progress=False)
    assert result.jobs_reused >= done_before >= 2
    assert _digests(killed) == _digests(clean)


def test_push_to_hub_uploads_the_finished_folder(cluster, tmp_path, tmp_path_factory, monkeypatch, capsys):
    import huggingface_hub

    from videossr.cli import main

    calls = []

    class FakeApi:  # the Hub is never reached: record what publish() asks of it
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw))
            return f"https://huggingface.co/datasets/{repo_id}"

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw))
            return "commit-0"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    src = make_folder(tmp_path_factory.mktemp("push"), 3)
    out = tmp_path / "pushed"
    argv = [
        "build",
        "videossr-30k",
        "--videos",
        str(src),
        "--size",
        "6",
        "--out",
        str(out),
        "--quiet",
        "--engine",
        "ray",
        "--address",
        cluster,
        "--push-to-hub",
        "org/my-set",
    ]
    assert main(argv) == 0
    kinds = [c[0] for c in calls]
    assert kinds == ["init", "create_repo", "upload_folder"]
    assert calls[1][1] == "org/my-set" and calls[1][2]["repo_type"] == "dataset"
    assert calls[2][1]["folder_path"] == str(out) and calls[2][1]["repo_id"] == "org/my-set"
    assert "commit-0" in capsys.readouterr().out


def test_engine_options_are_checked_before_building(tmp_path, capsys):
    from videossr.cli import main

    base = ["build", "videossr-30k", "--videos", "default", "--size", "4", "--out", str(tmp_path / "o")]
    for extra, message in (
        (["--address", "auto"], "--address needs --engine ray"),
        (["--push-to-hub", "no-slash"], "ORG/NAME"),
        (["--push-to-hub", "org/x", "--num-shards", "2"], "merge the parts"),
    ):
        assert main([*base, *extra]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="unknown engine"):
        build_dataset(videossr30k_recipe(size=4), "default", tmp_path / "p", engine="spark")


def test_an_unreachable_address_fails_fast_in_one_line_and_leaves_nothing(tmp_path, capsys):
    """--address 127.0.0.1:1 (nothing listening) was still retrying after 241 s, and every failing address
    left --out/.build/manifest.json behind."""
    from videossr.cli import main
    from videossr.data.ray_engine import RayConnectError, check_reachable

    for address in ("garbage", "127.0.0.1:1", "ray://127.0.0.1:1", "http://x:1", "host:99999", "[::1]:1"):
        t0 = time.monotonic()
        with pytest.raises(RayConnectError):
            check_reachable(address)
        assert time.monotonic() - t0 < 15, address
    out = tmp_path / "o"
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1", "garbage"):
        t0 = time.monotonic()
        with pytest.raises(RayConnectError, match=f"Ray cluster at {address}|--address {address}"):
            build_dataset(videossr30k_recipe(size=4), "default", out, engine="ray", address=address)
        assert time.monotonic() - t0 < 30, address
        assert not out.exists(), address
    args = [
        "build",
        "videossr-30k",
        "--videos",
        "default",
        "--size",
        "4",
        "--out",
        str(out),
        "--engine",
        "ray",
    ]
    assert main([*args, "--address", "127.0.0.1:1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: cannot reach the Ray cluster at 127.0.0.1:1: connection refused"], err
    # an --out that existed (empty) before stays as it was
    out.mkdir()
    assert main([*args, "--address", "127.0.0.1:1", "--quiet"]) == 1
    assert list(out.iterdir()) == []


def test_sigterm_while_ray_waits_is_raised_as_itself(cluster, tmp_path, tmp_path_factory):
    """A Python SIGTERM handler that raises inside ray.wait came out as Cython's ``SystemError: ...
    returned a result with an exception set``: the CLI printed a traceback instead of its error line."""
    import threading

    from videossr.cli import _restore_sigterm, _stop_on_sigterm
    from videossr.errors import Terminated

    src = make_folder(tmp_path_factory.mktemp("term"), 6)
    engine = RayEngine()
    sent = []

    def sigterm_after_first_job(jobs, *args):
        for job, marker in engine(jobs, *args):
            if not sent:  # while the driver waits on ray.wait for the next job
                sent.append(threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)))
                sent[0].start()
            yield job, marker

    sigterm_after_first_job.close = engine.close
    previous = _stop_on_sigterm()
    try:
        with pytest.raises(Terminated):
            recipe = videossr30k_recipe(size=120, seed=2, max_pixels=SMALL)
            build_dataset(recipe, src, tmp_path / "o", engine=sigterm_after_first_job, progress=False)
    finally:
        _restore_sigterm(previous)
    assert sent and not (tmp_path / "o" / "README.md").exists()


# --- SIGTERM to a real `--engine ray` build, and a real start-up failure (each starts its own cluster) --

#: An environment variable every process of one build inherits (Ray's raylet, agents and workers too):
#: how a test tells that build's processes from the module's cluster.
TAG = "VIDEOSSR_RAY_TEST_TAG"


def _tagged_ray(tag: str, driver: int | None = None) -> list[str]:
    """Running Ray processes (gcs_server, raylet, agents, workers, reaper) of the build tagged ``tag``."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == driver:
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if args.startswith("ray::") or "raylet" in args or "gcs_server" in args or "/ray/" in args:
            found.append(f"{entry.name} {args[:100]}")
    return found


def _left_after(tag: str, seconds: float) -> list[str]:
    """The tagged Ray processes still running ``seconds`` after now (polled: gone earlier is fine)."""
    deadline = time.monotonic() + seconds
    while (left := _tagged_ray(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _kill_tagged(tag: str) -> None:
    for line in _tagged_ray(tag):
        with contextlib.suppress(OSError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["starting", "running"])
def test_sigterm_to_a_ray_build_ends_in_an_error_line_and_leaves_no_ray_process(
    when, tmp_path, tmp_path_factory
):
    """Issue 28 item 11: SIGTERM to the driver printed a C++ stack dump or ``*** SIGTERM received`` (or a
    SystemError traceback) and no ``error:`` line, and orphaned ray::DashboardAgent and
    ray::RuntimeEnvAgent for over half a minute. Sent while the local cluster starts (Ray's own handler in
    place) and while jobs run."""
    src = make_folder(tmp_path_factory.mktemp("sigterm"), 8)
    out = tmp_path / "o"
    tag = f"{os.getpid()}-{when}-{time.time_ns()}"
    args = ["build", "videossr-30k", "--videos", str(src), "--size", "400", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "videossr.cli", *args, "--engine", "ray", "--num-proc", "2"],
        env={**os.environ, "HF_HUB_OFFLINE": "1", TAG: tag},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        jobs = out / ".build" / "jobs"
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            ray_now = _tagged_ray(tag, proc.pid)
            if when == "starting" and any("gcs_server" in p or "raylet" in p for p in ray_now):
                break
            if when == "running" and jobs.is_dir() and any(jobs.glob("*.json")):
                break
            time.sleep(0.05)
        if proc.poll() is not None:  # a loaded machine: the cluster did not even start
            err = proc.stderr.read().decode(errors="replace")
            assert proc.returncode == 1 and "error: cannot start a local Ray cluster" in err, err[-2000:]
            assert _left_after(tag, 5) == []
            pytest.skip("the local Ray cluster did not start on this loaded machine")
        assert ray_now, "the build's Ray processes are not found by their tag"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = proc.communicate(timeout=120)
        took = time.monotonic() - t0
        err = err_bytes.decode(errors="replace")
        left = _left_after(tag, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_tagged(tag)
    assert proc.returncode == 143, (proc.returncode, err[-2000:])
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: terminated (SIGTERM); a build re-run with the same command resumes"
    ], err[-2000:]
    assert "Traceback" not in err and "SIGTERM received" not in err, err[-2000:]
    assert left == [], left
    assert took < 60, took
    assert not (out / "README.md").exists()


@pytest.mark.slow
def test_a_real_start_up_timeout_is_one_line_and_leaves_no_ray_process(tmp_path):
    """Ray's own start-up timeout (the raylet never registers; as on a loaded machine) ended in a traceback
    and left the raylet's agents running for over half a minute."""
    tag = f"{os.getpid()}-timeout-{time.time_ns()}"
    out = tmp_path / "o"
    script = (
        "import sys, ray._private.services as s\n"
        "def never(*a, **k):\n"
        "    raise RuntimeError('the raylet has not registered')\n"
        "s.get_node = never\n"
        "from videossr.cli import main\n"
        f"sys.exit(main(['build', 'videossr-30k', '--videos', 'default', '--size', '4',"
        f" '--out', {str(out)!r}, '--engine', 'ray', '--num-proc', '1', '--quiet']))\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "HF_HUB_OFFLINE": "1", TAG: tag},
            capture_output=True,
            timeout=300,
        )
        err = proc.stderr.decode(errors="replace")
        left = _left_after(tag, 5)
    finally:
        _kill_tagged(tag)
    assert proc.returncode == 1, (proc.returncode, err[-2000:])
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: cannot start a local Ray cluster: "), err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert left == [], left


@pytest.mark.slow
def test_sigterm_after_the_local_cluster_is_shut_down_still_reaches_python(tmp_path):
    """ray.shutdown resets SIGTERM to the default action in the kernel while Python still reports its own
    handler: a SIGTERM during the build's assembly (after the cluster is shut down) killed the process
    outright, with no error line."""
    script = (
        "import os, signal, sys, time\n"
        "from videossr.data.ray_engine import RayEngine\n"
        "got = []\n"
        "signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))\n"
        "engine = RayEngine(num_cpus=1)\n"
        "engine.start()\n"
        "engine.close()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.5)\n"
        "print('handled', got)\n"
    )
    tag = f"{os.getpid()}-close-{time.time_ns()}"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, TAG: tag}, capture_output=True, timeout=300
        )
    finally:
        _kill_tagged(tag)
    err = proc.stderr.decode(errors="replace")
    if "cannot start a local Ray cluster" in err:
        pytest.skip("the local Ray cluster did not start on this loaded machine")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == "handled [15]", (
        proc.returncode,
        err[-2000:],
    )
