"""Screenshot a dashboard page in headless Chromium (the README's image).

    python scripts/dashboard_screenshot.py --store STORE --path "/compare?a=RUN_ID" --out docs/img/compare.png

Starts ``harness dashboard`` on a free port, waits for the page to finish
running, saves a full-page PNG and stops the server.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--path", default="/compare")
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1400)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "harness.cli", "dashboard", "--store", args.store,
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": 1200})
            page.goto(url + args.path)
            page.locator("[data-testid=stVegaLiteChart]").first.wait_for(timeout=120_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')"
                                   " && !document.querySelector('[data-stale=true]')", timeout=120_000)
            page.wait_for_timeout(1500)
            height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": args.width, "height": min(max(height, 1200), 5000)})
            page.wait_for_timeout(1000)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
