"""The OpenAI-compatible backend against a tiny chat-completions server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from _eval_helpers import fixture_clips

from videossr.evaluation import BackendError, BenchItem, Benchmark, load_backend, run_bench
from videossr.tasks import task_for_subtype


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if server.fail_first and len(server.requests) == 1:
            self.send_response(503)  # a busy server: the client must retry
            self.end_headers()
            return
        if server.status != 200:
            self.send_response(server.status)
            self.end_headers()
            self.wfile.write(b'{"error": "bad request"}')
            return
        # The question is the last text part (after the frames); the server knows its answer.
        text = [p["text"] for p in body["messages"][-1]["content"] if p["type"] == "text"][-1]
        reply = server.answers.get(text, "no idea")
        payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.answers, httpd.fail_first, httpd.status = [], {}, False, 200
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _bench() -> tuple[Benchmark, dict[str, str]]:
    clip = fixture_clips()[0]
    items, answers = [], {}
    for k, subtype in enumerate(("grounding_rotate180", "counting_easy", "jigsaw_easy")):
        sample = task_for_subtype(subtype).generate(clip, seed=k)
        items.append(BenchItem.from_sample(sample, f"{subtype}-{k}"))
        answers[sample.parts[-1]] = sample.answer  # the server answers right by recognising the question
    return Benchmark(items=items, info={"data": "memory"}), answers


def test_openai_backend_sends_timestamped_frames_and_scores(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    bench, answers = _bench()
    server.answers = dict(answers)
    server.answers.pop(
        next(k for k in answers if "original temporal order" in k)
    )  # the jigsaw gets "no idea"
    server.fail_first = True
    url = f"http://127.0.0.1:{server.server_port}/v1"
    backend = load_backend(f"openai:{url}#tiny-vlm", max_new_tokens=32, concurrency=2, retries=3)
    results = run_bench(bench, backend, out_dir=tmp_path / "out", progress=False, report=False)
    assert results["scores"]["subtypes"] == {
        "grounding_rotate180": 100.0,
        "counting_easy": 100.0,
        "jigsaw_easy": 0.0,
    }
    assert results["unparsed"]["jigsaw_easy"] == 1  # unparsable, scored 0, still counted
    assert len(server.requests) == 4  # one 503 retried
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "tiny-vlm" and body["temperature"] == 0.0 and body["max_tokens"] == 32
    by_item = {}
    for r in server.requests[1:]:
        content = r["body"]["messages"][-1]["content"]
        images = [p for p in content if p["type"] == "image_url"]
        stamps = [p["text"] for p in content if p["type"] == "text" and p["text"].startswith("<")]
        assert all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in images)
        assert len(stamps) == len(images)  # every frame carries its time on the clip's timeline
        by_item[len(images)] = stamps
    assert set(by_item) == {48}  # grounding, counting: 48 frames; jigsaw: 6 clips x 8 frames
    assert results["backend"]["backend"] == "openai" and "timestamp" in results["backend"]["video_input"]


def test_openai_backend_reports_client_errors(server, tmp_path):
    bench, _ = _bench()
    server.status = 400
    backend = load_backend(f"openai:http://127.0.0.1:{server.server_port}/v1#m", retries=2)
    with pytest.raises(BackendError, match="HTTP 400"):
        run_bench(bench, backend, out_dir=tmp_path / "out", progress=False, report=False)
    assert len(server.requests) == len(bench.items)  # one request per item: a 4xx is not retried
    with pytest.raises(BackendError, match="openai:URL#MODEL"):
        load_backend("openai:http://127.0.0.1:1/v1")
