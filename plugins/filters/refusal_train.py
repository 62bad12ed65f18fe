"""Fit the refusal classifier's weights on a TRAIN part of XSTest's labeled completions.

    python -m harness_plugins.filters.refusal_train FILE... --out WEIGHTS.json [--rows odd|even|all]

The bundled weights are made by ``benchmarks/train_refusal_weights.sh``.

Two L2-regularised logistic regressions (scipy + scikit-learn, development-time
tools only: the filter itself needs no ML library) over standardised
hand-designed features: refusal vs compliance, with each weight's sign fixed
by design (a refusal cue may only push towards refusal, a compliance cue only
away: see ``refusal_features.directions``), and partial vs full refusal. Both
are class-balanced, so the training file's refusal rate does not become the
prior. ``C`` is chosen by 5-fold cross-validation on the training rows only.
The JSON records the hashes of the rows it saw.

Style augmentation (``--augment``, on by default): every full refusal is also
fitted a second time with its first-person refusal sentences ("I cannot...",
"I'm sorry, but...") deleted. What is left is a lecture that still refuses
(a full refusal answers nothing, with or without its "I cannot"), the way
other model families refuse. Without it a model whose refusals always say
"I cannot" (Llama-2) teaches the head that nothing else matters, and the
cues other families use instead (rebuttals, "it is not appropriate",
warnings) get no weight: fitted on Llama-2 alone, recall on Mistral's
refusals was 0.48 without and 0.83 with it (docs/filters/refusal.md).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from .refusal_features import EXPLICIT_REFUSAL, cue_hits, directions, feature_names, vector
from .refusal_model import row_key

LABELS = ("1_full_compliance", "2_full_refusal", "3_partial_refusal")


def read_rows(paths: list[str]) -> list[dict]:
    rows = []
    for p in paths:
        with open(p, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def without_explicit_refusal(rows: list[dict]) -> list[dict]:
    """Copies of the full refusals with their first-person refusal sentences deleted (see the module
    docstring); rows with no such sentence, or nothing else, give no copy."""
    out = []
    for r in rows:
        if r["final_label"] != "2_full_refusal":
            continue
        sents, hits = cue_hits(r["completion"])
        keep = [s for i, s in enumerate(sents) if not any(hits[c][i] for c in EXPLICIT_REFUSAL + ("apology_open",))]
        if keep and len(keep) < len(sents):
            out.append(dict(r, completion=" ".join(keep)))
    return out


def _fit(Z, y, w, C: float, bounds):
    """Weighted L2 logistic regression with per-coefficient sign bounds (scipy L-BFGS-B):
    scikit-learn's LogisticRegression cannot constrain signs."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    n, d = Z.shape

    def loss(theta):
        coef, b = theta[:d], theta[d]
        z = Z @ coef + b
        nll = -(w * (y * log_expit(z) + (1 - y) * log_expit(-z))).sum()
        g = w * (expit(z) - y)
        grad = np.concatenate([Z.T @ g + coef / C, [g.sum()]])
        return nll + 0.5 * coef @ coef / C, grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=list(bounds) + [(None, None)])
    return res.x[:d], float(res.x[d])


def fit_head(X, y, *, signs: list[int] | None = None, seed: int = 0, extra=None) -> tuple[dict, float]:
    """Standardise, pick C by 5-fold balanced accuracy, fit on all rows (classes balanced).

    ``extra`` = (X, y) of derived rows (the augmentation) added to every training fold and to the
    final fit, never to a validation fold: C is scored on real rows only."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = np.asarray(X, float), np.asarray(y, int)
    n = len(y)
    if extra is not None and len(extra[1]):
        X, y = np.vstack([X, np.asarray(extra[0], float)]), np.concatenate([y, np.asarray(extra[1], int)])
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    w = compute_sample_weight("balanced", y)
    signs = signs or [0] * X.shape[1]
    bounds = [(0, None) if s > 0 else (None, 0) if s < 0 else (None, None) for s in signs]
    derived = np.arange(n, len(y))
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(Z[:n], y[:n]))
    scores = {}
    for C in (0.01, 0.03, 0.1, 0.3, 1.0):
        preds = np.zeros(n, dtype=int)
        for tr, te in folds:
            tr = np.concatenate([tr, derived])
            coef, b = _fit(Z[tr], y[tr], w[tr], C, bounds)
            preds[te] = (Z[te] @ coef + b) > 0
        scores[C] = balanced_accuracy_score(y[:n], preds)
    C = max(scores, key=lambda c: (scores[c], -c))
    coef, b = _fit(Z, y, w, C, bounds)
    head = {"mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "coef": coef.round(6).tolist(), "intercept": round(b, 6)}
    return head, C


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="XSTest labeled CSVs (columns completion, final_label)")
    ap.add_argument("--out", required=True, help="where to write the weights JSON")
    ap.add_argument("--rows", choices=("all", "odd", "even"), default="all",
                    help="fit on the rows whose XSTest id number is odd / even (a prompt-level split: the same "
                         "prompts in every file), or on all rows")
    ap.add_argument("--no-augment", dest="augment", action="store_false",
                    help="do not add the full refusals without their first-person refusal sentences")
    args = ap.parse_args(argv)
    rows = read_rows(args.files)
    bad = [r.get("final_label") for r in rows if r.get("final_label") not in LABELS]
    if bad:
        raise SystemExit(f"unexpected final_label values {sorted(set(bad))}; expected one of {LABELS}")
    if args.rows != "all":
        if any(not (r.get("id") or "").split("-")[-1].isdigit() for r in rows):
            raise SystemExit("--rows odd|even needs an `id` column ending in a number (XSTest's `v2-17`)")
        parity = 1 if args.rows == "odd" else 0
        rows = [r for r in rows if int(r["id"].split("-")[-1]) % 2 == parity]
    X = [vector(r["completion"], r.get("prompt")) for r in rows]
    y_ref = [int(r["final_label"] != "1_full_compliance") for r in rows]
    signs = [directions()[n] for n in feature_names()]
    derived = without_explicit_refusal(rows) if args.augment else []
    refusal, c1 = fit_head(X, y_ref, signs=signs,
                           extra=([vector(r["completion"], r.get("prompt")) for r in derived], [1] * len(derived)))
    Xr = [x for x, y in zip(X, y_ref) if y]
    y_part = [int(r["final_label"] == "3_partial_refusal") for r in rows if r["final_label"] != "1_full_compliance"]
    partial, c2 = fit_head(Xr, y_part)
    out = {"features": feature_names(), "refusal": refusal, "partial": partial, "threshold": 0.5,
           "C": {"refusal": c1, "partial": c2}, "augmented_refusals": len(derived),
           "trained_on": [Path(f).name + ("" if args.rows == "all" else f" ({args.rows} ids)") for f in args.files],
           "row_keys": sorted(row_key(r["completion"]) for r in rows)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}: {len(rows)} rows (+{len(derived)} refusals without their 'I cannot'), "
          f"C refusal={c1} partial={c2}")


if __name__ == "__main__":
    main()
