"""Which gates speak for a comparison: the recipe's gates of a stored run, judged for
the pair being compared. Shared by `harness compare`, `harness report` and the dashboard."""

from __future__ import annotations

from typing import Any


def record_gates(record: dict[str, Any]) -> dict[str, Any]:
    """The gates of the recipe a run was made with (resolved, else as given)."""
    from ..verdicts.gates import parse_gates_table

    recipe = record.get("recipe") or {}
    resolved = recipe.get("resolved") or {}
    if isinstance(resolved, dict) and resolved.get("gates"):
        return parse_gates_table(resolved["gates"], where="run recipe: gates")
    if recipe.get("text"):
        import tomllib

        try:
            return parse_gates_table(tomllib.loads(recipe["text"]).get("gates") or {}, where="run recipe: gates")
        except tomllib.TOMLDecodeError:
            return {}
    return {}


def record_policy(record: dict[str, Any]) -> Any:
    """The ``[gates]`` policy (:class:`harness.verdicts.gates.GatePolicy`) of the recipe a run was made with."""
    import tomllib

    from ..verdicts.gates import parse_gate_policy

    recipe = record.get("recipe") or {}
    resolved = recipe.get("resolved") or {}
    if isinstance(resolved, dict) and (resolved.get("gating") or resolved.get("gates")):
        return parse_gate_policy({**(resolved.get("gates") or {}), **(resolved.get("gating") or {})},
                                 where="run recipe: gates")
    if recipe.get("text"):
        try:
            return parse_gate_policy(tomllib.loads(recipe["text"]).get("gates") or {}, where="run recipe: gates")
        except tomllib.TOMLDecodeError:
            pass
    return parse_gate_policy({})


def policy_line(gating: dict[str, Any] | None) -> str | None:
    """The run's verdict counts and policy (``verdicts: 1 pass, 0 fail, 1 inconclusive ·
    on_inconclusive = fail · confidence Holm-adjusted across 2 checks (95% family-wise)``)
    from ``record["gating"]``; None for records made before gates had a policy."""
    from ..verdicts.gates import describe_gating

    return describe_gating(gating) if gating else None


def same_run(rec_a: dict, rec_b: dict) -> bool:
    """A and B are one run (its own before → after), also when loaded as two record objects."""
    return rec_a is rec_b or (rec_a.get("id") is not None and rec_a.get("id") == rec_b.get("id"))


def comparison_gating(rec_a: dict, rec_b: dict, gates: list) -> dict[str, Any] | None:
    """The policy summary of :func:`comparison_gates`' results: the run's own
    ``record["gating"]`` for its before → after, else B's policy over the re-judged gates."""
    from ..verdicts.gates import GateResult, gating_summary

    if same_run(rec_a, rec_b):
        return rec_b.get("gating")
    if not gates:
        return None
    return gating_summary([g if isinstance(g, GateResult) else GateResult(**g) for g in gates], record_policy(rec_b))


def comparison_gates(store, comp, rec_a: dict, rec_b: dict) -> list:
    """The gates that speak for this comparison: a run's own recorded gates for its
    before → after; for two runs, B's recipe gates judged with A as the baseline
    (what `harness gate B --baseline A` prints). [] when B's phase is not its final one."""
    from ..verdicts.compare import final_phase
    from ..verdicts.gates import GateSpecError, Reference, evaluate_gates

    if same_run(rec_a, rec_b):
        return list(rec_b.get("gates") or [])
    try:
        if comp.b["phase"] != final_phase(rec_b):
            return []
        specs = record_gates(rec_b)
        policy = record_policy(rec_b)
    except (GateSpecError, ValueError):
        return []
    if not specs:
        return []
    return evaluate_gates(specs, rec_b, before_samples=store.samples(rec_b["id"], "before"),
                          after_samples=store.samples(rec_b["id"], "after"),
                          reference=Reference(rec_a, store.samples(rec_a["id"], comp.a["phase"]), comp.a["phase"]),
                          policy=policy)
