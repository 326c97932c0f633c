"""The page's two tabs, each laid out by one function and wired by another: "Try a task"
(:func:`task_tab`, :func:`wire_task_tab`) and "VIUBench" (:func:`bench_tab`, :func:`wire_bench_tab`).
:func:`videossr_space.ui.build_demo` puts them together; what each event does is ``handlers``'.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gradio as gr

from videossr.metrics import viubench_subtypes
from videossr.tasks import TASKS, task_name_of_subtype

from . import handlers
from .handlers import MAX_SEED, Context, OptionWidget, Settings, task_choices

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


def _with_options(fn: Callable[..., Any], keys: list[str]) -> inspect.Signature:
    """``fn``'s signature, its ``*extra`` replaced by one keyword parameter per option (default ``None``)."""
    signature = inspect.signature(fn)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    extra = [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for k in keys]
    return signature.replace(parameters=[*fixed, *extra])


# -- the "Try a task" tab --------------------------------------------------------------------------------
def task_tab(ctx: Context, widgets: list[OptionWidget], players: int) -> SimpleNamespace:
    """The task tab's layout: the form, the players and question, the answer box. Returns its components."""
    tab = SimpleNamespace()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            _task_form(tab, ctx.settings, widgets)
        with gr.Column(scale=3):
            _task_players(tab, players)
    _answer_box(tab, ctx)
    return tab


def _task_form(tab: SimpleNamespace, settings: Settings, widgets: list[OptionWidget]) -> None:
    """The video, the task, its options and the seed."""
    tasks = task_choices()  # every registered task (videossr.tasks.TASKS), read now
    tab.example = gr.Dropdown(
        list(handlers.examples()),
        value=handlers.default_example(),
        label="Example video",
        info="Short clips bundled with installed packages.",
    )
    tab.upload = gr.Video(sources=["upload"], label="…or upload your own", height=170)
    gr.Markdown(
        f"Uploads: up to {settings.max_upload_mb:.0f} MB and "
        f"{settings.max_duration_s:.0f} s; an upload is used instead of the example.",
        elem_classes=["hint"],
    )
    tab.task = gr.Radio(tasks, value=tasks[0][1], label="Task")
    tab.option_inputs = []
    first = TASKS[tasks[0][1]].options
    for w in widgets:
        # A radio for a handful of choices, a dropdown for more; shown for the tasks that take it.
        kind = gr.Radio if len(w.choices) <= 4 else gr.Dropdown
        tab.option_inputs.append(
            kind(
                list(w.choices),
                value=w.value,
                label=w.key.replace("_", " ").capitalize(),
                visible=w.key in first,
                info=w.info,
            )
        )
    tab.seed = gr.Number(0, minimum=0, maximum=MAX_SEED, step=1, label="Seed")
    tab.generate_btn = gr.Button("Generate task", variant="primary")


def _task_players(tab: SimpleNamespace, players: int) -> None:
    """One player for a single video, ``players`` clip players (four a row), the question and its id."""
    tab.main_video = gr.Video(label="Video", interactive=False, height=300, elem_id="main-video")
    tab.clip_players = []
    for row_start in range(0, players, 4):
        with gr.Row():
            for i in range(row_start, min(row_start + 4, players)):
                tab.clip_players.append(
                    gr.Video(
                        label=f"Clip {i + 1}",
                        interactive=False,
                        visible=False,
                        height=150,
                        min_width=120,
                        loop=True,
                    )
                )
    tab.question = gr.Textbox(
        label="Question (as the model reads it; <video> marks where a video goes)",
        lines=4,
        interactive=False,
        elem_id="question",
    )
    with gr.Row():
        tab.sample_id = gr.Textbox(label="Task id (for /answer)", interactive=False, scale=2)
        tab.reveal_btn = gr.Button("Show answer", scale=1)
        tab.true_answer = gr.Textbox(label="True answer", interactive=False, scale=1)
    with gr.Accordion("Generation details", open=False):
        tab.info = gr.JSON(label="Sample")


def _answer_box(tab: SimpleNamespace, ctx: Context) -> None:
    """Who answers (a person, a baseline, a model or an endpoint), the reply and its verdict."""
    with gr.Group():
        with gr.Row(equal_height=False):
            tab.who = gr.Dropdown(
                [(a.label, a.key) for a in ctx.menu], value="person", label="Who answers?", scale=2
            )
            tab.typed = gr.Textbox(
                label="Your answer",
                placeholder="e.g. 2.5-4.0  ·  3,1,4  ·  312645",
                scale=2,
                max_length=2000,
            )
            tab.parsing = gr.Radio(
                ["strict", "lenient"],
                value="strict",
                label="Parsing",
                scale=1,
                info="strict: the paper's verifiers; lenient: also reads natural phrasing",
            )
        with gr.Group(visible=False) as tab.endpoint_box:
            with gr.Row():
                tab.url = gr.Textbox(label="Endpoint URL", placeholder="http://127.0.0.1:8000/v1")
                tab.model = gr.Textbox(label="Model name")
                tab.key = gr.Textbox(label="API key (used for this call only)", type="password")
    tab.answer_btn = gr.Button("Check answer", variant="primary")
    with gr.Row():
        tab.reply = gr.Textbox(label="Reply", interactive=False, scale=3)
        tab.reward = gr.Number(label="Reward (paper, smooth)", interactive=False, scale=1)
        tab.score = gr.Number(label="VIUBench score", interactive=False, scale=1)
        tab.exact = gr.Number(label="Exact (0/1)", interactive=False, scale=1)
    tab.verdict = gr.Markdown(label="Verdict", show_label=False, elem_id="verdict", elem_classes=["verdict"])
    tab.timeline = gr.Plot(
        label="Timeline: true vs predicted interval", visible=False, format="png", elem_id="timeline"
    )
    with gr.Accordion("Use it from Python", open=False):
        gr.Markdown(API_HELP)


def _generate_events(ctx: Context, extra_keys: list[str], players: int) -> tuple[Callable, Callable]:
    """``/generate`` and the page update chained after it."""

    def on_generate(
        upload: Any, example: str, task: str, perturbation: Any, difficulty: Any, seed: Any, *extra: Any
    ):
        # Plain values (file paths, text, JSON) so gradio_client users get data, not component updates;
        # which players are visible is decided by `after_generate`, chained below. make_task gives each
        # task only the options it declares.
        options = {k: v for k, v in zip(extra_keys, extra) if v is not None}
        result = handlers.generate(ctx, upload, example, task, perturbation, difficulty, seed, **options)
        single = len(result.videos) == 1
        clips = [None] * players
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
            *(gr.Video(visible=i < clips) for i in range(players)),
            "",
            None,
            None,
            None,
            "",
            "",
            gr.Plot(value=None, visible=timeline),
        )

    return on_generate, after_generate


def _answer_events(ctx: Context) -> tuple[Callable, Callable]:
    """``/answer`` and ``/reveal``."""

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

    return on_answer, on_reveal


def _page_events(ctx: Context, widgets: list[OptionWidget]) -> tuple[Callable, Callable, Callable]:
    """The page's own events (never part of the API): the task's option widgets, the answerer's fields,
    an upload's check."""

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
                handlers.check_upload(upload, ctx.settings)  # a refused upload is deleted at once
                gr.Info("Video accepted. Generate a task from it.")
        finally:
            handlers.sweep_cache(ctx.settings)

    return on_task, on_answerer, on_upload


def wire_task_tab(ctx: Context, tab: SimpleNamespace, widgets: list[OptionWidget], players: int) -> None:
    """The task tab's events: ``/generate``, ``/answer``, ``/reveal`` and the page's own."""
    on_generate, after_generate = _generate_events(ctx, [w.key for w in widgets[2:]], players)
    on_answer, on_reveal = _answer_events(ctx)
    on_task, on_answerer, on_upload = _page_events(ctx, widgets)
    perturbation, difficulty, *extra_inputs = tab.option_inputs
    scores = [tab.reply, tab.reward, tab.score, tab.exact, tab.verdict, tab.true_answer, tab.timeline]
    tab.task.change(on_task, tab.task, tab.option_inputs, api_visibility="private", queue=False)
    tab.who.change(on_answerer, tab.who, [tab.typed, tab.endpoint_box], api_visibility="private", queue=False)
    tab.upload.upload(on_upload, tab.upload, None, api_visibility="private", concurrency_id="work")
    gen = tab.generate_btn.click(
        on_generate,
        [tab.upload, tab.example, tab.task, perturbation, difficulty, tab.seed, *extra_inputs],
        [tab.main_video, *tab.clip_players, tab.question, tab.sample_id, tab.info],
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
        tab.info,
        [tab.main_video, *tab.clip_players, *scores],
        api_visibility="private",
        queue=False,
    )
    tab.answer_btn.click(
        on_answer,
        [tab.sample_id, tab.who, tab.typed, tab.parsing, tab.url, tab.model, tab.key],
        scores,
        api_name="answer",
        api_description="Answer a generated task (person/random/heuristic/model) and verify the reply.",
        concurrency_id="work",
    )
    tab.reveal_btn.click(on_reveal, tab.sample_id, tab.true_answer, api_name="reveal", concurrency_id="light")


# -- the VIUBench tab ------------------------------------------------------------------------------------
def bench_tab() -> SimpleNamespace:
    """Table 1 (the paper's rows and the local results) and its plot."""
    tab = SimpleNamespace()
    gr.Markdown(
        f"VIUBench: {len(viubench_subtypes())} subtypes x 300 questions. Rows marked *paper* are the "
        "paper's Table 1 (empty in the columns of tasks added since); rows "
        "marked *local* come from `videossr bench` result files in the folder named by "
        "`VIDEOSSR_SPACE_RESULTS`."
    )
    tab.table = gr.Dataframe(label="Scores (%)", interactive=False, wrap=True, max_height=520)
    tab.plot = gr.Plot(label="Task averages and Overall", format="png")
    tab.refresh = gr.Button("Reload local results")
    return tab


def wire_bench_tab(ctx: Context, tab: SimpleNamespace, demo: gr.Blocks) -> None:
    """``/bench`` (reload the local results) and the table shown when the page loads."""
    settings = ctx.settings

    @handlers.friendly("loading the benchmark table")
    def on_bench():
        table = handlers.bench_table(settings.results_dir)
        return table, handlers.bench_figure(table)

    @handlers.friendly("loading the benchmark table")
    def on_load(request: gr.Request):
        page_only(request)
        return on_bench()

    tab.refresh.click(on_bench, None, [tab.table, tab.plot], api_name="bench", concurrency_id="light")
    demo.load(on_load, None, [tab.table, tab.plot], api_visibility="private")
