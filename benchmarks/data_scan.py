"""The row-by-row data check `harness validate` runs (plugins/files/scan.py) against
`datasets.load_dataset` reading the same JSON Lines file.

    python benchmarks/data_scan.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    from harness_plugins.files.scan import scan

    tmp = Path(tempfile.mkdtemp(prefix="data-scan-"))
    path = tmp / "prefs.jsonl"
    with path.open("w") as fh:
        for i in range(args.rows):
            fh.write(json.dumps({"prompt": f"question {i} " * 5, "chosen": "a good answer " * 10,
                                 "rejected": "a bad answer " * 10, "id": i}) + "\n")
    mb = path.stat().st_size / 1e6
    t0 = time.perf_counter()
    fmt, n = scan("json", path, None, {})
    t_scan = time.perf_counter() - t0

    import datasets

    datasets.disable_progress_bars()
    t0 = time.perf_counter()
    ds = datasets.load_dataset("json", data_files={"train": str(path)}, split="train", cache_dir=str(tmp / "hf"))
    t_ds = time.perf_counter() - t0
    assert len(ds) == n
    print(f"{n} rows, {mb:.1f} MB ({fmt})")
    print(f"harness scan (every row checked)   {t_scan:6.2f} s  {mb / t_scan:6.1f} MB/s")
    print(f"datasets.load_dataset (cold cache) {t_ds:6.2f} s  {mb / t_ds:6.1f} MB/s")
    print(f"scan / load_dataset: {t_scan / t_ds:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
