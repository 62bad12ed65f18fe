"""The built wheel, installed non-editable into a fresh virtual environment, works outside
a checkout: catalogue, bundled recipe, dashboard, plugin scaffold. A file left out of the
package data fails here.

Cost (2 CPU cores): about 2 min, most of it `harness run quickstart` (~1 min). To stay
cheap the fresh venv does not reinstall torch & co.: after the wheel is installed
(``--no-deps``, into a venv that sees nothing else), a ``.pth`` line adds the project
venv's site-packages *after* it. Lines of a ``.pth`` only extend ``sys.path`` (that folder's
own ``.pth`` files, among them the project's editable finder, are not executed), and
``importlib.metadata`` takes the first distribution of a name: the wheel's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# repository folder -> package in the wheel (setup.py's PACKAGE_DIRS)
SOURCES = {"harness": "harness", "plugins": "harness_plugins", "dashboards": "harness_dashboard",
           "recipes": "harness_recipes"}
ISOLATION_VARS = ("HARNESS_LOAD_PLUGINS", "HARNESS_DISABLE_PLUGINS", "HARNESS_STRICT_PLUGINS", "HARNESS_REGISTRY",
                  "PYTHONPATH", "VIRTUAL_ENV")


def _sh(cmd: list[str], *, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _source_files() -> list[str]:
    """What a fresh clone holds (plus uncommitted work): git's tracked and unignored files."""
    proc = _sh(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    if proc.returncode:
        pytest.skip("not a git checkout: cannot tell which files a clone would hold")
    return [f for f in proc.stdout.splitlines() if (REPO / f).exists() or (REPO / f).is_symlink()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """The wheel built from a copy of the sources (a stale build/ or *.egg-info in the checkout
    would otherwise add files that the package-data declaration misses)."""
    src = tmp_path_factory.mktemp("src")
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel, follow_symlinks=False)
    out = tmp_path_factory.mktemp("wheel")
    proc = _sh([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                "-w", str(out), str(src)], cwd=src)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (built,) = out.glob("posttrain_harness-*.whl")
    return built, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed, an empty working folder and a clean environment."""
    root = tmp_path_factory.mktemp("fresh")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    proc = _sh([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel[0])],
               cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    purelib = _sh([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root)
    site = Path(purelib.stdout.strip())
    (site / "zz_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ISOLATION_VARS}
    env.update(HARNESS_STORE=str(root / "runs"), HARNESS_CACHE_DIR=str(root / "cache"),
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
    return {"python": python, "bin": python.parent, "site": site, "work": work, "env": env, "root": root}


def harness(venv: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return _sh([str(venv["bin"] / "harness"), *args], cwd=venv["work"], env=venv["env"], timeout=timeout)


def python(venv: dict, code: str) -> subprocess.CompletedProcess:
    return _sh([str(venv["python"]), "-c", code], cwd=venv["work"], env=venv["env"])


# ------------------------------------------------------------------ the build


def test_build_has_no_setuptools_warnings(wheel):
    log = wheel[1]
    noise = [line for line in log.splitlines()
             if re.search(r"Warning|warning:|absent from the `packages`", line) and "byte-compiling is disabled" not in line]
    assert not noise, "setuptools warned while building the wheel:\n" + "\n".join(noise)


def test_wheel_holds_every_file_of_the_package_folders(wheel):
    import zipfile

    files = [f for f in _source_files() if f.split("/", 1)[0] in SOURCES and "/" in f]
    expected = {SOURCES[f.split("/", 1)[0]] + "/" + f.split("/", 1)[1] for f in files}
    present = set(zipfile.ZipFile(wheel[0]).namelist())
    missing = sorted(expected - present)
    assert not missing, ("files missing from the wheel (add their file type to "
                         "[tool.setuptools.package-data] in pyproject.toml): " + ", ".join(missing))


# ------------------------------------------------------------------ installed, outside a checkout


def test_installed_packages_come_from_the_wheel_not_the_checkout(venv):
    proc = python(venv, "import harness, harness_plugins, harness_dashboard, harness_recipes, importlib.metadata as m;"
                        "print(harness.__file__, harness_plugins.__file__, harness_dashboard.__file__,"
                        " harness_recipes.__file__, m.distribution('posttrain-harness').locate_file(''))")
    assert proc.returncode == 0, proc.stderr
    paths = proc.stdout.split()
    assert all(Path(p).resolve().is_relative_to(venv["site"].resolve()) for p in paths), paths
    assert str(REPO) not in proc.stdout


def test_pip_check_finds_nothing_wrong_with_the_harness(venv):
    proc = _sh([sys.executable, "-m", "pip", "--python", str(venv["python"]), "check"], cwd=venv["work"])
    ours = [line for line in proc.stdout.splitlines() if line.lower().startswith("posttrain-harness")]
    assert not ours, proc.stdout


def test_version_lists_the_ml_libraries(venv):
    proc = harness(venv, "--version")
    assert proc.returncode == 0, proc.stderr
    import harness as checkout

    assert proc.stdout.startswith(f"harness (posttrain-harness) {checkout.__version__}")
    assert re.search(r"^\s+torch\s+\d", proc.stdout, re.M) and re.search(r"^\s+trl\s+\d", proc.stdout, re.M)


def test_catalog_is_listed_as_text_and_json(venv):
    import tomllib

    names = set(tomllib.loads((REPO / "registry.toml").read_text())["plugins"])
    text = harness(venv, "plugins", "catalog")
    assert text.returncode == 0, text.stderr
    assert {line.split()[0] for line in text.stdout.splitlines() if line.strip()} == names
    as_json = harness(venv, "plugins", "catalog", "--json")
    assert as_json.returncode == 0 and set(json.loads(as_json.stdout)) == names


def test_bundled_recipe_runs_by_name_from_an_empty_folder(venv):
    listing = harness(venv, "recipes")
    assert listing.returncode == 0 and re.search(r"^quickstart\s", listing.stdout, re.M), listing.stdout
    start = time.monotonic()
    proc = harness(venv, "run", "quickstart", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["status"] == "completed" and record["gates_passed"] is True
    assert (Path(venv["env"]["HARNESS_STORE"]) / record["id"] / "run.json").is_file()
    assert list(venv["work"].iterdir()) == []  # nothing written to the working folder
    print(f"harness run quickstart (installed wheel): {time.monotonic() - start:.0f} s")


def test_dashboard_app_runs_from_the_installed_package(venv):
    if python(venv, "import streamlit").returncode:
        pytest.skip("streamlit not installed (the dashboard extra)")
    code = ("from streamlit.testing.v1 import AppTest; from harness.resources import dashboard_app\n"
            "app = dashboard_app(); print(app)\n"
            "at = AppTest.from_file(str(app), default_timeout=60).run()\n"
            "assert not at.exception, [e.value for e in at.exception]\n"
            "for page in ('compare', 'items', 'run'):\n"
            "    at.switch_page(f'views/{page}.py').run()\n"
            "    assert not at.exception, (page, [e.value for e in at.exception])\n"
            "print('pages ok')")
    proc = python(venv, code)
    assert proc.returncode == 0 and "pages ok" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert Path(proc.stdout.split()[0]).resolve().is_relative_to(venv["site"].resolve())


def test_dashboard_command_serves_its_pages(venv):
    if python(venv, "import streamlit").returncode:
        pytest.skip("streamlit not installed (the dashboard extra)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(venv["bin"] / "harness"), "dashboard", "--port", str(port)], cwd=venv["work"],
                            env=venv["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        assert health == b"ok", f"dashboard did not come up: {proc.poll()}"
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/runs", timeout=5)
        assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_scaffolded_plugin_installs_lists_and_passes_its_tests(venv):
    hooks = "evaluator,filter,data,trainer,model,reporter,command"
    new = harness(venv, "plugins", "new", "demo", "--hooks", hooks)
    assert new.returncode == 0, new.stderr
    demo = venv["work"] / "demo"
    proc = _sh([sys.executable, "-m", "pip", "--python", str(venv["python"]), "install", "--no-deps",
                "--no-build-isolation", str(demo)], cwd=venv["work"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = harness(venv, "plugins", "--json")
    demo_info = next(p for p in json.loads(listing.stdout) if p["name"] == "demo")
    assert demo_info["status"] == "loaded" and demo_info["distribution"] == "harness-demo", demo_info
    assert {"demo-reply-length", "demo-shouting", "demo-greetings"} <= {c.split(":")[-1] for c in demo_info["components"]}
    assert "demo-hello" in harness(venv, "--help").stdout
    tests = _sh([str(venv["python"]), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=demo, env=venv["env"])
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert re.search(r"\b8 passed\b", tests.stdout), tests.stdout[-2000:]  # the entry-point test ran too
