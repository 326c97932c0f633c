"""Model backends of the harness: what turns benchmark items into replies.

A backend is built from a model spec string by :func:`load_backend`:

* ``random`` / ``random:prior``: uniform guesses (see :mod:`videossr.evaluation.baselines`).
* ``heuristic``: the non-learned computer-vision solver.
* ``hf:PATH_OR_HUB_ID``: a transformers Qwen2.5-VL / Qwen3-VL checkpoint (any
  ``AutoModelForImageTextToText`` whose processor takes videos), greedy, batched.
* ``openai:URL#MODEL``: an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, hosted APIs); the
  clips are sent as frames (base64 JPEG images), each preceded by its timestamp.

Every backend yields replies batch by batch (:meth:`Backend.predict`), so the harness can save each
finished item at once, and describes every setting that changes a score (:meth:`Backend.describe`).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import copy
import json
import os
import queue
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videossr import vlm
from videossr.errors import VideoSSRError
from videossr.evaluation.baselines import GroundingGuess, heuristic_answer, item_rng, random_guess
from videossr.evaluation.data import BenchItem
from videossr.rows import encode_frame
from videossr.tasks import TASKS


class BackendError(VideoSSRError):
    """A model backend cannot be built or used."""


@dataclass
class Prediction:
    """One reply and the facts about the inputs the model actually saw."""

    item: BenchItem
    reply: str
    inputs: dict[str, Any] = field(default_factory=dict)


def _frames_record(videos: Sequence[np.ndarray], fps: float) -> dict[str, Any]:
    """What the model was shown: frames per clip, frame size and frame rate."""
    return {
        "frames": [int(len(v)) for v in videos],
        "size": [int(videos[0].shape[1]), int(videos[0].shape[2])] if videos else None,
        "fps": round(float(fps), 6),
    }


class Backend:
    """Base class: subclasses implement :meth:`predict` and :meth:`describe`."""

    name = "backend"
    #: Items per batch when the caller does not say.
    default_batch_size = 8

    def predict(self, items: Sequence[BenchItem], batch_size: int = 1) -> Iterator[list[Prediction]]:
        """Yield the replies to ``items``, one finished batch at a time (in any order)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Every setting that can change a score, JSON-able."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, models)."""


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    size = max(1, int(size))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# --------------------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------------------
class RandomBackend(Backend):
    """Uniform guesses in each answer space; never looks at the frames.

    Args:
        seed: base seed; each item's guess is seeded by ``(seed, item id)`` so a resumed run is identical.
        grounding: ``"max_length"`` (default) or ``"prior"``; see :mod:`videossr.evaluation.baselines`.
    """

    name = "random"
    default_batch_size = 256

    def __init__(self, seed: int = 0, grounding: GroundingGuess = "max_length"):
        self.seed = int(seed)
        self.grounding = grounding

    def predict(self, items: Sequence[BenchItem], batch_size: int = 256) -> Iterator[list[Prediction]]:
        for batch in _chunks(items, batch_size):
            out = []
            for item in batch:
                try:
                    # Each task's own random_answer: tasks that ignore clips, frames or fps ignore them.
                    reply = random_guess(
                        item.subtype,
                        item_rng(item.id, self.seed),
                        fps=item.fps,
                        num_frames=item.num_frames,
                        num_clips=item.num_videos,
                        grounding=self.grounding,
                    )
                except ValueError as err:  # e.g. a grounding item without fps: no guess in seconds
                    raise BackendError(f"item {item.id}: {err}") from None
                out.append(Prediction(item, reply))
            yield out

    def describe(self) -> dict[str, Any]:
        # Each task says its own guess in words (for grounding, the guess this backend was told to make).
        rules = {cls.short: cls.random_rule(grounding=self.grounding) for cls in TASKS.values()}
        return {"backend": "random", "seed": self.seed, "grounding_guess": self.grounding, "rules": rules}


class HeuristicBackend(Backend):
    """The non-learned vision solver, run on CPU threads (OpenCV and NumPy release the GIL).

    Args:
        num_workers: threads decoding and solving items in parallel.
    """

    name = "heuristic"

    def __init__(self, num_workers: int | None = None):
        self.num_workers = num_workers or min(4, os.cpu_count() or 1)

    @staticmethod
    def _solve(item: BenchItem) -> Prediction:
        sample = item.sample()
        return Prediction(item, heuristic_answer(sample), _frames_record(sample.videos, sample.fps))

    def predict(self, items: Sequence[BenchItem], batch_size: int = 8) -> Iterator[list[Prediction]]:
        with cf.ThreadPoolExecutor(self.num_workers) as pool:
            for batch in _chunks(items, max(batch_size, self.num_workers)):
                yield list(pool.map(self._solve, batch))

    def describe(self) -> dict[str, Any]:
        # Each task's solver in words; "none" for a task without one (its items fail to answer).
        solvers = {cls.short: cls.heuristic or "none" for cls in TASKS.values()}
        return {"backend": "heuristic", "solvers": solvers}


# --------------------------------------------------------------------------------------------------
# transformers
# --------------------------------------------------------------------------------------------------
def _sort_key(item: BenchItem) -> tuple:
    # Same source video -> same frame size -> same number of visual tokens; then text length. Batches
    # of near-equal length waste little compute on padding.
    return (item.group, item.num_videos, len(item.prompt_text), item.id)


class HFBackend(Backend):
    """A transformers vision-language model (Qwen2.5-VL, Qwen3-VL), greedy and batched.

    The clips go to the processor as videos with their real frame rate (``video_metadata``) and
    ``do_sample_frames=False``, so the processor neither resamples them nor assumes a default fps.
    Batches are left-padded and built from items sorted by expected length; while the model generates
    one batch, CPU worker threads decode and preprocess the next ones.

    Args:
        model: a local checkpoint folder or a Hub id.
        max_new_tokens: reply budget (greedy decoding stops earlier at the end-of-turn token).
        dtype: ``"auto"`` (bfloat16 on GPU, float32 on CPU), or a torch dtype name.
        device: ``"cuda"``, ``"cpu"``... (default: CUDA when available).
        num_workers: CPU threads preparing batches.
        prefetch: batches prepared ahead of the one generating.
        attn_implementation: passed to ``from_pretrained`` (e.g. ``"sdpa"``, ``"flash_attention_2"``).
        system_prompt: replaces the sample's own system turn ("answer directly"); "" sends none.
        sort: sort items by expected length before batching.
        video_max_pixels: per-frame pixel bound (area) for the video processor; ``None`` keeps the
            processor's own. The in-training VIUBench callback takes the same bound, through the same
            preparation (:func:`videossr.vlm.video_inputs`).
    """

    name = "hf"

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 128,
        dtype: str = "auto",
        device: str | None = None,
        num_workers: int = 2,
        prefetch: int = 2,
        attn_implementation: str | None = None,
        system_prompt: str | None = None,
        sort: bool = True,
        video_max_pixels: int | None = None,
    ):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_id = model
        self.max_new_tokens = int(max_new_tokens)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            torch_dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        self.dtype = str(torch_dtype).replace("torch.", "")
        self.num_workers = max(1, int(num_workers))
        self.prefetch = max(1, int(prefetch))
        self.system_prompt = system_prompt
        self.sort = sort
        self.video_max_pixels = None if video_max_pixels is None else int(video_max_pixels)
        try:
            self.processor = AutoProcessor.from_pretrained(model)
        except OSError as err:  # missing folder, offline Hub id, no processor files
            raise BackendError(f"cannot load a processor from {model!r}: {err}") from err
        tokenizer = self.processor.tokenizer
        # Decoder-only generation needs the padding on the left so every row ends at its prompt.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        try:
            # Loaded straight onto the device: a real-size checkpoint never sits whole in CPU memory first.
            self.model = AutoModelForImageTextToText.from_pretrained(
                model, device_map=self.device, **kwargs
            ).eval()
        except (OSError, ValueError) as err:
            raise BackendError(f"cannot load a vision-language model from {model!r}: {err}") from err
        self.attn_implementation = self.model.config._attn_implementation
        # Idle processor copies, shared by the preparing threads (see prepare()).
        self._processors: queue.SimpleQueue = queue.SimpleQueue()

    # -- input preparation (runs on CPU worker threads) ------------------------------------------------
    def prepare(self, batch: Sequence[BenchItem]) -> tuple[list[BenchItem], Any, list[dict[str, Any]]]:
        """Decode a batch's frames and run the processor: returns ``(items, model inputs, records)``."""
        # Each preparing thread borrows its own processor copy: a fast tokenizer must not be used by two
        # threads at once (it mutates its padding state per call and can fail with "Already borrowed").
        # Copies go back to a pool, so repeated predict() calls (e.g. a Space) do not copy again.
        try:
            processor = self._processors.get_nowait()
        except queue.Empty:
            processor = copy.deepcopy(self.processor)
        try:
            return self._prepare(batch, processor)
        finally:
            self._processors.put(processor)

    def _prepare(
        self, batch: Sequence[BenchItem], processor: Any
    ) -> tuple[list[BenchItem], Any, list[dict[str, Any]]]:
        texts, videos, fps, records = [], [], [], []
        for item in batch:
            sample = item.sample()
            messages = sample.to_messages(videos="none", system=self.system_prompt)
            texts.append(processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
            videos += [np.asarray(clip) for clip in sample.videos]
            fps += [sample.fps] * len(sample.videos)
            records.append(_frames_record(sample.videos, sample.fps))
        inputs = vlm.video_inputs(processor, texts, videos, fps, max_pixels=self.video_max_pixels)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        for record, n in zip(records, lengths):
            record["prompt_tokens"] = int(n)
        return list(batch), inputs, records

    # -- generation ----------------------------------------------------------------------------------
    def generate(self, inputs: Any) -> list[str]:
        """Greedy replies for prepared inputs."""
        return vlm.greedy_replies(self.model, self.processor, inputs, self.max_new_tokens)

    def _batches(self, items: list[BenchItem], batch_size: int) -> list[list[BenchItem]]:
        vp = getattr(self.processor, "video_processor", None)
        if self.video_max_pixels is None or vp is None or not vlm.per_clip_bound(vp):
            return _chunks(items, batch_size)
        # A processor that bounds whole clips needs clips of one length per call for the bound to mean
        # the same per-frame budget: a batch never mixes items whose clips differ in length.
        batches: list[list[BenchItem]] = []
        for item in items:
            key = (item.num_videos, item.num_frames)
            last = batches[-1] if batches else None
            if last and len(last) < batch_size and (last[0].num_videos, last[0].num_frames) == key:
                last.append(item)
            else:
                batches.append([item])
        return batches

    def predict(self, items: Sequence[BenchItem], batch_size: int = 8) -> Iterator[list[Prediction]]:
        ordered = sorted(items, key=_sort_key) if self.sort else list(items)
        batches = self._batches(ordered, max(1, int(batch_size)))
        upcoming = iter(batches)
        with cf.ThreadPoolExecutor(self.num_workers) as pool:
            pending: deque[cf.Future] = deque()

            def fill() -> None:
                # Keep `prefetch` batches in preparation on the CPU threads while the model generates.
                while len(pending) < self.prefetch:
                    batch = next(upcoming, None)
                    if batch is None:
                        return
                    pending.append(pool.submit(self.prepare, batch))

            fill()
            while pending:
                batch, inputs, records = pending.popleft().result()
                fill()
                replies = self.generate(inputs)
                yield [Prediction(it, reply, rec) for it, reply, rec in zip(batch, replies, records)]

    def describe(self) -> dict[str, Any]:
        vp = getattr(self.processor, "video_processor", None)
        video_settings = {}
        if vp is not None:
            for key in (
                "size",
                "patch_size",
                "temporal_patch_size",
                "merge_size",
                "min_pixels",
                "max_pixels",
                "do_sample_frames",
                "fps",
                "image_mean",
                "image_std",
            ):
                value = getattr(vp, key, None)
                if value is None:
                    continue
                if isinstance(value, tuple):
                    value = list(value)
                elif not isinstance(value, (int, float, str, bool, list, dict)):
                    # SizeDict and friends: keep their set fields, not their repr.
                    fields = getattr(value, "__dict__", None)
                    value = {k: v for k, v in fields.items() if v is not None} if fields else str(value)
                video_settings[key] = value
            video_settings["class"] = type(vp).__name__
        template = getattr(self.processor, "chat_template", None) or ""
        import hashlib

        return {
            "backend": "hf",
            "model": self.model_id,
            "architecture": type(self.model).__name__,
            "dtype": self.dtype,
            "device": self.device,
            "attn_implementation": self.attn_implementation,
            "decoding": {"do_sample": False, "num_beams": 1, "max_new_tokens": self.max_new_tokens},
            "video_input": "frames as a video with video_metadata (real fps), do_sample_frames=False",
            # Only when set: runs at the processor's own bounds keep the description (and resume key)
            # they had.
            **({"video_max_pixels": self.video_max_pixels} if self.video_max_pixels is not None else {}),
            "video_processor": json.loads(json.dumps(video_settings, default=str)),
            "system_prompt": self.system_prompt,
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()[:16] if template else None,
            "padding_side": "left",
            "sorted_by_length": self.sort,
        }

    def close(self) -> None:
        del self.model


# --------------------------------------------------------------------------------------------------
# OpenAI-compatible endpoints
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Spec parsing
# --------------------------------------------------------------------------------------------------
def load_backend(spec: str, **options: Any) -> Backend:
    """Build a backend from a model spec.

    Args:
        spec: ``random``, ``random:prior``, ``heuristic``, ``hf:PATH_OR_ID`` or ``openai:URL#MODEL``.
        **options: backend keyword arguments. One that some backend takes but this one does not is
            ignored (so the CLI can pass its flags to every backend); one that no backend takes (a
            misspelling) raises :class:`BackendError`. ``None`` values are dropped.

    Example:
        >>> load_backend("random").describe()["grounding_guess"]
        'max_length'
    """
    import inspect

    kind, _, rest = spec.partition(":")
    if kind == "random":
        cls, args = RandomBackend, {"grounding": rest} if rest else {}
    elif kind == "heuristic":
        cls, args = HeuristicBackend, {}
    elif kind == "hf":
        if not rest:
            raise BackendError("hf backend needs a model: hf:PATH_OR_HUB_ID")
        cls, args = HFBackend, {"model": rest}
    elif kind == "openai":
        url, sep, model = rest.rpartition("#")
        if not sep or not url or not model:
            raise BackendError(
                "openai backend spec is openai:URL#MODEL, e.g. openai:http://localhost:8000/v1#Qwen/Qwen3-VL-8B-Instruct"
            )
        cls, args = OpenAIBackend, {"url": url, "model": model}
    else:
        raise BackendError(f"unknown model spec {spec!r}: use random, heuristic, hf:PATH or openai:URL#MODEL")
    backends = (RandomBackend, HeuristicBackend, HFBackend, OpenAIBackend)
    known = {"max_new_tokens"}.union(*(inspect.signature(c.__init__).parameters for c in backends)) - {"self"}
    unknown = sorted(set(options) - known)
    if unknown:  # a typo must not silently fall back to a default
        raise BackendError(
            f"unknown backend option {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
        )
    if cls is OpenAIBackend and options.get("max_new_tokens") is not None:
        options = {**options, "max_tokens": options["max_new_tokens"]}
    accepted = inspect.signature(cls.__init__).parameters
    for key, value in options.items():
        if value is not None and key in accepted and key not in args:
            args[key] = value
    return cls(**args)
