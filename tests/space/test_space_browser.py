"""The Space in a real browser: Debian's Chromium driven by Playwright's Python package.

Never runs ``playwright install``: it uses /usr/bin/chromium (installed by the project's set-up) and skips
cleanly where that browser is absent. Set ``VIDEOSSR_SPACE_SCREENSHOT=path.png`` to also keep the
screenshot (that is how docs/space.png is made).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SPACE = Path(__file__).resolve().parents[2] / "space"
sys.path.insert(0, str(SPACE))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    pytest.importorskip("gradio")
    from videossr_space import handlers
    from videossr_space import ui as app

    tmp = tmp_path_factory.mktemp("space-browser")
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")  # gradio's served copies stay in the test's folder
    settings = handlers.Settings(tmp_root=tmp / "store", keep=16)
    ctx = handlers.Context(settings)
    demo = app.build_demo(ctx)
    port = free_port()
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **app.launch_kwargs(settings),
    )
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        ctx.close()
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


def test_page_generates_and_scores_a_task(url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            page.get_by_role("button", name="Generate task").click(timeout=60_000)

            question = page.locator("#question textarea")
            sync_api.expect(question).to_have_value(
                __import__("re").compile("time interval"), timeout=90_000
            )  # grounding on the default example
            sync_api.expect(page.locator("#main-video video")).to_have_count(1, timeout=30_000)

            # Let the heuristic solver answer, then check the verdict and the timeline.
            page.get_by_label("Who answers?").click()
            page.get_by_role("option", name="Heuristic solver (classical vision, no learning)").click()
            page.get_by_role("button", name="Check answer").click()
            sync_api.expect(page.locator("#verdict")).to_contain_text("reward", timeout=90_000)
            sync_api.expect(page.locator("#timeline img")).to_have_count(1, timeout=30_000)

            # Layout events still work from the page (they refuse calls by name, not the page's own).
            difficulty = page.get_by_text("Difficulty", exact=True)
            sync_api.expect(difficulty).to_be_hidden(timeout=10_000)
            page.get_by_label("Object counting").check()
            sync_api.expect(difficulty).to_be_visible(timeout=30_000)
            page.get_by_label("Anomaly grounding").check()
            sync_api.expect(difficulty).to_be_hidden(timeout=30_000)

            shot = tmp_path / "space.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("VIDEOSSR_SPACE_SCREENSHOT")
            if keep:
                shutil.copy(shot, keep)
            assert not errors, errors
        finally:
            browser.close()
