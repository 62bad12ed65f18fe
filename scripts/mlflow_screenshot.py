"""Two harness runs in a real MLflow server, and a screenshot of MLflow's run comparison.

    python scripts/mlflow_screenshot.py --out docs/img/mlflow-compare.png

Starts ``mlflow server`` (sqlite backend, in a temporary folder) on a free port, runs
``recipes/quickstart.toml`` twice through ``harness run`` with the ``mlflow`` reporter
(SFT shortened to ``--sft-steps``; the second run with a higher DPO ``beta``), opens MLflow's compare-runs page for the two runs
in headless Chromium and saves the PNG. Costs about two quickstart runs of CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recipe(folder: Path, uri: str, beta: str, sft_steps: int) -> Path:
    text = (ROOT / "recipes" / "quickstart.toml").read_text()
    text = text.replace("beta = 0.1", f"beta = {beta}").replace("max_steps = 100", f"max_steps = {sft_steps}")
    text = text.replace('path = "../plugins/', f'path = "{ROOT}/plugins/')
    text += f'\n[[report]]\nreporter = "mlflow"\ntracking_uri = "{uri}"\nexperiment = "quickstart"\n'
    path = folder / f"quickstart-beta{beta}.toml"
    path.write_text(text)
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "mlflow-compare.png"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--sft-steps", type=int, default=30, help="SFT steps of each run (the quickstart has 100)")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder of a previous call (its mlflow.db): screenshot again without new runs")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mlflow-shot-"))
    reuse = (work / "mlflow.db").is_file()
    port = _port()
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri",
                               f"sqlite:///{work / 'mlflow.db'}", "--artifacts-destination", str(work / "art"),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        env = {**os.environ, "HARNESS_STORE": str(work / "runs"), "HARNESS_CACHE_DIR": str(work / "cache")}
        for beta in () if reuse else ("0.1", "0.5"):
            subprocess.run([sys.executable, "-m", "harness.cli", "run", str(_recipe(work, uri, beta, args.sft_steps))],
                           env=env, check=False)
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("quickstart")
        runs = client.search_runs([exp.experiment_id])
        ids = [r.info.run_id for r in runs][:2]
        url = (f"{uri}/#/compare-runs?runs={json.dumps(ids)}&experiments={json.dumps([exp.experiment_id])}")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1900})
            page.goto(url)
            page.get_by_text("after/quick_mc/acc").first.wait_for(timeout=120_000)
            close = page.locator("button[aria-label='Close']")  # MLflow's assistant side panel
            if close.count():
                close.first.click()
            toggles = page.get_by_text("Show diff only")
            for i in range(min(2, toggles.count())):  # params and metrics: only what differs
                toggles.nth(i).click()
            page.get_by_text("Comparing 2 Runs").first.scroll_into_view_if_needed()
            time.sleep(3)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            browser.close()
        print(f"wrote {args.out} ({url}); mlflow store in {work}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
