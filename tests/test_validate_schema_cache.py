"""`harness validate` with a warm TRL schema cache imports neither torch nor TRL, and still checks.

Each case runs in a fresh interpreter (as a user's `harness validate` does), so
``sys.modules`` shows what the validation itself imported. The cache lives under
``$HARNESS_CACHE_DIR`` (a temporary folder per test, set by conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "recipes" / "quickstart.toml"
HEAVY = ("torch", "trl", "transformers", "peft")

# validate the recipe, then try two bad stages, then report what got imported
PROBE = """
import json, sys
import harness
from harness.cli import main
from harness.contract.plugins import load_plugins
code = main(["validate", sys.argv[1]])
host = load_plugins()
errors = {}
for name, params in [("sft", {"learning_rat": 1e-5}), ("sft", {"max_steps": "ten"}),
                     ("dpo", {"lr_scheduler_type": "wiggly"}), ("dpo", {"lora": {"rank": 8}})]:
    try:
        host.create("trainer", name, params)
    except harness.ParamError as exc:
        errors[exc.errors[0][0]] = exc.errors[0][1]
print(json.dumps({"code": code, "errors": errors,
                  "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def probe(env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(QUICKSTART)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def schema_dirs() -> list[Path]:
    root = Path(os.environ["HARNESS_CACHE_DIR"]) / "trl-schemas"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def assert_checks(result: dict) -> None:
    assert result["code"] == 0
    assert "did you mean 'learning_rate'?" in result["errors"]["learning_rat"]
    assert "expected int, got 'ten'" in result["errors"]["max_steps"]
    assert "not a valid SchedulerType" in result["errors"]["lr_scheduler_type"]  # TRL's own rule
    assert "not a field of peft.LoraConfig" in result["errors"]["lora.rank"]


def test_warm_cache_validates_without_torch_or_trl_and_keeps_every_check():
    cold = probe()
    assert "trl" in cold["heavy"] and "torch" in cold["heavy"]  # the first run reads the real classes
    assert_checks(cold)
    warm = probe()
    assert warm["heavy"] == [], f"a warm validate imported {warm['heavy']}"
    assert_checks(warm)  # same messages from the cache: misspelling, type, TRL's build, LoRA
    assert len(schema_dirs()) == 1


def test_a_changed_trl_version_misses_the_cache(tmp_path):
    probe()
    (before,) = schema_dirs()
    # a distribution record for another TRL version, found before the installed one
    dist = tmp_path / "shadow" / "trl-99.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: trl\nVersion: 99.0.0\n")
    shadow = {"PYTHONPATH": os.pathsep.join(filter(None, [str(dist.parent), os.environ.get("PYTHONPATH")]))}
    other = probe(shadow)
    assert "trl" in other["heavy"]  # a miss: the schema is read from the real classes again
    assert_checks(other)
    assert len(schema_dirs()) == 2 and before in schema_dirs()
    assert probe(shadow)["heavy"] == []  # and that version is now warm too


def test_a_corrupt_cache_file_is_regenerated():
    probe()
    (folder,) = schema_dirs()
    sft = folder / "SFTConfig.schema"
    sft.write_text('{"format": 1, "fields": ')
    result = probe()
    assert "trl" in result["heavy"]
    assert_checks(result)
    assert "learning_rate" in json.loads(sft.read_text())["fields"]
    assert probe()["heavy"] == []


def test_opaque_fields_and_cross_field_rules_still_checked(host):
    """Fields the cache cannot type (nested dataclasses) go to the real class; TRL's cross-field
    rules come from building the real config, and the cached outcome repeats its error."""
    import pytest

    import harness

    cases = [({"lora": {"runtime_config": 5}}, "lora.runtime_config", "expected LoraRuntimeConfig, got 5"),
             ({"parallelism_config": 5}, "parallelism_config", "ParallelismConfig | None, got 5"),
             ({"eval_strategy": "steps", "load_best_model_at_end": True, "save_strategy": "epoch"},
              "load_best_model_at_end", "requires the save and eval strategy to match")]
    for _ in range(2):  # cold, then from the cache
        for params, key, needle in cases:
            with pytest.raises(harness.ParamError) as err:
                host.create("trainer", "dpo", params)
            assert err.value.errors[0][0] == key
            assert needle in err.value.errors[0][1]
    assert len(list(schema_dirs()[0].glob("builds/config-*.schema"))) == 1  # only the third case built
