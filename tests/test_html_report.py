"""``harness report --html``: one self-contained file over the real example runs; it opens
in headless Chromium with no console error and no request but its own file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_metric_table import CPU, H100, _harness, example_store  # noqa: F401  (fixture)

CHROMIUM = "/usr/bin/chromium"
DPO = "20261126-192156-safety-dpo-de1f"


def test_report_holds_verdict_forest_gates_flips_and_nothing_external(example_store, tmp_path):  # noqa: F811
    out = tmp_path / "report.html"
    res = _harness("report", H100, "--store", str(example_store), "--html", str(out))
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert "capability unchanged · harm better · over-refusal worse (gate failed)" in html
    assert html.count('class="forest"') == 2                  # headline + per-category breakdown
    assert 'class="gate-bound"' in html                       # the gates' bounds drawn on the plot
    assert "xstest/over_refusal rose by 0.988" in html        # the gate table
    assert "items changed" in html and "Training" in html     # flips and training curves
    # nothing that could make a request: no script, no link, no url(), no src=
    assert not re.search(r"<script|<link|<img|<iframe|url\(|src=|href=|@import", html, re.I)


def test_two_machine_report_has_the_banner(example_store, tmp_path):  # noqa: F811
    out = tmp_path / "x.html"
    assert _harness("report", H100, CPU, "--store", str(example_store), "--html", str(out)).returncode == 2
    res = _harness("report", H100, CPU, "--store", str(example_store), "--html", str(out), "--force")
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert "Ran differently" in html and "accelerator: A 1× NVIDIA H100 80GB HBM3 vs B cpu" in html


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
def test_report_opens_offline_in_chromium(example_store, tmp_path):  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "report.html"
    assert _harness("report", H100, "--store", str(example_store), "--html", str(out)).returncode == 0
    requests, problems = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(out.as_uri())
        assert "over-refusal worse" in page.inner_text("body")
        assert page.locator("svg.forest circle").count() >= 7
        browser.close()
    assert requests == [out.as_uri()] and problems == []
