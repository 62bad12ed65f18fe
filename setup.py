"""Package layout of posttrain-harness (the rest of the configuration is in pyproject.toml).

The repository keeps its folders where they are (``plugins/``, ``dashboards/``, ``recipes/``)
and the wheel maps each to an importable package. Subpackages are found by walking the
folders, so a new plugin or a new data folder (a benchmark's files) ships without anyone
editing a list, and setuptools sees every data folder as a package (no "package data
directory is absent from packages" warnings). File types shipped: ``package-data`` in
pyproject.toml; ``tests/test_wheel.py`` fails when a tracked file is left out.
"""

from setuptools import find_namespace_packages, setup

# importable name -> folder in the repository
PACKAGE_DIRS = {
    "harness": "harness",
    "harness_plugins": "plugins",
    "harness_dashboard": "dashboards",
    "harness_recipes": "recipes",
}


def packages() -> list[str]:
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]
    return found


setup(package_dir=PACKAGE_DIRS, packages=packages())
