"""VideoSSR in the browser: make a self-supervised question from a video, answer it, see the
verifier's verdict.

Run locally with ``python space/app.py`` (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` pick the address);
on Hugging Face Spaces that file is the ``app_file`` and calls :func:`main` here. The layout lives here;
the logic lives in ``handlers.py`` as plain functions. Scriptable with ``gradio_client``: ``/generate``,
``/answer``, ``/reveal`` and ``/bench`` (see the "Use it from Python" section of the page).
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from videossr.metrics import viubench_subtypes
from videossr.tasks import TASKS, task_name_of_subtype

from . import handlers
from .handlers import MAX_CLIPS, MAX_SEED, Context, Settings, option_widgets, task_choices
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

API_HELP = """
```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")  # or the Space name
video, *clips, question, sample_id, info = client.predict(
    None, "gradio/world.mp4", "anomaly_grounding", "mirror", "easy", 0, api_name="/generate"
)  # for your own video, pass handle_file("my.mp4") as the first argument
reply, reward, score, exact, verdict, answer, plot = client.predict(
    sample_id, "heuristic", "", "strict", "", "", "", api_name="/answer"
)
```
Answerers: `person` (pass your reply as the third argument), `random`, `heuristic`, and any models the
operator configured (`model:<name>`). Generated tasks are kept for a while, then deleted.
"""

CSS = """
#question textarea { font-size: 0.95rem; }
.verdict { min-height: 2.5em; }
.hint { font-size: 0.8rem; opacity: 0.75; }
"""


def page_only(request: gr.Request | None) -> None:
    """Refuse a layout-only event called by name (``/gradio_api/call/on_task``...) instead of by the page.

    These events are ``api_visibility="private"``: out of the API docs and refused by gradio_client. In
    gradio 6.31 a private event still answers a raw HTTP call to its name, so each one checks the route
    it was reached by. The page itself calls events by number (``/run/predict``, ``/queue/join``).
    """
    params = getattr(request, "path_params", None) if request is not None else None
    name = params.get("api_name") if params is not None else None  # a dict, or gradio's dict-like Obj
    if name not in (None, "predict"):
        raise gr.Error("This event belongs to the page and is not part of the API.")


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


def _with_options(fn: Callable[..., Any], keys: list[str]) -> inspect.Signature:
    """``fn``'s signature, its ``*extra`` replaced by one keyword parameter per option (default ``None``)."""
    signature = inspect.signature(fn)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    extra = [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for k in keys]
    return signature.replace(parameters=[*fixed, *extra])


def build_demo(ctx: Context | None = None) -> gr.Blocks:
    """The Blocks app around one :class:`handlers.Context` (a fresh one from the environment by default)."""
    ctx = ctx or Context(Settings.from_env())
    settings = ctx.settings
    assert ctx.store is not None
    install_error_scrubber(path_scrubber(settings, ctx.store.root))
    example_names = list(handlers.examples())
    tasks = task_choices()  # every registered task (videossr.tasks.TASKS), read now

    # -- glue between components and handlers ------------------------------------------------------
    # One widget per option keyword the registered tasks declare with choices (read now), with their
    # choices, labels and help. perturbation and difficulty are /generate's fourth and fifth inputs; the
    # others (a task's own options, e.g. the jigsaw's clips) follow the seed, empty unless chosen.
    widgets = option_widgets()
    extra_keys = [w.key for w in widgets[2:]]

    def on_generate(
        upload: Any, example: str, task: str, perturbation: Any, difficulty: Any, seed: Any, *extra: Any
    ):
        # Plain values (file paths, text, JSON) so gradio_client users get data, not component updates;
        # which players are visible is decided by `after_generate`, chained below. make_task gives each
        # task only the options it declares.
        options = {k: v for k, v in zip(extra_keys, extra) if v is not None}
        result = handlers.generate(ctx, upload, example, task, perturbation, difficulty, seed, **options)
        single = len(result.videos) == 1
        clips = [None] * MAX_CLIPS
        if not single:
            clips[: len(result.videos)] = result.videos
        return (result.videos[0] if single else None), *clips, result.question, result.sample_id, result.info

    # The extra options as keyword parameters with a default of None: gradio_client then fills any a caller
    # leaves out, so /generate called with its first six values keeps working.
    on_generate.__signature__ = _with_options(on_generate, extra_keys)

    @handlers.friendly("updating the page")
    def after_generate(info: dict | None, request: gr.Request):
        page_only(request)
        info = info if isinstance(info, dict) else {}
        count = int(info.get("num_videos") or 1)
        clips = count if count > 1 else 0
        try:  # the timeline plot is for tasks that have a timeline view (grounding)
            timeline = handlers.has_timeline(task_name_of_subtype(str(info.get("subtype", ""))))
        except ValueError:
            timeline = False
        return (
            gr.Video(visible=clips == 0),
            *(gr.Video(visible=i < clips) for i in range(MAX_CLIPS)),
            "",
            None,
            None,
            None,
            "",
            "",
            gr.Plot(value=None, visible=timeline),
        )

    @handlers.friendly("answering")
    def on_answer(sample_id: str, who: str, typed: str, parsing: str, url: str, model: str, key: str):
        verdict = handlers.answer(ctx, sample_id, who, typed, parsing, url, model, key)
        figure = handlers.timeline_figure(verdict)
        return (
            verdict.reply,
            round(verdict.reward, 4),
            round(verdict.score, 4),
            verdict.exact,
            verdict.summary,
            verdict.answer,
            figure,
        )

    def on_reveal(sample_id: str) -> str:
        return handlers.reveal(ctx, sample_id)

    @handlers.friendly("loading the benchmark table")
    def on_bench():
        table = handlers.bench_table(settings.results_dir)
        return table, handlers.bench_figure(table)

    @handlers.friendly("loading the benchmark table")
    def on_load(request: gr.Request):
        page_only(request)
        return on_bench()

    @handlers.friendly("updating the page")
    def on_task(task: str, request: gr.Request):
        # Each task shows the option widgets it declares in its `options` (see handlers.make_task).
        page_only(request)
        options = TASKS[task].options if task in TASKS else {}
        return tuple(gr.update(visible=w.key in options) for w in widgets)

    @handlers.friendly("updating the page")
    def on_answerer(who: str, request: gr.Request):
        page_only(request)
        return gr.Textbox(visible=who == "person"), gr.Group(visible=who == "custom_endpoint")

    @handlers.friendly("checking the upload")
    def on_upload(upload: Any, request: gr.Request) -> None:
        page_only(request)
        try:
            if upload:
                handlers.check_upload(upload, settings)  # a refused upload is deleted at once
                gr.Info("Video accepted. Generate a task from it.")
        finally:
            handlers.sweep_cache(settings)

    # -- layout ------------------------------------------------------------------------------------
    with gr.Blocks(title="VideoSSR pretext tasks", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Try a task"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=280):
                    example = gr.Dropdown(
                        example_names,
                        value=handlers.default_example(),
                        label="Example video",
                        info="Short clips bundled with installed packages.",
                    )
                    upload = gr.Video(sources=["upload"], label="…or upload your own", height=170)
                    gr.Markdown(
                        f"Uploads: up to {settings.max_upload_mb:.0f} MB and "
                        f"{settings.max_duration_s:.0f} s; an upload is used instead of the example.",
                        elem_classes=["hint"],
                    )
                    task = gr.Radio(tasks, value=tasks[0][1], label="Task")
                    option_inputs = []
                    first = TASKS[tasks[0][1]].options
                    for w in widgets:
                        # A radio for a handful of choices, a dropdown for more; shown for the tasks that
                        # take it.
                        kind = gr.Radio if len(w.choices) <= 4 else gr.Dropdown
                        option_inputs.append(
                            kind(
                                list(w.choices),
                                value=w.value,
                                label=w.key.replace("_", " ").capitalize(),
                                visible=w.key in first,
                                info=w.info,
                            )
                        )
                    perturbation, difficulty, *extra_inputs = option_inputs
                    seed = gr.Number(0, minimum=0, maximum=MAX_SEED, step=1, label="Seed")
                    generate_btn = gr.Button("Generate task", variant="primary")
                with gr.Column(scale=3):
                    main_video = gr.Video(label="Video", interactive=False, height=300, elem_id="main-video")
                    clip_players: list[gr.Video] = []
                    for row_start in range(0, MAX_CLIPS, 4):
                        with gr.Row():
                            for i in range(row_start, row_start + 4):
                                clip_players.append(
                                    gr.Video(
                                        label=f"Clip {i + 1}",
                                        interactive=False,
                                        visible=False,
                                        height=150,
                                        min_width=120,
                                        loop=True,
                                    )
                                )
                    question = gr.Textbox(
                        label="Question (as the model reads it; <video> marks where a video goes)",
                        lines=4,
                        interactive=False,
                        elem_id="question",
                    )
                    with gr.Row():
                        sample_id = gr.Textbox(label="Task id (for /answer)", interactive=False, scale=2)
                        reveal_btn = gr.Button("Show answer", scale=1)
                        true_answer = gr.Textbox(label="True answer", interactive=False, scale=1)
                    with gr.Accordion("Generation details", open=False):
                        info = gr.JSON(label="Sample")
            with gr.Group():
                with gr.Row(equal_height=False):
                    who = gr.Dropdown(
                        [(a.label, a.key) for a in ctx.menu], value="person", label="Who answers?", scale=2
                    )
                    typed = gr.Textbox(
                        label="Your answer",
                        placeholder="e.g. 2.5-4.0  ·  3,1,4  ·  312645",
                        scale=2,
                        max_length=2000,
                    )
                    parsing = gr.Radio(
                        ["strict", "lenient"],
                        value="strict",
                        label="Parsing",
                        scale=1,
                        info="strict: the paper's verifiers; lenient: also reads natural phrasing",
                    )
                with gr.Group(visible=False) as endpoint_box:
                    with gr.Row():
                        url = gr.Textbox(label="Endpoint URL", placeholder="http://127.0.0.1:8000/v1")
                        model = gr.Textbox(label="Model name")
                        key = gr.Textbox(label="API key (used for this call only)", type="password")
            answer_btn = gr.Button("Check answer", variant="primary")
            with gr.Row():
                reply = gr.Textbox(label="Reply", interactive=False, scale=3)
                reward = gr.Number(label="Reward (paper, smooth)", interactive=False, scale=1)
                score = gr.Number(label="VIUBench score", interactive=False, scale=1)
                exact = gr.Number(label="Exact (0/1)", interactive=False, scale=1)
            verdict = gr.Markdown(
                label="Verdict", show_label=False, elem_id="verdict", elem_classes=["verdict"]
            )
            timeline = gr.Plot(
                label="Timeline: true vs predicted interval", visible=False, format="png", elem_id="timeline"
            )
            with gr.Accordion("Use it from Python", open=False):
                gr.Markdown(API_HELP)

        with gr.Tab("VIUBench"):
            gr.Markdown(
                f"VIUBench: {len(viubench_subtypes())} subtypes x 300 questions. Rows marked *paper* are the "
                "paper's Table 1 (empty in the columns of tasks added since); rows "
                "marked *local* come from `videossr bench` result files in the folder named by "
                "`VIDEOSSR_SPACE_RESULTS`."
            )
            bench_df = gr.Dataframe(label="Scores (%)", interactive=False, wrap=True, max_height=520)
            bench_plot = gr.Plot(label="Task averages and Overall", format="png")
            refresh = gr.Button("Reload local results")

        # -- events ------------------------------------------------------------------------------------
        task.change(on_task, task, option_inputs, api_visibility="private", queue=False)
        who.change(on_answerer, who, [typed, endpoint_box], api_visibility="private", queue=False)
        upload.upload(on_upload, upload, None, api_visibility="private", concurrency_id="work")
        gen = generate_btn.click(
            on_generate,
            [upload, example, task, perturbation, difficulty, seed, *extra_inputs],
            [main_video, *clip_players, question, sample_id, info],
            api_name="generate",
            api_description=(
                "Generate one pretext task; returns the video (or jigsaw clips), question, task id, details."
            ),
            concurrency_id="work",
            # The handler checks every input itself (handlers.generate), with the app's own messages:
            # gr.Number would round a seed of 1.5 silently and answer `abc`, `nan`, `inf` or 400 digits
            # with a generic error. gradio still refuses file paths that were never uploaded first.
            preprocess=False,
        )
        gen.success(
            after_generate,
            info,
            [main_video, *clip_players, reply, reward, score, exact, verdict, true_answer, timeline],
            api_visibility="private",
            queue=False,
        )
        answer_btn.click(
            on_answer,
            [sample_id, who, typed, parsing, url, model, key],
            [reply, reward, score, exact, verdict, true_answer, timeline],
            api_name="answer",
            api_description="Answer a generated task (person/random/heuristic/model) and verify the reply.",
            concurrency_id="work",
        )
        reveal_btn.click(on_reveal, sample_id, true_answer, api_name="reveal", concurrency_id="light")
        refresh.click(on_bench, None, [bench_df, bench_plot], api_name="bench", concurrency_id="light")
        demo.load(on_load, None, [bench_df, bench_plot], api_visibility="private")

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
