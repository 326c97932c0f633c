"""VideoSSR in the browser: make a self-supervised question from a video, answer it, see the
verifier's verdict.

Run locally with ``python space/app.py`` (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` pick the address);
on Hugging Face Spaces that file is the ``app_file`` and calls :func:`main` here. The page is put together
here from its two tabs (``tabs.py``); the logic lives in ``handlers.py`` as plain functions. Scriptable
with ``gradio_client``: ``/generate``, ``/answer``, ``/reveal`` and ``/bench`` (see the "Use it from
Python" section of the page).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from .handlers import (
    Context,
    Settings,
    max_clips,
    option_widgets,
)
from .tabs import bench_tab, task_tab, wire_bench_tab, wire_task_tab
from .uploads import NOT_AN_UPLOAD

#: The app's checkout (the folder above ``space/``): one of the server folders no message names.
CHECKOUT = Path(__file__).resolve().parents[2]
log = logging.getLogger("videossr.space")

INTRO = """
# VideoSSR: questions a video answers about itself
Pick a video and a pretext task from the [VideoSSR paper](https://arxiv.org/abs/2511.06281). The app
perturbs or rearranges the frames, so the right answer is known by construction. Then answer it yourself,
or let a baseline or a model try, and see the paper's reward and the VIUBench score of the reply.
"""

CSS = """
#question textarea { font-size: 0.95rem; }
.verdict { min-height: 2.5em; }
.hint { font-size: 0.8rem; opacity: 0.75; }
"""


#: Server folders named in no message sent to a caller (added to by every app built in this process).
_SERVER_FOLDERS: set[str] = set()


def path_scrubber(settings: Settings, *extra: str | os.PathLike) -> Callable[[str], str]:
    """A function that replaces this server's folders in a message by ``<server>``.

    The folders: the sample store, the working directory, the temp dir, gradio's upload folder, the
    app's checkout, the Python installation and the home folder (each as given and resolved). gradio's
    own refusals (``show_error=True``) name some of them, e.g. "... the current working directory
    (/srv/app), your system's temp directory (/tmp) ...": the caller learns nothing from them but the
    server's layout.
    """
    from gradio.utils import get_upload_folder

    candidates = [
        settings.tmp_root,
        os.getcwd(),
        tempfile.gettempdir(),
        get_upload_folder(),
        CHECKOUT,
        sys.prefix,
        sys.base_prefix,
        Path.home(),
        *extra,
    ]
    for folder in candidates:
        if folder:
            for form in (str(folder), str(Path(folder).resolve())):
                if len(form.rstrip("/")) > 1:  # never "/" itself
                    _SERVER_FOLDERS.add(form.rstrip("/"))

    def scrub(message: str) -> str:
        for folder in sorted(_SERVER_FOLDERS, key=len, reverse=True):  # longest first: nested folders
            message = message.replace(folder, "<server>")
        return message

    return scrub


def install_error_scrubber(scrub: Callable[[str], str]) -> None:
    """Pass every error message gradio sends to a caller through ``scrub`` (idempotent).

    gradio builds those messages in ``gradio.utils.error_payload`` (the queue imports it by name), after
    our handlers have returned, so the app wraps that function: ours carry no paths, gradio's may.

    gradio's refusal of a file path that was never uploaded (``InvalidPathError``, raised before any
    handler runs) names the path resolved against the server's working directory: ``../x/secret.mp4``
    comes back as ``Cannot move /srv/x/secret.mp4 ...``, a folder no list of known folders covers. That
    refusal is replaced as a whole by the app's own (:data:`uploads.NOT_AN_UPLOAD`), which names no path.
    """
    import gradio.queueing
    import gradio.utils
    from gradio.exceptions import InvalidPathError

    original = getattr(gradio.utils.error_payload, "__wrapped__", gradio.utils.error_payload)

    @functools.wraps(original)
    def error_payload(error: BaseException | None, show_error: bool) -> dict:
        if isinstance(error, InvalidPathError):
            error = gr.Error(NOT_AN_UPLOAD, print_exception=False)
        content = original(error, show_error)
        if isinstance(content.get("error"), str):
            content["error"] = scrub(content["error"])
        return content

    gradio.utils.error_payload = error_payload
    gradio.queueing.error_payload = error_payload  # imported by name there


def build_demo(ctx: Context | None = None) -> gr.Blocks:
    """The Blocks app around one :class:`handlers.Context` (a fresh one from the environment by default).

    Two tabs, each laid out by one function and wired by another (:mod:`videossr_space.tabs`). The
    registered tasks (``videossr.tasks.TASKS``) are read now: the task list, one option widget per option
    keyword, and as many clip players as the task with the most clips can show.
    """
    ctx = ctx or Context(Settings.from_env())
    settings = ctx.settings
    assert ctx.store is not None
    install_error_scrubber(path_scrubber(settings, ctx.store.root))
    # One widget per option keyword the registered tasks declare with choices, with their choices, labels
    # and help. perturbation and difficulty are /generate's fourth and fifth inputs; the others (a task's
    # own options, e.g. the jigsaw's clips) follow the seed, empty unless chosen.
    widgets = option_widgets()
    players = max_clips()
    with gr.Blocks(title="VideoSSR pretext tasks", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Try a task"):
            tab = task_tab(ctx, widgets, players)
        with gr.Tab("VIUBench"):
            bench = bench_tab()
        wire_task_tab(ctx, tab, widgets, players)
        wire_bench_tab(ctx, bench, demo)

    # One queue for everything; heavy work ("work": decoding, generation, models) is limited to
    # `concurrency` at a time, and at most `queue_size` requests wait.
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    demo.videossr_context = ctx  # type: ignore[attr-defined] - for tests and for cleanup at exit
    return demo


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """``launch()`` arguments shared by ``main`` and the tests."""
    assert settings is not None
    return {
        "max_file_size": f"{int(settings.max_upload_mb)}mb",
        # Our own errors are friendly messages already (tracebacks stay in the server log). Showing errors
        # lets gradio's refusals of bad payloads (a path that was never uploaded, missing inputs) reach the
        # caller as their message instead of {"error": null}.
        "show_error": True,
        "theme": gr.themes.Soft(),
        "css": CSS,
        "footer_links": ["api", "gradio"],
    }


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # Spaces and container runtimes stop apps with SIGTERM, which by default skips atexit; turning it into
    # the Ctrl-C path lets gradio shut down and the temporary files be removed.
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal request is noise
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # A cache folder of the app's own: the Space bounds it (Settings.cache_max_mb / cache_max_files) and
    # must not sweep another gradio app's files out of the shared default /tmp/gradio.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "videossr-space-gradio"))
    demo = build_demo()
    ctx: Context = demo.videossr_context  # type: ignore[attr-defined]
    atexit.register(ctx.close)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT when set (gradio reads them).
    demo.launch(**launch_kwargs(ctx.settings))


if __name__ == "__main__":
    main()
