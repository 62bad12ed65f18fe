"""The dashboard in a real browser: ``harness dashboard`` serves the store made by the
real pipeline (see test_dashboard.build_store) and headless Chromium opens every page.
Also saves a screenshot of the Compare page (the README's image comes from
``scripts/dashboard_screenshot.py`` over real SmolLM2 runs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_dashboard import REPO, XSS, build_store

H100, CPU = "20261126-185752-naive-refusal-92b4", "20261126-185941-naive-refusal-c1b8"

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("dashboard-browser"))
    yield from _serve(store["dir"], tmp_path_factory.mktemp("server") / "server.log", store)


@pytest.fixture(scope="module")
def example_server(tmp_path_factory):
    """The dashboard over the real H100 and CPU naive-refusal runs (examples/runs)."""
    root = tmp_path_factory.mktemp("examples") / "runs"
    for name in (H100, CPU):
        subprocess.run([sys.executable, "-m", "harness.cli", "unpack", "--store", str(root),
                        str(REPO / "examples" / "runs" / f"{name}.tar.gz")], check=True, capture_output=True)
    yield from _serve(root, tmp_path_factory.mktemp("examples-server") / "server.log", {"dir": root})


def _serve(store_dir: Path, log: Path, store: dict):
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "dashboard", "--store", str(store_dir),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"dashboard server did not start:\n{log.read_text()}")
        time.sleep(0.5)
    yield url, store
    proc.terminate()  # the command forwards SIGTERM to the streamlit child
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1200})
    pg = ctx.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.external = []  # the Playwright request log, less what the dashboard itself serves
    pg.on("request", lambda r: pg.external.append(r.url)
          if not r.url.startswith(("http://127.0.0.1:", "data:", "blob:")) else None)
    yield pg
    ctx.close()
    assert pg.external == [], f"requests that left 127.0.0.1: {pg.external}"


def _open(page, url: str, heading: str, ready: str) -> None:
    """Load a page and wait until the script has finished running: the heading and the
    ``ready`` element are shown, nothing is stale and the running indicator is gone."""
    page.goto(url)
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)
    page.locator(ready).first.wait_for(timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')"
                           " && !document.querySelector('[data-stale=true]')", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("Page not found").count() == 0


def test_runs_page(server, page):
    url, store = server
    _open(page, f"{url}/?name=eval-tiny", "Runs", "[data-testid=stDataFrame]")
    assert page.locator("[data-testid=stDataFrame]").count() == 1
    assert page.get_by_text("1 / 5", exact=True).is_visible()  # the filter came from the URL
    assert page.get_by_text("Download these runs as CSV").is_visible()
    # The page links' icons are Material Symbols (a font Streamlit serves itself), not emoji that a
    # Chromium without emoji fonts draws as empty boxes; a glyph is one icon wide, not its ligature's text.
    links = page.locator("[data-testid=stPageLink]")
    assert links.count() == 3
    assert links.locator("[data-testid=stIconEmoji]").count() == 0
    icons = links.locator("[data-testid=stIconMaterial]")
    assert icons.count() == 3
    assert all(icons.nth(i).bounding_box()["width"] < 40 for i in range(3))


def test_compare_page_and_screenshot(server, page, tmp_path):
    url, store = server
    _open(page, f"{url}/compare?a={store['run']}", "Compare", "[data-testid=stVegaLiteChart]")
    for heading in ("Capability", "Gates"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    charts = page.locator("[data-testid=stVegaLiteChart]")
    charts.first.locator("canvas, svg").first.wait_for(timeout=30_000)
    assert charts.count() == 1  # the forest plot
    page.wait_for_timeout(500)  # let the charts finish drawing
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1200), 4000)})
    page.wait_for_timeout(500)
    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000


def test_items_page_shows_html_output_as_text(server, page):
    url, store = server
    probe = store["probe"]
    _open(page, f"{url}/items?a={store['xss']}&suite=quick-safety&item={probe['item_id']}", "Items",
          "[data-testid=stCode]")
    code = page.locator("[data-testid=stCode]").filter(has_text="<script>alert(1)</script>")
    assert code.count() >= 1 and XSS in code.first.inner_text()
    injected = page.evaluate("""() => ({
        scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(')).length,
        images: document.querySelectorAll('img[src="x"]').length})""")
    assert injected == {"scripts": 0, "images": 0}
    page.wait_for_timeout(500)
    assert page.dialogs == []


def test_run_page(server, page):
    url, store = server
    _open(page, f"{url}/run?run={store['run']}", "Run", "[data-testid=stTabs]")
    assert page.get_by_role("tab", name="Training").is_visible()
    page.get_by_role("tab", name="Training").click()
    page.locator("[data-testid=stVegaLiteChart]:visible").first.wait_for(timeout=30_000)
    _open(page, f"{url}/run?run={store['corrupt']}", "Run", "[data-testid=stAlert]")
    assert page.get_by_text("run.json of this run cannot be parsed").is_visible()


def test_naive_refusal_verdict_and_forest_plot_fit_the_first_screen(example_server, page):
    url, _ = example_server
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, f"{url}/compare?a={H100}", "Compare", "[data-testid=stVegaLiteChart]")
    verdict = page.get_by_role("heading", name="capability unchanged · harm better · over-refusal worse (gate failed)")
    chart = page.locator("[data-testid=stVegaLiteChart]").first
    chart.locator("canvas, svg").first.wait_for(timeout=30_000)
    for element in (verdict, chart):
        box = element.bounding_box()
        assert box is not None and box["y"] + min(box["height"], 200) < 1000  # visible without scrolling


def test_h100_against_cpu_shows_the_banner_and_the_verdict(example_server, page):
    url, _ = example_server
    _open(page, f"{url}/compare?mode=two&a={H100}&b={CPU}", "Compare", "[data-testid=stAlert]")
    assert page.get_by_text("did not measure the same thing").is_visible()    # max_new_tokens differs
    page.get_by_text("advbench: settings differ (max_new_tokens: A 64 vs B 48)").wait_for(timeout=30_000)
    _open(page, f"{url}/compare?mode=two&a={H100}&b={CPU}&force=1", "Compare", "[data-testid=stVegaLiteChart]")
    banner = page.locator("[data-testid=stAlert]").filter(has_text="Ran differently")
    assert banner.is_visible()
    text = banner.inner_text()
    assert "A = 1× NVIDIA H100 80GB HBM3, B = cpu" in text and "dtype: A bfloat16 vs B float32" in text
    assert page.get_by_role("heading").filter(has_text="capability").first.is_visible()
