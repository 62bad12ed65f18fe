"""The plugin contract's own consistency: one table of kinds, each interface with its methods."""

from __future__ import annotations

import inspect

import pytest

import harness
from harness.contract import hookspecs
from harness.contract.kinds import KINDS, REGISTER_HOOKS
from harness.errors import HarnessError


def test_every_kind_has_a_hook_spec_an_interface_and_a_label():
    specs = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")}
    assert set(REGISTER_HOOKS) <= specs
    assert specs - set(REGISTER_HOOKS) == {"register_commands"}  # the one hook that registers no component
    assert len({k.label for k in KINDS.values()}) == len(KINDS)
    for kind in KINDS.values():
        assert issubclass(kind.interface, harness.Component)
        assert harness.COMPONENT_KINDS[kind.name] is kind.interface


def test_trainer_declares_train_and_reward_function_does_not():
    """A class inserted between Trainer's body and its train() once took the method away from it."""
    assert "train" in vars(harness.Trainer)
    assert "train" not in vars(harness.RewardFunction)
    with pytest.raises(NotImplementedError):
        harness.Trainer().train(None, None, None)
    assert "__call__" in vars(harness.RewardFunction)


def test_every_deliberate_error_class_of_the_core_is_a_harness_error():
    """The CLI turns a HarnessError into exit 2 with its message; anything else is reported as a bug."""
    import importlib
    import pkgutil

    offenders = []
    for info in pkgutil.walk_packages(harness.__path__, "harness."):
        if info.name.endswith("__main__") or info.name == "harness.testing":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == info.name
                    and not issubclass(obj, HarnessError)):
                offenders.append(f"{info.name}.{name}")
    assert offenders == []


def test_every_builtin_command_resolves_and_is_listed():
    """Built-in commands load on first use from one table: each entry must name a real command."""
    import click

    from harness.cli import BUILTIN_COMMANDS, cli

    ctx = click.Context(cli)
    assert set(BUILTIN_COMMANDS) <= set(cli.list_commands(ctx))
    for name in BUILTIN_COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
