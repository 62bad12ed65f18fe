"""Screenshot dashboard pages in headless Chromium (the README's and docs' images).

    python scripts/dashboard_screenshot.py --store STORE --path "/compare?a=RUN_ID" --out docs/img/compare.png \
        [--path ... --out ...] [--full-page]

Starts ``harness dashboard`` on a free port, waits for each page to finish
running, saves a PNG (the first screen, 1400×1000, unless ``--full-page``) and
stops the server. Every request the browser makes is logged: one that leaves
127.0.0.1 is printed and makes the script exit 1 (the dashboard serves no
external resource).
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
    ap.add_argument("--path", action="append", required=True, help="page path and query (repeatable)")
    ap.add_argument("--out", action="append", required=True, help="PNG for the --path at the same position")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--full-page", action="store_true")
    args = ap.parse_args()
    if len(args.path) != len(args.out):
        ap.error("give one --out per --path")
    external: list[str] = []
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
            for path, out in zip(args.path, args.out):
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.on("request", lambda r: external.append(r.url)
                        if not r.url.startswith((url, "data:", "blob:")) else None)
                page.goto(url + path)
                page.locator("[data-testid=stVegaLiteChart], [data-testid=stDataFrame], [data-testid=stAlert]").first.wait_for(
                    timeout=120_000)
                page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')"
                                       " && !document.querySelector('[data-stale=true]')", timeout=120_000)
                page.wait_for_timeout(2000)
                if args.full_page:
                    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": args.width, "height": min(max(height, args.height), 5000)})
                    page.wait_for_timeout(1000)
                page.screenshot(path=out)
                page.close()
                print(out)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for u in external:
        print(f"external request: {u}", file=sys.stderr)
    return 1 if external else 0


if __name__ == "__main__":
    sys.exit(main())
