"""A tiny local inspect_ai task for the harness's tests: four questions, generate(), includes()."""

from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import json_dataset
from inspect_ai.scorer import includes
from inspect_ai.solver import generate


@task
def tiny_includes(limit_chars: int = 0):
    """``limit_chars`` exists so tests can check that task arguments reach the task."""
    return Task(dataset=json_dataset(str(Path(__file__).with_name("samples.jsonl"))),
                solver=[generate()], scorer=includes(), name="tiny_includes",
                metadata={"limit_chars": limit_chars})
