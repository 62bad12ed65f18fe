"""Keep what was trained: saved models in the run folder, the `run` loader, export with a model
card, and what the record says about them. Tiny model, real TRL training (a few steps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness
from harness.contract.plugins import load_plugins
from harness.run.pipeline import run_recipe
from harness.run.recipe import parse_recipe
from harness.store.local import RECORD_FILE, Store
from tests.conftest import FIRST_PARTY

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "train.jsonl"

RECIPE = f"""
[run]
name = "keep"

[model]
loader = "tiny"

[[data]]
name = "facts"
source = "jsonl"
path = "{FACTS}"
format = "prompt_completion"

[[train]]
trainer = "sft"
data = "facts"
max_steps = 2
learning_rate = 3e-3
per_device_train_batch_size = 8
max_length = 64
"""

LM_EVAL = """
[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
limit = 16
"""

SAFETY = """
[[evaluate]]
evaluator = "safety"
suites = ["quick-safety"]
filters = ["refusal"]
max_new_tokens = 8
limit = 16
"""


class Probe(harness.Evaluator):
    """Mean logit of a few chat-templated prompts: fast, depends on weights and template."""

    name = "probe"
    calls = 0

    def fingerprint(self):
        return "probe-v1"

    def evaluate(self, model, context):
        import torch

        Probe.calls += 1
        texts = [model.format_prompt(p) for p in ("hi", "what is 2+2?")]
        ids = model.tokenizer(texts, return_tensors="pt", padding=True)["input_ids"]
        with torch.no_grad():
            value = float(model.model(ids).logits.mean())
        return harness.EvalResult(
            metrics={"probe/mean_logit": harness.Metric(value, 0.0, 2)},
            samples=[{"suite": "probe", "item_id": str(i), "scores": {"mean_logit": value}} for i in range(2)],
            tasks={"probe": harness.TaskInfo("probe-v1", "1", 2)})


class TemplatedTiny(harness.ModelLoader):
    """The tiny model with another chat template: same weights, other prompts."""

    name = "tiny-templated"

    class Params(harness.Params):
        template: str = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

    def load(self):
        from harness_plugins.tiny import TinyLoader
        from harness_plugins.tiny.build import load_tiny

        handle = load_tiny(TinyLoader.validate_params({}))
        handle.tokenizer.chat_template = self.params.template
        return handle


class Extras:
    @harness.hookimpl
    def register_evaluators(self, register):
        register(Probe)

    @harness.hookimpl
    def register_models(self, register):
        register(TemplatedTiny)


PROBE = """
[[evaluate]]
evaluator = "probe"
"""


@pytest.fixture(scope="module")
def extras_host():
    return load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras())])


def _run(host, store, text, **kw):
    return run_recipe(parse_recipe(text), host, store, **kw)


def _logits(model, text="The capital of France is"):
    import torch

    from harness_plugins.tiny.tokenizer import build_tokenizer

    ids = build_tokenizer()(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(ids).logits


# ------------------------------------------------------------------ saving


def test_final_model_saved_loadable_and_recorded(tmp_path, extras_host):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.fingerprint import files_fingerprint, weights_fingerprint

    store = Store(tmp_path / "runs")
    record = _run(extras_host, store, RECIPE + PROBE)
    assert record["status"] == "completed"
    run_dir = store.root / record["id"]
    [entry] = record["artifacts"]
    assert entry["stage"] == "train-0-sft" and entry["kind"] == "model" and entry["path"] == "model"
    folder = run_dir / "model"
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} <= \
        {p.name for p in folder.iterdir()}
    assert entry["bytes"] == sum(p.stat().st_size for p in folder.iterdir())
    assert entry["fingerprint"] == files_fingerprint(folder) == record["model"]["fingerprint_after"]
    assert record["model"]["fingerprint_after"] != record["model"]["fingerprint"]
    assert [s.get("saved") for s in record["stages"] if s["kind"] == "train"] == [["model"]]
    assert not [p for p in run_dir.rglob(".*tmp*")]  # no temporary folder left behind
    # what transformers reloads is the trained model, chat template included
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    base = extras_host.create("model", "tiny", {}).load()
    assert weights_fingerprint(model) != weights_fingerprint(base.model)


def test_save_stages_none_and_outside_path(tmp_path, extras_host):
    store = Store(tmp_path / "runs")
    two = RECIPE + RECIPE[RECIPE.index("[[train]]"):].replace('trainer = "sft"', 'trainer = "sft"\nname = "second"')
    rec = _run(extras_host, store, two + PROBE + '\n[output]\nsave = "stages"\n', use_cache=False)
    assert rec["status"] == "completed"
    assert [(a["stage"], a["path"]) for a in rec["artifacts"]] == \
        [("train-0-sft", "stages/train-0-sft/model"), ("second", "model")]
    assert (store.root / rec["id"] / "stages" / "train-0-sft" / "model" / "model.safetensors").is_file()
    assert rec["artifacts"][0]["fingerprint"] != rec["artifacts"][1]["fingerprint"]

    rec = _run(extras_host, store, RECIPE + PROBE + '\n[output]\nsave = "none"\n', use_cache=False)
    assert rec["artifacts"] == [] and not (store.root / rec["id"] / "model").exists()

    outside = tmp_path / "big-models"
    rec = _run(extras_host, store, RECIPE + PROBE + f'\n[output]\npath = "{outside}"\n', use_cache=False)
    [entry] = rec["artifacts"]
    assert Path(entry["path"]) == (outside / rec["id"] / "model").resolve()
    assert (outside / rec["id"] / "model" / "config.json").is_file()
    assert not (store.root / rec["id"] / "model").exists()


def test_output_table_is_validated(tmp_path):
    from harness.run.recipe import RecipeError

    with pytest.raises(RecipeError, match=r"output\.save"):
        parse_recipe(RECIPE + '\n[output]\nsave = "everything"\n')
    with pytest.raises(RecipeError, match=r"output\.keep.*unknown key"):
        parse_recipe(RECIPE + '\n[output]\nkeep = true\n')


def test_failed_save_fails_the_stage_not_the_record(tmp_path, extras_host, monkeypatch):
    def full_disk(self, path):
        Path(path, "partial.bin").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(harness.ModelHandle, "save", full_disk)
    store = Store(tmp_path / "runs")
    record = _run(extras_host, store, RECIPE + PROBE)
    assert record["status"] == "failed" and record["error"]["stage"] == "train-0-sft"
    assert "No space left" in record["error"]["message"]
    assert record["metrics"]["before"]  # the completed stages are kept
    run_dir = store.root / record["id"]
    assert json.loads((run_dir / RECORD_FILE).read_text())["status"] == "failed"
    assert not (run_dir / "model").exists() and not list(run_dir.glob(".model*"))  # nothing half-written


@pytest.mark.parametrize("merge", [True, False])
def test_lora_stage_keeps_adapter_and_merged_weights_unless_merge_false(tmp_path, extras_host, merge):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    recipe = RECIPE.replace("max_length = 64", 'max_length = 64\nlora = { r = 4, lora_alpha = 8, '
                                               'target_modules = ["q_proj", "v_proj"] }')
    store = Store(tmp_path / "runs")
    record = _run(extras_host, store, recipe + PROBE + f"\n[output]\nmerge = {str(merge).lower()}\n",
                  use_cache=False)
    assert record["status"] == "completed", record["error"]
    run_dir = store.root / record["id"]
    kinds = {a["kind"]: a for a in record["artifacts"]}
    assert set(kinds) == ({"adapter", "model"} if merge else {"adapter"})
    adapter_dir = run_dir / kinds["adapter"]["path"]
    assert (adapter_dir / "adapter_config.json").is_file() and kinds["adapter"]["format"] == "peft"
    base = extras_host.create("model", "tiny", {}).load().model
    with_adapter = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    if merge:
        merged = AutoModelForCausalLM.from_pretrained(run_dir / "model")
        assert not (run_dir / "model" / "adapter_config.json").exists()  # loads as a plain model
        assert _logits(merged).allclose(_logits(with_adapter), atol=1e-5)
        assert not _logits(merged).allclose(_logits(extras_host.create("model", "tiny", {}).load().model))
    else:
        assert not (run_dir / "model").exists()
        # the run loader applies the adapter to the base model the stage started from
        reloaded = extras_host.create("model", "run", {"run": record["id"], "store": str(store.root)}).load()
        assert reloaded.meta["adapter"] and reloaded.files is None
        assert _logits(reloaded.model).allclose(_logits(with_adapter))
        # export ships the adapter with its card
        from harness.cli.export_cmd import export_run

        out = export_run(store, record["id"], tmp_path / "adapter-export")
        assert (out / "adapter_config.json").is_file() and "PeftModel.from_pretrained" in (out / "README.md").read_text()
        again = PeftModel.from_pretrained(extras_host.create("model", "tiny", {}).load().model, out).merge_and_unload()
        assert _logits(again).allclose(_logits(with_adapter))


def test_adapter_only_stage_reloads_on_the_previous_stages_saved_model(tmp_path, extras_host):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    lora = RECIPE[RECIPE.index("[[train]]"):].replace('trainer = "sft"', 'trainer = "sft"\nname = "lora"').replace(
        "max_length = 64", 'max_length = 64\nlora = { r = 4, lora_alpha = 8, target_modules = ["q_proj"] }')
    store = Store(tmp_path / "runs")
    record = _run(extras_host, store, RECIPE + lora + PROBE + '\n[output]\nsave = "stages"\nmerge = false\n',
                  use_cache=False)
    assert [(a["stage"], a["kind"]) for a in record["artifacts"]] == [("train-0-sft", "model"), ("lora", "adapter")]
    run_dir = store.root / record["id"]
    expected = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run_dir / "stages/train-0-sft/model"),
                                         run_dir / "adapter").merge_and_unload()
    reloaded = extras_host.create("model", "run", {"run": record["id"], "store": str(store.root)}).load()
    assert _logits(reloaded.model).allclose(_logits(expected))


# ------------------------------------------------------------------ the run loader


def test_eval_run_model_reproduces_after_metrics_exactly(tmp_path, monkeypatch):
    from harness.cli import _add_builtin_commands, cli

    store = tmp_path / "runs"
    recipe = tmp_path / "keep.toml"
    recipe.write_text(RECIPE + LM_EVAL + SAFETY)
    _add_builtin_commands()
    runner = CliRunner()
    out = runner.invoke(cli, ["run", str(recipe), "--store", str(store), "--json"])
    assert out.exit_code == 0, out.output
    trained = json.loads((store / json.loads(out.stdout)["id"] / RECORD_FILE).read_text())
    # --no-cache: the evaluation really runs on the reloaded model
    # the recipe's own [[evaluate]] sections, on the run's saved model
    out = runner.invoke(cli, ["eval", str(recipe), "--model", "run:latest", "--store", str(store), "--no-cache",
                              "--json"])
    assert out.exit_code == 0, out.output
    again = json.loads((store / json.loads(out.stdout)["id"] / RECORD_FILE).read_text())
    assert again["model"]["run"] == trained["id"] and again["model"]["loader"] == "run"
    assert trained["metrics"]["after"]
    assert again["metrics"]["before"] == trained["metrics"]["after"]
    rows = lambda rid, phase: [json.loads(x) for x in (store / rid / "samples" / f"{phase}.jsonl").read_text().splitlines()]  # noqa: E731
    strip = lambda rs: [{k: r.get(k) for k in ("suite", "item_id", "output", "scores")} for r in rs]  # noqa: E731
    assert strip(rows(again["id"], "before")) == strip(rows(trained["id"], "after"))


def test_run_model_hits_the_cache_of_the_runs_after_evaluation(tmp_path, extras_host):
    store = Store(tmp_path / "runs")
    Probe.calls = 0
    trained = _run(extras_host, store, RECIPE + PROBE)
    assert Probe.calls == 2
    rec = _run(extras_host, store, f'[run]\nname = "e"\n[model]\nloader = "run"\nrun = "{trained["id"]}"\n'
                                   f'store = "{store.root}"\n' + PROBE, kind="eval")
    assert Probe.calls == 2, "same saved files, tokenizer and settings: the run's 'after' result is reused"
    assert rec["metrics"]["before"] == trained["metrics"]["after"]
    assert rec["model"]["fingerprint"] == trained["model"]["fingerprint_after"]
    # a recipe continues training from it
    more = RECIPE.replace('loader = "tiny"', f'loader = "run"\nrun = "{trained["id"]}"\nstore = "{store.root}"')
    cont = _run(extras_host, store, more + PROBE)
    assert cont["status"] == "completed" and cont["model"]["run"] == trained["id"]
    assert cont["model"]["fingerprint"] == trained["model"]["fingerprint_after"]
    assert cont["metrics"]["before"] == trained["metrics"]["after"]  # its "before" is the run's "after"
    assert cont["model"]["fingerprint_after"] not in (trained["model"]["fingerprint_after"], None)


def test_run_loader_errors_name_the_run(tmp_path, extras_host):
    store = Store(tmp_path / "runs")
    with pytest.raises(harness.ParamError, match="no run 'nope'"):
        extras_host.create("model", "run", {"run": "nope", "store": str(store.root)}).load()
    rec = _run(extras_host, store, RECIPE + PROBE + '\n[output]\nsave = "none"\n', use_cache=False)
    with pytest.raises(harness.ParamError, match=r"saved no model .*save = 'none'"):
        extras_host.create("model", "run", {"run": rec["id"], "store": str(store.root)}).load()
    with pytest.raises(harness.ParamError, match="saved a model"):
        extras_host.create("model", "run", {"run": "latest", "store": str(store.root)}).load()
    # checked before any run starts: no failed run is stored for a model that cannot be found
    from harness.cli import _add_builtin_commands, cli

    _add_builtin_commands()
    before = store.run_ids()
    out = CliRunner().invoke(cli, ["eval", "--model", "run:nope", "--tasks", "quick_mc", "--store", str(store.root)])
    assert out.exit_code == 2 and "model.run: no run 'nope'" in out.output
    assert store.run_ids() == before


# ------------------------------------------------------------------ cache key


def test_same_weights_other_chat_template_misses_the_cache(tmp_path, extras_host):
    store = Store(tmp_path / "runs")
    Probe.calls = 0
    eval_only = '[run]\nname = "t"\n[model]\nloader = "tiny-templated"\n{extra}' + PROBE
    first = _run(extras_host, store, eval_only.format(extra=""), kind="eval")
    _run(extras_host, store, eval_only.format(extra=""), kind="eval")
    assert Probe.calls == 1  # same weights and template: hit
    other = _run(extras_host, store, eval_only.format(extra='template = "{{ messages[0][\'content\'] }}!"\n'),
                 kind="eval")
    assert Probe.calls == 2, "another chat template must miss"
    assert other["model"]["fingerprint"] == first["model"]["fingerprint"]  # the weights are the same


def test_cache_key_covers_tokenizer_generation_and_code():
    from harness.store.cache import EvalCache

    base = dict(model_fingerprint="w", evaluator="p/e", evaluator_version="1", evaluator_fingerprint="items",
                libraries={"torch": "2"}, tokenizer_fingerprint="t", generation={"dtype": "float32"},
                evaluator_code="c")
    keys = {EvalCache.key(**base)}
    for field, value in [("tokenizer_fingerprint", "t2"), ("generation", {"dtype": "bfloat16"}),
                         ("evaluator_code", "c2"), ("model_fingerprint", "w2"), ("evaluator_fingerprint", "i2"),
                         ("libraries", {"torch": "3"})]:
        keys.add(EvalCache.key(**{**base, field: value}))
    assert len(keys) == 7


def test_no_weight_hashing_when_the_cache_is_off(tmp_path, extras_host, monkeypatch):
    import harness.fingerprint as fp

    def forbidden(*a, **k):
        raise AssertionError("weights were hashed with the cache off")

    monkeypatch.setattr(fp, "weights_fingerprint", forbidden)
    monkeypatch.setattr(fp, "files_fingerprint", forbidden)
    record = _run(extras_host, Store(tmp_path / "runs"), RECIPE + PROBE + '\n[output]\nsave = "none"\n',
                  use_cache=False)
    assert record["status"] == "completed", record["error"]
    assert record["model"]["fingerprint"] is None and record["model"]["fingerprint_after"] is None


# ------------------------------------------------------------------ fingerprints


def test_weight_fingerprints_are_stable_and_sensitive(tmp_path, tiny_model):
    import copy

    import torch

    import harness.fingerprint as fp

    folder = tiny_model.save(tmp_path / "m")
    a, b = fp.weights_fingerprint(tiny_model.model), fp.files_fingerprint(folder)
    assert fp.weights_fingerprint(tiny_model.model) == a and fp.files_fingerprint(folder) == b
    other = copy.deepcopy(tiny_model.model)
    assert fp.weights_fingerprint(other.to(torch.bfloat16)) != a  # dtype is part of the hash
    other = copy.deepcopy(tiny_model.model)
    with torch.no_grad():
        next(other.parameters()).view(-1)[7] += 1e-3
    assert fp.weights_fingerprint(other) != a  # one weight changed
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert fp.files_fingerprint(folder) != b


def test_tree_hash_does_not_depend_on_thread_count(monkeypatch):
    import harness.fingerprint as fp

    buf = memoryview(bytes(range(256)) * 4096)
    monkeypatch.setattr(fp, "CHUNK", 1000)
    many = fp._tree_hash([b"x"], [buf])
    monkeypatch.setattr(fp, "_threads", lambda: 1)
    assert fp._tree_hash([b"x"], [buf]) == many
    assert fp._tree_hash([b"y"], [buf]) != many


# ------------------------------------------------------------------ export and model card


def test_export_writes_a_loadable_folder_with_a_model_card(tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.cli import _add_builtin_commands, cli

    store = tmp_path / "runs"
    recipe = tmp_path / "keep.toml"
    recipe.write_text(RECIPE + LM_EVAL + '\n[gates]\n"quick_mc/acc" = { min = 0.0 }\n')
    _add_builtin_commands()
    runner = CliRunner()
    out = runner.invoke(cli, ["run", str(recipe), "--store", str(store), "--json", "--no-cache",
                              "--set", "run.seed=3"])
    assert out.exit_code == 0, out.output
    dest = tmp_path / "export"
    out = runner.invoke(cli, ["export", "latest", str(dest), "--store", str(store)])
    assert out.exit_code == 0, out.output
    model = AutoModelForCausalLM.from_pretrained(dest)
    assert AutoTokenizer.from_pretrained(dest).chat_template
    record = json.loads((dest / "posttrain-harness-run.json").read_text())
    assert record["seed"] == 3 and record["recipe"]["overrides"] == ["run.seed=3"]
    card = ModelCard.load(dest / "README.md")
    results = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert results["quick_mc/acc"] == pytest.approx(record["metrics"]["after"]["quick_mc/acc"]["value"])
    text = (dest / "README.md").read_text()
    assert "model-index:" in text
    assert "| `quick_mc/acc` |" in text and "95% CI" in text and "McNemar p" in text  # the paired table
    assert "## Gates" in text and "| 95% (Holm) |" in text and text.count("| pass |") == 1  # verdict, confidence
    assert "verdicts: 1 pass, 0 fail, 0 inconclusive · on_inconclusive = fail" in text     # the policy line
    assert record["model"]["fingerprint_after"] in text and "## Training data" in text
    assert "`--set run.seed=3`" in text and "transformers" in text
    assert model.num_parameters() == record["model"]["parameters"]
    # never overwrites
    out = runner.invoke(cli, ["export", "latest", str(dest), "--store", str(store)])
    assert out.exit_code != 0 and "not empty" in out.output


class FakeHub:
    """Stands in for the Hub (no network here): records what `--push-to-hub` asks of HfApi."""

    calls: list = []

    def create_repo(self, repo_id, **kw):
        FakeHub.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, *, folder_path, repo_id, **kw):
        FakeHub.calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
        return type("Info", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()


def test_push_to_hub_uploads_the_exported_folder(tmp_path, monkeypatch):
    import huggingface_hub

    from harness.cli import _add_builtin_commands, cli

    store = Store(tmp_path / "runs")
    host = load_plugins(allow=FIRST_PARTY, extra=[("extras", Extras())])
    rec = _run(host, store, RECIPE + PROBE, use_cache=False)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    FakeHub.calls = []
    _add_builtin_commands()
    out = CliRunner().invoke(cli, ["export", rec["id"], str(tmp_path / "ship"), "--store", str(store.root),
                                   "--push-to-hub", "me/tiny", "--private"])
    assert out.exit_code == 0, out.output
    assert FakeHub.calls[0] == ("create_repo", "me/tiny", {"private": True, "exist_ok": True})
    assert FakeHub.calls[1][0] == "upload_folder" and {"README.md", "model.safetensors", "config.json"} <= \
        set(FakeHub.calls[1][2])
    assert "pushed to https://hub/me/tiny" in out.output


def test_model_index_is_hf_metadata():
    from huggingface_hub import ModelCardData

    from harness.reports.model_card import model_index

    record = {"id": "r1", "name": "m", "metrics": {"after": {"a/acc": {"value": 0.5}, "b/harm": {"value": 0.1}}},
              "tasks": {"a": {"evaluator": "lm-eval", "content_hash": "h"}}}
    index = model_index(record)
    assert index[0]["name"] == "m"
    metrics = {m["name"]: m["value"] for r in index[0]["results"] for m in r["metrics"]}
    assert metrics == {"a/acc": 0.5, "b/harm": 0.1}
    # huggingface_hub reads it back
    data = ModelCardData(model_name="m", **{"model-index": index})
    assert {r.metric_name for r in data.eval_results} == {"a/acc", "b/harm"}
