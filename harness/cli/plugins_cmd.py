"""``harness plugins``: list, install and uninstall plugins."""

from __future__ import annotations

import json

import click

from ._common import fail


def _listing(host) -> list[dict]:
    out = []
    for info in sorted(host.plugins.values(), key=lambda p: p.name):
        out.append(info.to_dict())
    return out


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable listing.")
@click.option("--strict", is_flag=True, help="Exit 2 if any plugin failed to load or two plugins collide.")
@click.pass_context
def plugins(ctx, as_json, strict):
    """List installed plugins: name, distribution, version, hooks, status, error."""
    if ctx.invoked_subcommand is not None:
        return
    from ..contract.plugins import get_host

    host = get_host()
    listing = _listing(host)
    if as_json:
        click.echo(json.dumps(listing, indent=2))
    else:
        for p in listing:
            status = p["status"] if p["status"] == "loaded" else p["status"].upper()
            click.echo(f"{p['name']:<12} {status:<12} {p['distribution'] or '-'} {p['version'] or ''}")
            if p["hooks"]:
                click.echo(f"{'':<12} hooks: {', '.join(p['hooks'])}")
            if p["components"]:
                click.echo(f"{'':<12} provides: {', '.join(p['components'])}")
            if p["error"]:
                click.echo(f"{'':<12} error: {p['error']}")
            if p["fix"]:
                click.echo(f"{'':<12} fix: {p['fix']}")
            if p["entry_point"]:
                click.echo(f"{'':<12} entry point: {p['entry_point']} (renamed: the name is taken)")
        collisions = host.collisions()
        if collisions:
            click.echo("\nCOLLISIONS (--strict fails on these):")
            for sentence in collisions:
                click.echo(f"  - {sentence}")
    if strict and (host.problems() or host.collisions()):
        ctx.exit(2)


@plugins.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--upgrade", "-U", is_flag=True)
def install(names, upgrade):
    """Install plugins by catalogue name (registry.toml) or pip requirement."""
    from ..contract.catalog import pip, requirement_for

    reqs = [requirement_for(n) for n in names]
    click.echo(f"installing {' '.join(reqs)}", err=True)
    code = pip("install", *(["--upgrade"] if upgrade else []), *reqs)
    if code:
        fail(f"pip install failed (exit {code})")


@plugins.command()
@click.argument("names", nargs=-1, required=True)
def uninstall(names):
    """Uninstall plugins by catalogue name or distribution name."""
    from packaging.requirements import Requirement

    from ..contract.catalog import pip, requirement_for

    dists = []
    for n in names:
        req = requirement_for(n)
        try:
            dists.append(Requirement(req).name)
        except Exception:  # noqa: BLE001 - a path or URL: fall back to the name given
            dists.append(n)
    code = pip("uninstall", "-y", *dists)
    if code:
        fail(f"pip uninstall failed (exit {code})")


@plugins.command(name="catalog")
@click.option("--json", "as_json", is_flag=True)
def catalog_cmd(as_json):
    """Show the catalogue of known plugins (registry.toml)."""
    from ..contract.catalog import load_catalog

    cat = load_catalog()
    if as_json:
        click.echo(json.dumps({k: vars(v) for k, v in cat.items()}, indent=2))
        return
    for e in cat.values():
        click.echo(f"{e.name:<24} {e.requirement:<36} {e.description}")


from .plugins_new_cmd import new  # noqa: E402 - `harness plugins new`, a subcommand of this group

plugins.add_command(new)
