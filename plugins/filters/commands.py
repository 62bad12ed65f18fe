"""``harness filters measure judge``: measure a judge's agreement with human labels before it may gate."""

from __future__ import annotations

import json
from pathlib import Path

import click

import harness


def _model_spec(spec: str) -> dict:
    """``smollm2``, ``tiny``, ``hf:PATH_OR_ID``, ``gguf:FILE`` -> a model table (as ``harness eval --model``)."""
    loader, _, path = spec.partition(":")
    if not loader:
        raise click.BadParameter(f"{spec!r}: expected a loader name, e.g. smollm2, tiny or hf:PATH",
                                 param_hint="--model")
    return {"loader": loader, **({"path": path} if path else {})}


def add_commands(cli: click.Group) -> None:
    @cli.group(name="filters")
    def filters_group():
        """Safety filters: measure how far to trust them."""

    @filters_group.group(name="measure")
    def measure_group():
        """Measure a filter's agreement with human labels."""

    @measure_group.command(name="judge")
    @click.option("--model", "model", required=True, multiple=True,
                  help="Judge model: smollm2, tiny, hf:PATH_OR_ID, gguf:FILE. Give it two or more times to "
                       "measure a panel (majority vote) and each of its members.")
    @click.option("--tie", type=click.Choice(["unsafe", "unknown"]), default="unsafe", show_default=True,
                  help="A panel's label when its votes tie.")
    @click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False),
                  help="XSTest-format labeled CSV(s) (type, prompt, completion, final_label); "
                       "default: the bundled balanced set of 256 XSTest replies")
    @click.option("--limit", type=click.IntRange(min=2), help="Measure on N rows, half unsafe, half safe (seeded).")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--prompt-format", type=click.Choice(["auto", "rubric", "conversation"]), default="auto",
                  show_default=True)
    @click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
    @click.option("--max-new-tokens", type=click.IntRange(min=1), default=16, show_default=True)
    @click.option("--out", type=click.Path(dir_okay=False), help="Write the measurement here too.")
    @click.option("--json", "as_json", is_flag=True, help="Print the measurement as JSON.")
    def measure_judge(model, tie, data, limit, seed, prompt_format, batch_size, max_new_tokens, out, as_json):
        """Agreement of the `judge` filter with human safe/unsafe labels.

        The measurement is stored under the judge's weight fingerprint and prompt hash, where
        a `judge` filter with `min_agreement` looks for it.
        """
        from . import judge_agreement

        params = {"prompt_format": prompt_format, "batch_size": batch_size, "max_new_tokens": max_new_tokens}
        if len(model) == 1:
            params["model"] = _model_spec(model[0])
        else:
            params.update(panel=[_model_spec(m) for m in model], tie=tie)
        try:
            judge = harness.get_host().create("safety_filter", "judge", params)
            result = judge_agreement.measure(judge, list(data) or None, limit=limit, seed=seed)
        except (ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from None
        stored = judge_agreement.save(result)
        if out:
            judge_agreement.save(result, Path(out))
        if as_json:
            click.echo(json.dumps({**result, "stored": str(stored)}))
            return
        a, ident = result["agreement"], result["judge"]
        click.echo(f"judge {ident['name']} (weights {ident['fingerprint'][:12]}, prompt {ident['prompt_format']} "
                   f"{ident['prompt_sha'][:12]}) on {a['n']} labeled replies "
                   f"({result['data']['unsafe']} unsafe, {result['data']['safe']} safe), {result['seconds']} s")
        click.echo(f"  balanced accuracy {a['balanced_accuracy']:.3f}  accuracy {a['accuracy']:.3f}  "
                   f"precision {a['precision']:.3f}  recall {a['recall']:.3f}  specificity {a['specificity']:.3f}  "
                   f"unparseable {a['unknown_rate']:.1%}")
        for m in result.get("panel", {}).get("members", []):
            ma = m["agreement"]
            click.echo(f"  member {m['name']}: balanced accuracy {ma['balanced_accuracy']:.3f}  "
                       f"precision {ma['precision']:.3f}  recall {ma['recall']:.3f}  "
                       f"unparseable {ma['unknown_rate']:.1%}")
        if "panel" in result:
            alpha = result["panel"]["krippendorff_alpha_between_judges"]
            click.echo(f"  between judges: Krippendorff's alpha {'n/a' if alpha is None else f'{alpha:.3f}'}, "
                       f"unanimous on {result['panel']['unanimous']:.1%} of replies")
        click.echo(f"stored: {stored}")
