"""`harness runs` on an S3 store of 1,000 runs: with the index vs a full listing, in one run.

Starts moto's S3 server on 127.0.0.1, makes one real record (the tiny quickstart, shortened,
into a local folder), copies it under N run ids into ``s3://bench/runs`` with its samples and
the index entry its writer would have put (``harness.store.index.summary_of``), then times
``harness runs`` (in-process, the CLI's own code) three ways on the same store:

* ``--no-index``: list the run folders, read every ``run.json`` (what a store without an
  index has to do: one GET per run, one after another);
* the index, cold (default, before any snapshot exists): list the run folders and
  ``index/``, read every run's entry in concurrent batches (and, having read them, write
  the month's snapshot);
* the index, warm: the same listings, then one snapshot object per month of run ids;
* the index with ``--limit 20``, cold: only the first batch of entries is read.

It also counts the S3 requests each made (botocore's ``before-send`` event). moto answers
from memory on the same machine (about a millisecond a request); a real bucket answers in
tens of milliseconds, so the request counts say more about a real store than the wall times.

    python benchmarks/remote_listing.py [--runs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_real_run(work: Path) -> Path:
    """The run folder of one shortened tiny quickstart (the record every copy is made of)."""
    store = work / "local"
    env = {**os.environ, "HARNESS_CACHE_DIR": str(work / "cache"), "HARNESS_STORE": str(store)}
    env.pop("HARNESS_STORE_OPTIONS", None)
    subprocess.run([sys.executable, "-m", "harness.cli", "run", "recipes/quickstart.toml", "--set",
                    "train.0.max_steps=2", "--set", "train.1.max_steps=1"], cwd=REPO, env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = [p for p in store.iterdir() if (p / "run.json").is_file()]
    if not runs:
        sys.exit("the quickstart run did not finish; run it by hand to see why")
    return runs[0]


def fill(store, folder: Path, n: int) -> list[str]:
    from harness.store.index import summary_of

    record = json.loads((folder / "run.json").read_text())
    samples = {name: (folder / "samples" / name).read_bytes() for name in ("before.jsonl", "after.jsonl")}
    ids, batch = [], {}
    for i in range(n):
        run_id = f"20260101-{i:06d}-bench-{secrets.token_hex(8)}"
        ids.append(run_id)
        rec = record | {"id": run_id}
        batch[f"{store.base}/{run_id}/run.json"] = json.dumps(rec, indent=2).encode()
        for name, data in samples.items():
            batch[f"{store.base}/{run_id}/samples/{name}"] = data
        batch[f"{store.base}/index/{run_id}.json"] = json.dumps(summary_of(rec)).encode()
        if len(batch) >= 800:
            store.fs.pipe(batch)
            batch = {}
    if batch:
        store.fs.pipe(batch)
    return sorted(ids, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="remote-listing-"))
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "HARNESS_STORE_CACHE": str(work / "mirror"),
                       "HARNESS_STORE_OPTIONS": json.dumps({"client_kwargs": {
                           "endpoint_url": f"http://127.0.0.1:{port}"}})})
    try:
        from click.testing import CliRunner

        from harness.cli import _add_builtin_commands, cli
        from harness.store.local import Store

        _add_builtin_commands()
        url = "s3://bench/runs"
        store = Store(url)
        store.fs.mkdir("bench")
        t0 = time.perf_counter()
        folder = one_real_run(work)
        t1 = time.perf_counter()
        ids = fill(store, folder, args.runs)
        t2 = time.perf_counter()
        record_kb = (folder / "run.json").stat().st_size / 1024
        entry_kb = len(store.fs.cat_file(f"{store.base}/index/{ids[0]}.json")) / 1024
        print(f"one real run {t1 - t0:.1f} s; {args.runs} copies uploaded in {t2 - t1:.1f} s "
              f"(run.json {record_kb:.1f} KiB, index entry {entry_kb:.1f} KiB)")

        requests = {"n": 0}
        store.fs.ls("bench")  # connects the client, so its events can be hooked

        def count(**_kw):
            requests["n"] += 1

        store.fs.s3.meta.events.register("before-send.s3", count)

        def drop_snapshots() -> None:
            for key in store.fs.ls(f"{store.base}/index", detail=False):
                if "/snapshot-" in key:
                    store.fs.rm_file(key)
            store.fs.invalidate_cache()

        def timed(*extra: str, cold: bool = False) -> tuple[float, int, list[str]]:
            times, out = [], []
            for _ in range(args.repeat):
                if cold:
                    drop_snapshots()
                requests["n"] = 0
                t = time.perf_counter()
                result = CliRunner().invoke(cli, ["runs", "--store", url, "--json", *extra])
                times.append(time.perf_counter() - t)
                assert result.exit_code == 0, result.output
                out = [r["id"] for r in json.loads(result.output)]
            return statistics.median(times), requests["n"], out

        full_s, full_req, full_ids = timed("--no-index")
        cold_s, cold_req, cold_ids = timed(cold=True)
        warm_s, warm_req, warm_ids = timed()
        limit_s, limit_req, limit_ids = timed("--limit", "20", cold=True)
        assert full_ids == cold_ids == warm_ids == ids and limit_ids == ids[:20], "the listings differ"
        print(f"\n`harness runs --json` on {args.runs} runs in s3:// (moto on 127.0.0.1), median of {args.repeat}")
        print(f"full listing (--no-index)        {full_s:7.2f} s  {full_req:5d} S3 requests")
        for label, secs, reqs in (("index, cold (entries)", cold_s, cold_req),
                                  ("index, warm (snapshot)", warm_s, warm_req),
                                  ("index, cold, --limit 20", limit_s, limit_req)):
            print(f"{label:<32} {secs:7.2f} s  {reqs:5d} S3 requests   ratio full / this {full_s / secs:6.1f}x")
        print("same rows in the same order: yes")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
