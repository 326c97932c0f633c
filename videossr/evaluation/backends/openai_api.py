"""The ``openai:`` backend: an OpenAI-compatible chat-completions endpoint, clips as timestamped frames."""

from __future__ import annotations

import base64
import concurrent.futures as cf
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from videossr.evaluation.backends.base import Backend, BackendError, Prediction, _chunks, _frames_record
from videossr.evaluation.data import BenchItem
from videossr.rows import encode_frame


def _jpeg_data_url(frame: np.ndarray, quality: int) -> str:
    try:
        data = encode_frame(frame, "jpeg", quality)
    except RuntimeError as err:
        raise BackendError("could not encode a frame as JPEG") from err
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


class OpenAIBackend(Backend):
    """An OpenAI-compatible ``/chat/completions`` endpoint; clips are sent as timestamped frames.

    Each clip becomes a text line naming its frame count and rate, then for every frame a ``<t s>``
    text part followed by the frame as a base64 JPEG ``image_url``: chat APIs take images, and the
    timestamps carry the clip's timeline (grounding answers are in seconds).

    Args:
        url: base URL, e.g. ``http://localhost:8000/v1`` (``/chat/completions`` is appended).
        model: the served model name.
        api_key: bearer token; defaults to the ``OPENAI_API_KEY`` environment variable (may be empty).
        max_tokens: reply budget.
        concurrency: requests in flight at once.
        timeout: seconds per request.
        retries: attempts per request on network errors and 429/5xx replies.
        jpeg_quality: quality of the frame images.
        timestamps: add a ``<t s>`` text part before each frame.
        system_prompt: replaces the sample's own system turn; "" sends none.
    """

    name = "openai"

    @classmethod
    def spec_args(cls, rest: str) -> dict[str, Any]:
        """``openai:URL#MODEL`` -> ``{"url": URL, "model": MODEL}``."""
        url, sep, model = rest.rpartition("#")
        if not sep or not url or not model:
            raise BackendError(
                "openai backend spec is openai:URL#MODEL, e.g. openai:http://localhost:8000/v1#Qwen/Qwen3-VL-8B-Instruct"
            )
        return {"url": url, "model": model}

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        max_tokens: int = 128,
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 3,
        jpeg_quality: int = 90,
        timestamps: bool = True,
        system_prompt: str | None = None,
    ):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.max_tokens = int(max_tokens)
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.retries = max(1, int(retries))
        self.jpeg_quality = int(jpeg_quality)
        self.timestamps = timestamps
        self.system_prompt = system_prompt

    def messages(self, item: BenchItem) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The chat messages for one item and the record of what they contain."""
        sample = item.sample()
        content: list[dict[str, Any]] = []
        for part in sample.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
                continue
            frames = sample.videos[part]
            content.append({"type": "text", "text": f"[video: {len(frames)} frames at {sample.fps:.3f} fps]"})
            for i, frame in enumerate(frames):
                if self.timestamps:
                    content.append({"type": "text", "text": f"<{i / sample.fps:.1f} s>"})
                content.append(
                    {"type": "image_url", "image_url": {"url": _jpeg_data_url(frame, self.jpeg_quality)}}
                )
        messages: list[dict[str, Any]] = []
        system = (
            sample.system if self.system_prompt is None else self.system_prompt
        )  # the sample's own by default
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": content})
        return messages, _frames_record(sample.videos, sample.fps)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: Exception | None = None
        for attempt in range(self.retries):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                last = err
                if err.code not in (408, 409, 429) and err.code < 500:
                    body = err.read().decode("utf-8", errors="replace")[:300]
                    raise BackendError(f"{self.url} answered HTTP {err.code}: {body}") from err
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = err
            time.sleep(min(30.0, 2.0**attempt))  # back off before retrying
        raise BackendError(f"{self.url} failed after {self.retries} attempts: {last}")

    def _one(self, item: BenchItem) -> Prediction:
        messages, record = self.messages(item)
        payload = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,  # greedy
        }
        reply = self._post(payload)
        try:
            text = reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as err:
            raise BackendError(f"unexpected reply from {self.url}: {str(reply)[:300]}") from err
        if isinstance(text, list):  # some servers return content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        return Prediction(item, str(text), record)

    def predict(self, items: Sequence[BenchItem], batch_size: int = 8) -> Iterator[list[Prediction]]:
        with cf.ThreadPoolExecutor(self.concurrency) as pool:
            for batch in _chunks(items, max(batch_size, self.concurrency)):
                yield list(pool.map(self._one, batch))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "url": self.url,
            "model": self.model,
            "decoding": {"temperature": 0.0, "max_tokens": self.max_tokens},
            "video_input": "frames as base64 JPEG image_url parts"
            + (", each preceded by a '<t s>' timestamp" if self.timestamps else ""),
            "jpeg_quality": self.jpeg_quality,
            "system_prompt": self.system_prompt,
        }
