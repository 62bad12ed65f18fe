"""Paired comparison of two evaluations scored on the same items.

Both sides are matched item by item on ``(suite, item_id)``; per metric we get
the mean of each side over the paired items, the difference B − A, a seeded
paired-bootstrap interval on that difference and, for 0/1 outcomes, McNemar's
exact test on the items that flipped. Comparing evaluations of different items,
task versions or generation settings is refused (or, when asked, warned about):
such a difference measures the benchmark change, not the model change.

Core module: standard library + numpy (imported lazily), no ML library.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from ..contract.record import final_phase as record_final_phase
from ..errors import StoreError

PHASES = ("before", "after")

# Task settings that say where a suite ran, not what it measured: a difference in
# these is shown in the cross-machine banner instead of refusing the comparison.
ENVIRONMENT_SETTINGS = frozenset({"device", "dtype", "batch_size", "lm_eval", "torch", "transformers",
                                  "attn_implementation", "num_workers"})


class CompareError(StoreError, ValueError):
    """The comparison cannot be made (missing phase, no metrics...)."""


class ComparisonMismatch(CompareError):
    """The two sides did not evaluate the same thing (content hash, version or settings differ)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the two evaluations did not measure the same thing:\n  - " + "\n  - ".join(problems)
                         + "\n(these change what is measured, not only where it ran; pass --force "
                           "(allow_mismatch=True) to compare anyway, with warnings)")


@dataclass
class MetricComparison:
    """One metric, A versus B. ``diff`` is B − A in the metric's own units."""

    metric: str                      # "suite/short"
    suite: str
    name: str                        # short name, the key in per-sample ``scores``
    higher_is_better: bool
    n_paired: int                    # items scored on both sides (0: aggregate values only)
    value_a: float | None            # mean over the paired items
    value_b: float | None
    aggregate_a: float | None        # the records' own aggregate values
    aggregate_b: float | None
    diff: float | None               # paired mean difference, else aggregate difference
    ci_low: float | None             # paired-bootstrap interval on ``diff``
    ci_high: float | None
    confidence: float
    binary: bool                     # every paired score is 0 or 1
    p_value: float | None            # McNemar's exact test (binary metrics only)
    flips: dict[str, int] = field(default_factory=dict)  # {"0→1": b, "1→0": c} (binary only)
    improved: int = 0                # items that moved in the good direction
    regressed: int = 0               # items that moved in the bad direction
    significant: bool = False        # the interval excludes 0
    concern: str | None = None       # declared by the evaluator (records' metric entries), if any

    @property
    def paired(self) -> bool:
        return self.n_paired > 0

    @property
    def improvement(self) -> float | None:
        """``diff`` signed so that positive is better, whatever the metric's direction."""
        if self.diff is None:
            return None
        return self.diff if self.higher_is_better else -self.diff

    def improvement_interval(self) -> tuple[float, float] | None:
        """The interval on :attr:`improvement` (low, high); None without per-item scores."""
        if self.ci_low is None or self.ci_high is None:
            return None
        if self.higher_is_better:
            return self.ci_low, self.ci_high
        return -self.ci_high, -self.ci_low

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """The result of :func:`compare_records`: one :class:`MetricComparison` per metric."""

    a: dict[str, Any]                # {"id", "name", "phase"} of each side
    b: dict[str, Any]
    metrics: list[MetricComparison]
    warnings: list[str]
    confidence: float
    seed: int
    n_boot: int
    environment: list[str] = field(default_factory=list)  # where the sides ran differently (banner)
    # paired rows per suite/metric, kept for :func:`flipped_items` (not serialised)
    _pairs: dict[str, tuple[list, list]] = field(default_factory=dict, repr=False)

    def metric(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(f"no metric '{name}' in this comparison; have: {', '.join(self.metric_names) or 'none'}")

    @property
    def metric_names(self) -> list[str]:
        return [m.metric for m in self.metrics]

    def to_dict(self) -> dict[str, Any]:
        return {"a": dict(self.a), "b": dict(self.b), "confidence": self.confidence, "seed": self.seed,
                "n_boot": self.n_boot, "warnings": list(self.warnings), "environment": list(self.environment),
                "metrics": [m.to_dict() for m in self.metrics]}


# ------------------------------------------------------------------ statistics


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of ``b`` successes in ``b + c`` at 0.5.

    Equal to ``scipy.stats.binomtest(b, b + c, 0.5).pvalue``; computed with exact
    integers so the core needs no scipy.
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    term, tail = 1, 1                  # C(n, 0); tail = sum_{i<=k} C(n, i)
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / 2 ** n)


def paired_bootstrap(diffs: Sequence[float], *, seed: int = 0, n_boot: int = 2000,
                     confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``diffs`` over ``n_boot`` item resamples.

    Resampling is over items (the pairs stay together), drawn as
    ``numpy.random.default_rng(seed).integers(0, n, size=(n_boot, n))`` in row chunks
    so memory stays bounded for large suites.
    """
    from .stats import bootstrap_means, percentile_interval

    if len(diffs) == 0:
        raise ValueError("paired_bootstrap needs at least one paired item")
    return percentile_interval(bootstrap_means(diffs, seed=seed, n_boot=n_boot), confidence)


# ------------------------------------------------------------------ pairing


def final_phase(record: dict[str, Any]) -> str:
    """``after`` when the record has after-metrics, else ``before`` (an eval-only run); a
    :class:`CompareError` when it has none."""
    phase = record_final_phase(record)
    if phase is not None:
        return phase
    raise CompareError(f"run {record.get('id') or record.get('name')!r} has no metrics "
                       f"(status: {record.get('status', 'unknown')})")


def _index(samples: Iterable[dict], side: str, warnings: list[str]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    dupes = 0
    for row in samples:
        key = (str(row.get("suite")), str(row.get("item_id")))
        if key in out:
            dupes += 1
            continue
        out[key] = row
    if dupes:
        warnings.append(f"{side}: {dupes} duplicate (suite, item_id) rows ignored (first kept)")
    return out


def _number(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)) and math.isfinite(x):
        return float(x)
    return None


def _task_problems(tasks_a: dict, tasks_b: dict, suites: Iterable[str],
                   environment: list[str] | None = None) -> list[str]:
    """What makes the suites measure different things; environment-only setting
    differences (:data:`ENVIRONMENT_SETTINGS`) go to ``environment`` instead."""
    problems = []
    for suite in sorted(suites):
        ta, tb = tasks_a.get(suite), tasks_b.get(suite)
        if ta is None or tb is None:
            missing = "A" if ta is None else "B"
            problems.append(f"{suite}: side {missing} records no task info (content hash / version unknown)")
            continue
        for key in ("content_hash", "version"):
            if ta.get(key) != tb.get(key):
                problems.append(f"{suite}: {key} differs (A {ta.get(key)!r}, B {tb.get(key)!r})")
        sa, sb = ta.get("settings") or {}, tb.get("settings") or {}
        diff_keys = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
        env_keys = [k for k in diff_keys if k in ENVIRONMENT_SETTINGS]
        diff_keys = [k for k in diff_keys if k not in ENVIRONMENT_SETTINGS]
        if env_keys and environment is not None:
            environment.append(f"{suite}: " + ", ".join(f"{k} A {sa.get(k)!r} vs B {sb.get(k)!r}" for k in env_keys))
        if diff_keys:
            detail = ", ".join(f"{k}: A {sa.get(k)!r} vs B {sb.get(k)!r}" for k in diff_keys)
            problems.append(f"{suite}: settings differ ({detail})")
    return problems


def accelerator_label(record: dict) -> str:
    """``1× NVIDIA H100 80GB HBM3`` / ``cpu``: what a run ran on, by name, not only ``cuda``."""
    acc = (record.get("environment") or {}).get("accelerator") or {}
    kind = acc.get("kind") or (record.get("model") or {}).get("device") or "?"
    if kind == "cpu" or not acc.get("name"):
        return str(kind)
    return f"{acc.get('count') or 1}× {acc['name']}"


def _side_info(record: dict, phase: str) -> dict[str, Any]:
    env = record.get("environment") or {}
    return {"id": record.get("id"), "name": record.get("name"), "phase": phase,
            "accelerator": accelerator_label(record), "host": env.get("host"),
            "dtype": (record.get("model") or {}).get("dtype")}


def environment_differences(rec_a: dict, rec_b: dict) -> list[str]:
    """Where two runs ran differently (accelerator, host, device, dtype, library and
    Python versions), each ``what: A … vs B …``. Empty for the same run or machine."""
    if rec_a is rec_b or (rec_a.get("id") and rec_a.get("id") == rec_b.get("id")):
        return []
    ea, eb = rec_a.get("environment") or {}, rec_b.get("environment") or {}
    ma, mb = rec_a.get("model") or {}, rec_b.get("model") or {}
    out = []
    pairs = [("accelerator", accelerator_label(rec_a), accelerator_label(rec_b)),
             ("host", ea.get("host"), eb.get("host")),
             ("device", ma.get("device"), mb.get("device")),
             ("dtype", ma.get("dtype"), mb.get("dtype")),
             ("python", ea.get("python"), eb.get("python"))]
    la, lb = ea.get("libraries") or {}, eb.get("libraries") or {}
    pairs += [(lib, la.get(lib), lb.get(lib)) for lib in sorted(set(la) | set(lb))]
    for what, x, y in pairs:
        if x != y and (x is not None or y is not None):
            out.append(f"{what}: A {x if x is not None else '—'} vs B {y if y is not None else '—'}")
    return out


def compare_records(rec_a: dict[str, Any], samples_a: Iterable[dict], rec_b: dict[str, Any],
                    samples_b: Iterable[dict], *, seed: int = 0, n_boot: int = 2000,
                    confidence: float = 0.95, allow_mismatch: bool = False,
                    phase_a: str | None = None, phase_b: str | None = None) -> Comparison:
    """Compare B against A, paired on ``(suite, item_id)``.

    ``phase_a`` / ``phase_b`` say which of each record's aggregate metrics the
    samples belong to (default: the record's final phase, ``after`` if present).
    Raises :class:`ComparisonMismatch` when a suite's content hash, version or
    settings differ, unless ``allow_mismatch`` (then the problems are warnings).
    """
    if not 0 < confidence < 1:
        raise CompareError(f"confidence must be between 0 and 1 (got {confidence})")
    if n_boot < 1:
        raise CompareError(f"n_boot must be at least 1 (got {n_boot})")
    phase_a = phase_a or final_phase(rec_a)
    phase_b = phase_b or final_phase(rec_b)
    for phase in (phase_a, phase_b):
        if phase not in PHASES:
            raise CompareError(f"phase must be one of {PHASES} (got {phase!r})")
    agg_a = (rec_a.get("metrics") or {}).get(phase_a) or {}
    agg_b = (rec_b.get("metrics") or {}).get(phase_b) or {}

    warnings: list[str] = []
    rows_a = _index(samples_a, "A", warnings)
    rows_b = _index(samples_b, "B", warnings)

    suites_a = {k[0] for k in rows_a} | {m.split("/", 1)[0] for m in agg_a}
    suites_b = {k[0] for k in rows_b} | {m.split("/", 1)[0] for m in agg_b}
    common = suites_a & suites_b
    for only, side in ((suites_a - suites_b, "A"), (suites_b - suites_a, "B")):
        if only:
            warnings.append(f"suites only in {side} (not compared): {', '.join(sorted(only))}")

    env_settings: list[str] = []
    problems = _task_problems(rec_a.get("tasks") or {}, rec_b.get("tasks") or {}, common, env_settings)
    if problems and not allow_mismatch:
        raise ComparisonMismatch(problems)
    warnings.extend(f"mismatch: {p}" for p in problems)

    keys = [k for k in rows_a if k in rows_b and k[0] in common]  # in A's order
    for suite in sorted(common):
        na = sum(1 for k in rows_a if k[0] == suite)
        nb = sum(1 for k in rows_b if k[0] == suite)
        np_ = sum(1 for k in keys if k[0] == suite)
        if np_ < max(na, nb):
            warnings.append(f"{suite}: {np_} items paired (A scored {na}, B scored {nb}); "
                            "unpaired items are left out of the paired statistics")

    names: dict[str, set[str]] = {}
    for k in keys:
        for side_rows in (rows_a, rows_b):
            names.setdefault(k[0], set()).update((side_rows[k].get("scores") or {}).keys())
    for metric in set(agg_a) | set(agg_b):
        suite, _, short = metric.partition("/")
        if suite in common and metric in agg_a and metric in agg_b:
            names.setdefault(suite, set()).add(short)

    comp = Comparison(a=_side_info(rec_a, phase_a), b=_side_info(rec_b, phase_b), metrics=[],
                      warnings=warnings, confidence=confidence, seed=seed, n_boot=n_boot,
                      environment=environment_differences(rec_a, rec_b) + env_settings)
    for suite in sorted(names):
        for short in sorted(names[suite]):
            metric = f"{suite}/{short}"
            comp.metrics.append(_compare_metric(metric, suite, short, keys, rows_a, rows_b,
                                                agg_a.get(metric), agg_b.get(metric), comp))
    return comp


def _compare_metric(metric: str, suite: str, short: str, keys: list, rows_a: dict, rows_b: dict,
                    agg_a: dict | None, agg_b: dict | None, comp: Comparison) -> MetricComparison:
    hib_values = [m.get("higher_is_better") for m in (agg_a, agg_b) if m and "higher_is_better" in m]
    if len(set(hib_values)) > 1:
        comp.warnings.append(f"{metric}: the two sides disagree on higher_is_better; using A's")
    if not hib_values:
        comp.warnings.append(f"{metric}: no aggregate metric records its direction; assuming higher is better")
    hib = bool(hib_values[0]) if hib_values else True
    concern = next((m.get("concern") for m in (agg_b, agg_a) if m and m.get("concern")), None)

    xs, ys, pa, pb = [], [], [], []
    for k in keys:
        if k[0] != suite:
            continue
        x = _number((rows_a[k].get("scores") or {}).get(short))
        y = _number((rows_b[k].get("scores") or {}).get(short))
        if x is None or y is None:
            continue
        xs.append(x)
        ys.append(y)
        pa.append(rows_a[k])
        pb.append(rows_b[k])
    comp._pairs[metric] = (pa, pb)

    aggregate_a = _number((agg_a or {}).get("value"))
    aggregate_b = _number((agg_b or {}).get("value"))
    n = len(xs)
    mc = MetricComparison(metric=metric, suite=suite, name=short, higher_is_better=hib, n_paired=n,
                          value_a=None, value_b=None, aggregate_a=aggregate_a, aggregate_b=aggregate_b,
                          diff=None, ci_low=None, ci_high=None, confidence=comp.confidence,
                          binary=False, p_value=None, concern=concern)
    if n == 0:
        if aggregate_a is not None and aggregate_b is not None:
            mc.diff = aggregate_b - aggregate_a
        return mc

    mc.value_a = math.fsum(xs) / n
    mc.value_b = math.fsum(ys) / n
    diffs = [y - x for x, y in zip(xs, ys)]
    mc.diff = math.fsum(diffs) / n
    mc.ci_low, mc.ci_high = paired_bootstrap(diffs, seed=comp.seed, n_boot=comp.n_boot,
                                             confidence=comp.confidence)
    mc.significant = mc.ci_low > 0 or mc.ci_high < 0
    up = sum(1 for d in diffs if d > 0)
    down = sum(1 for d in diffs if d < 0)
    mc.improved, mc.regressed = (up, down) if hib else (down, up)
    mc.binary = all(v in (0.0, 1.0) for v in xs + ys)
    if mc.binary:
        mc.flips = {"0→1": up, "1→0": down}
        mc.p_value = mcnemar_exact(up, down)
    return mc


def compare_runs(store: Any, ref_a: str, ref_b: str | None = None, **kw: Any) -> Comparison:
    """Two runs' final evaluations (``after`` if present, else ``before``), B against A;
    or, with ``ref_b=None``, run A's own ``before`` against its ``after``.

    Keyword arguments go to :func:`compare_records`.
    """
    rec_a = store.load(ref_a)
    if ref_b is None:
        metrics = rec_a.get("metrics") or {}
        missing = [p for p in PHASES if not metrics.get(p)]
        if missing:
            raise CompareError(f"run {rec_a.get('id')} has no '{missing[0]}' metrics "
                               f"(status: {rec_a.get('status', 'unknown')}); "
                               "give a second run to compare against")
        return compare_records(rec_a, store.samples(rec_a["id"], "before"), rec_a,
                               store.samples(rec_a["id"], "after"), phase_a="before", phase_b="after", **kw)
    rec_b = store.load(ref_b)
    pa, pb = final_phase(rec_a), final_phase(rec_b)
    return compare_records(rec_a, store.samples(rec_a["id"], pa), rec_b, store.samples(rec_b["id"], pb),
                           phase_a=pa, phase_b=pb, **kw)


# ------------------------------------------------------------------ flips


def flipped_items(comparison_or_inputs: Comparison | tuple, metric: str) -> list[dict[str, Any]]:
    """Items whose ``metric`` score changed between A and B, worst regressions first.

    Accepts a :class:`Comparison` or ``(samples_a, samples_b)``. Each row:
    ``suite, item_id, prompt, output_a, output_b, score_a, score_b, direction``
    (``improved`` / ``regressed``, by the metric's good direction) and ``change``
    (``"0→1"``-style for binary scores, else the signed difference B − A).
    """
    suite, _, short = metric.partition("/")
    if not short:
        raise ValueError(f"metric must be 'suite/metric' (got {metric!r})")
    if isinstance(comparison_or_inputs, Comparison):
        mc = comparison_or_inputs.metric(metric)
        hib = mc.higher_is_better
        pa, pb = comparison_or_inputs._pairs.get(metric, ([], []))
    else:
        samples_a, samples_b = comparison_or_inputs
        ra, rb = _index(samples_a, "A", []), _index(samples_b, "B", [])
        keys = [k for k in ra if k in rb and k[0] == suite]
        pa, pb = [ra[k] for k in keys], [rb[k] for k in keys]
        hib = True
    rows = []
    for a, b in zip(pa, pb):
        x = _number((a.get("scores") or {}).get(short))
        y = _number((b.get("scores") or {}).get(short))
        if x is None or y is None or x == y:
            continue
        better = (y > x) == hib
        binary = x in (0.0, 1.0) and y in (0.0, 1.0)
        rows.append({"suite": suite, "item_id": a.get("item_id"), "prompt": a.get("prompt"),
                     "output_a": a.get("output"), "output_b": b.get("output"),
                     "target": a.get("target", b.get("target")), "score_a": x, "score_b": y,
                     "direction": "improved" if better else "regressed",
                     "change": f"{x:g}→{y:g}" if binary else y - x})
    rows.sort(key=lambda r: (r["direction"] != "regressed", str(r["item_id"])))
    return rows
