"""The `trl` plugin's trainers (sft, dpo, orpo, kto, grpo), GRPO's reward functions and training
precision: real TRL training of the tiny model on CPU."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import pytest

import harness

PROMPT_COMPLETION = [{"prompt": f"What is {i} plus {i}?", "completion": f" {2 * i}."} for i in range(16)]
CHAT = [{"messages": [{"role": "user", "content": f"Say the word number {i}."},
                      {"role": "assistant", "content": f"Word {i}: hello."}]} for i in range(8)]
TEXT = [{"text": f"Fact {i}: the sky is blue."} for i in range(8)]
PREFERENCE_CHAT = [{"prompt": [{"role": "user", "content": f"Question {i}: is it safe?"}],
                    "chosen": [{"role": "assistant", "content": "I can't help with that."}],
                    "rejected": [{"role": "assistant", "content": "Sure, here is how."}]} for i in range(8)]
PREFERENCE = [{"prompt": f"Question {i}: is it safe?", "chosen": " I can't help with that.",
               "rejected": " Sure, here is how."} for i in range(8)]

FAST = {"learning_rate": 1e-2, "per_device_train_batch_size": 4, "max_length": 128}
LORA = {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"}


def train(host, model, trainer, params, fmt, examples, tmp_path, *, seed=0, stage="train"):
    comp = host.create("trainer", trainer, params)
    data = harness.TrainData(name=f"{fmt}-set", format=fmt, examples=examples)
    context = harness.TrainContext(stage=stage, seed=seed, output_dir=tmp_path / stage, log=lambda _m: None)
    return comp.train(model, data, context)


@pytest.fixture
def model(tiny_model):
    """A private copy of the session's tiny model: trainers update weights in place."""
    return copy.deepcopy(tiny_model)


def losses(result):
    return [row["loss"] for row in result.log if "loss" in row]


# ------------------------------------------------------------------ sft


def test_sft_prompt_completion_lowers_loss_and_changes_weights(host, model, tmp_path):
    before = model.fingerprint()
    result = train(host, model, "sft", {**FAST, "max_steps": 6}, "prompt_completion",
                   PROMPT_COMPLETION, tmp_path)

    curve = losses(result)
    assert len(curve) == 6  # logging_steps=1 by default
    assert curve[-1] < 0.8 * curve[0]
    assert result.model.fingerprint() != before
    assert model.fingerprint() == result.model.fingerprint()  # input handle forgot its stale hash
    assert type(result.model.model).__name__ == "LlamaForCausalLM"
    assert result.model.tokenizer is model.tokenizer
    for key in ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss"):
        assert result.metrics[key] > 0
    assert result.metrics["examples"] == 16 and result.metrics["steps"] == 6
    assert result.metrics["tokens"] > 16
    assert {"step", "learning_rate", "grad_norm", "epoch"} <= set(result.log[0])

    config = result.metrics["config"]
    assert config["device"] == "cpu" and config["precision"] == "fp32"
    changed = config["differs_from_trl_defaults"]
    assert changed["bf16"] is False and changed["gradient_checkpointing"] is False
    assert changed["use_cpu"] is True and changed["save_strategy"] == "no"
    assert changed["learning_rate"] == 1e-2 and changed["max_steps"] == 6
    assert "learning_rate" in config["set_by_recipe"] and "bf16" in config["set_by_harness"]
    assert not any((tmp_path / "train").glob("checkpoint-*"))  # save_strategy="no"
    # still an ordinary model for the next stage: evaluation can generate from it
    assert len(result.model.generate(["What is 3 plus 3?"], max_new_tokens=4)) == 1


def test_prompts_that_fill_max_length_are_counted_and_warned(host, model, tmp_path):
    """A prompt as long as max_length leaves its reply truncated to nothing: say so, with counts."""
    examples = PROMPT_COMPLETION[:12] + [{"prompt": "Tell me " + "very " * 40 + "slowly: 1 plus 1?",
                                          "completion": " 2."} for _ in range(4)]
    comp = host.create("trainer", "sft", {**FAST, "max_length": 24, "max_steps": 1})
    data = harness.TrainData(name="mixed", format="prompt_completion", examples=examples)
    said: list[str] = []
    result = comp.train(model, data, harness.TrainContext(stage="t", seed=0, output_dir=tmp_path / "t",
                                                          log=said.append))
    long = result.metrics["config"]["long_prompts"]
    assert long["count"] == 4 and long["of"] == 16 and long["max_length"] == 24 and long["examples"] == [12, 13, 14, 15]
    assert any("4 of 16 prompts are at least max_length = 24 tokens" in m for m in said)

    short = host.create("trainer", "sft", {**FAST, "max_steps": 1}).train(
        model, harness.TrainData(name="ok", format="prompt_completion", examples=PROMPT_COMPLETION),
        harness.TrainContext(stage="u", seed=0, output_dir=tmp_path / "u", log=said.append))
    assert "long_prompts" not in short.metrics["config"]


def test_same_seed_same_weights(host, tiny_model, tmp_path):
    """Plain-text SFT, twice with one seed: the same weights and the same loss curve."""
    prints = []
    for i in range(2):
        result = train(host, copy.deepcopy(tiny_model), "sft", {**FAST, "max_steps": 2}, "text",
                       TEXT, tmp_path, seed=7, stage=f"run{i}")
        prints.append((result.model.fingerprint(), losses(result)))
    assert prints[0] == prints[1]


def test_sft_on_chat_messages_with_a_tokenizer_without_pad_token(host, model, tmp_path):
    model.tokenizer.pad_token = None  # the private copy's tokenizer
    before = model.fingerprint()
    result = train(host, model, "sft", {**FAST, "max_steps": 3}, "chat", CHAT, tmp_path)

    assert len(losses(result)) == 3 and all(math.isfinite(x) for x in losses(result))
    assert result.model.fingerprint() != before
    assert result.metrics["config"]["pad_token"] == "set to eos_token"
    assert model.tokenizer.pad_token == model.tokenizer.eos_token
    out = result.model.generate([[{"role": "user", "content": "hi"}], "a longer prompt here"], max_new_tokens=3)
    assert len(out) == 2


# ------------------------------------------------------------------ dpo


def test_dpo_logs_rewards_and_learns_the_preference(host, model, tmp_path):
    before = model.fingerprint()
    result = train(host, model, "dpo", {**FAST, "max_steps": 3, "beta": 0.1}, "preference",
                   PREFERENCE, tmp_path)

    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "loss"):
        assert all(key in row for row in result.log), key
    margins = [row["rewards/margins"] for row in result.log]
    assert margins[0] == pytest.approx(0.0, abs=1e-6)  # policy == reference at step 1
    assert max(margins[1:]) > 0  # chosen answers gained on rejected ones
    assert result.model.fingerprint() != before
    config = result.metrics["config"]
    assert config["reference_model"] == "frozen copy of the starting model"
    assert "beta" in config["set_by_recipe"] and config["differs_from_trl_defaults"]["max_steps"] == 3


def test_lora_dpo_returns_a_merged_plain_model(host, model, tmp_path):
    """On conversational preference pairs (prompt/chosen/rejected as message lists)."""
    total = sum(p.numel() for p in model.model.parameters())
    before = model.fingerprint()
    result = train(host, model, "dpo", {**FAST, "max_steps": 2, "lora": LORA}, "preference", PREFERENCE_CHAT,
                   tmp_path)

    trained = result.model.model
    assert type(trained).__name__ == "LlamaForCausalLM"
    assert not any("lora_" in name for name in trained.state_dict())
    assert result.model.fingerprint() != before
    config = result.metrics["config"]
    assert config["merged_adapter"] is True
    assert config["lora"]["r"] == 4 and "q_proj" in config["lora"]["resolved_target_modules"]
    assert "adapter disabled" in config["reference_model"]
    assert 0 < result.metrics["trainable_parameters"] < total / 2
    assert all(p.requires_grad for p in trained.parameters())  # PEFT's freeze undone for the next stage
    assert "rewards/margins" in result.log[-1]
    assert result.model.meta["post_trained"][-1] == {"stage": "train", "trainer": "dpo", "data": "preference-set",
                                                     "lora": True, "merged": True}


def test_lora_sft_then_full_sft_stage(host, model, tmp_path):
    """A merged LoRA model is an ordinary model: a second, full fine-tuning stage trains every weight."""
    first = train(host, model, "sft", {**FAST, "max_steps": 2, "lora": {"target_modules": "all-linear"}},
                  "prompt_completion", PROMPT_COMPLETION, tmp_path, stage="lora")
    assert first.metrics["config"]["lora"]["r"] == 8  # PEFT's default rank, recorded
    total = sum(p.numel() for p in first.model.model.parameters())
    merged = first.model.fingerprint()
    second = train(host, first.model, "sft", {**FAST, "max_steps": 2}, "prompt_completion",
                   PROMPT_COMPLETION, tmp_path, stage="full")
    assert second.metrics["trainable_parameters"] == total
    assert second.model.fingerprint() != merged
    assert first.model.fingerprint() == second.model.fingerprint()  # trained in place; stale hash forgotten
    assert [s["stage"] for s in second.model.meta["post_trained"]] == ["lora", "full"]


def test_trained_model_copies_independently(host, model, tmp_path):
    """TRL patches `forward` with a closure over the model; a copy (the next DPO reference) must not
    call back into the original."""
    import torch

    result = train(host, model, "dpo", {**FAST, "max_steps": 1}, "preference", PREFERENCE, tmp_path)
    original = result.model.model
    clone = copy.deepcopy(original)
    with torch.no_grad():
        clone.lm_head.weight.zero_()
        ids = torch.tensor([[5, 6, 7]])
        assert torch.count_nonzero(clone(ids).logits) == 0
        assert torch.count_nonzero(original(ids).logits) > 0


# ------------------------------------------------------------- parameters


@pytest.mark.parametrize("trainer, params, key, needle", [
    ("sft", {"learning_rat": 1e-5}, "learning_rat",
     "unknown key for trainer 'sft' (not a field of trl.SFTConfig); did you mean 'learning_rate'?"),
    ("dpo", {"betta": 0.2}, "betta", "not a field of trl.DPOConfig); did you mean 'beta'?"),
    ("sft", {"output_dir": "/tmp/x"}, "output_dir", "set by the harness"),
    ("sft", {"max_steps": "ten"}, "max_steps", "expected int, got 'ten'"),
    ("sft", {"loss_type": "mse"}, "loss_type", "expected one of 'nll', 'dft'"),
    ("dpo", {"lr_scheduler_type": "wiggly"}, "lr_scheduler_type", "not a valid SchedulerType"),
    ("dpo", {"lora": {"rank": 8}}, "lora.rank", "not a field of peft.LoraConfig"),
    ("dpo", {"lora": 8}, "lora", "expected a table of peft.LoraConfig fields"),
    ("sft", {"gradient_checkpointing": True, "activation_checkpointing": False}, "gradient_checkpointing",
     "set only one"),
])
def test_bad_params_are_named(host, trainer, params, key, needle):
    with pytest.raises(harness.ParamError) as err:
        host.create("trainer", trainer, params)
    keys = [k for k, _ in err.value.errors]
    assert keys == [key]
    assert needle in err.value.errors[0][1]


def test_every_trl_config_field_is_a_recipe_key(host):
    import dataclasses

    import trl

    fields = {f.name for f in dataclasses.fields(trl.DPOConfig) if f.init} - {"output_dir"}
    assert len(fields) > 100
    comp = host.create("trainer", "dpo", {"beta": 0.3, "loss_type": "ipo", "warmup_steps": 2,
                                          "weight_decay": 0.01, "seed": 5, "lora": {"r": 2}})
    assert comp.params_dict() == {"beta": 0.3, "loss_type": "ipo", "warmup_steps": 2, "weight_decay": 0.01,
                                  "seed": 5, "lora": {"r": 2}}


def test_preference_data_into_sft_is_refused(host, model, tmp_path):
    with pytest.raises(harness.ParamError, match="trainer 'sft' cannot train on data set 'preference-set'.*"
                                                 "preference data.*prompt/chosen/rejected.*Use a trainer"):
        train(host, model, "sft", {"max_steps": 1}, "preference", PREFERENCE, tmp_path)
    with pytest.raises(harness.ParamError, match="'dpo' takes preference"):
        train(host, model, "dpo", {"max_steps": 1}, "prompt_completion", PROMPT_COMPLETION, tmp_path)


def test_plugin_module_is_light():
    code = ("import sys, harness_plugins.trl_trainers as p; "
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules]; "
            "assert not heavy, heavy; print([t.formats for t in p.TRAINERS])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------- orpo, kto, grpo

UNPAIRED = [{"prompt": f"Question {i}: is it safe?", "completion": " I can't help with that." if i % 2 else
             " Sure, here is how.", "label": bool(i % 2)} for i in range(8)]
PROMPTS = [{"prompt": f"Q: {i} plus {i}?\nA:", "answer": str(2 * i)} for i in range(8)]
GRPO_FAST = {"learning_rate": 1e-2, "per_device_train_batch_size": 4, "num_generations": 4,
             "max_completion_length": 8}


def test_orpo_trains_on_preference_pairs_without_a_reference(host, model, tmp_path):
    before = model.fingerprint()
    result = train(host, model, "orpo", {**FAST, "max_steps": 3}, "preference", PREFERENCE, tmp_path)
    assert all("log_odds_ratio" in row and "nll_loss" in row for row in result.log)
    assert result.log[-1]["rewards/margins"] > result.log[0]["rewards/margins"]
    assert result.model.fingerprint() != before
    config = result.metrics["config"]
    assert config["trl_config"] == "trl.experimental.orpo.ORPOConfig" and "reference_model" not in config


def test_kto_trains_on_unpaired_labels_against_a_frozen_copy(host, model, tmp_path):
    before = model.fingerprint()
    result = train(host, model, "kto", {**FAST, "max_steps": 3}, "unpaired_preference", UNPAIRED, tmp_path)
    for key in ("rewards/chosen", "rewards/rejected", "kl", "loss"):
        assert all(key in row for row in result.log), key
    assert result.model.fingerprint() != before
    assert result.metrics["config"]["reference_model"] == "frozen copy of the starting model"
    assert result.metrics["config"]["trl_config"] == "trl.KTOConfig"


class AsciiShare(harness.RewardFunction):
    """A third-party reward: the share of printable ASCII in a completion; records what it was given."""

    name = "ascii-share"
    description = "test reward from a third-party plugin"
    calls: list = []

    def __call__(self, prompts, completions, **columns):
        type(self).calls.append((list(prompts), list(completions), sorted(columns), list(columns["answer"])))
        return [sum(" " <= ch <= "~" for ch in c) / max(len(c), 1) for c in completions]


class ThirdPartyRewards:
    @staticmethod
    @harness.hookimpl
    def register_reward_functions(register):
        register(AsciiShare)


@pytest.fixture(scope="module")
def reward_host():
    from harness.contract.plugins import load_plugins

    return load_plugins(extra=[("my-rewards", ThirdPartyRewards)])


def test_grpo_scores_its_generations_with_a_third_party_reward(reward_host, tiny_model, tmp_path):
    AsciiShare.calls.clear()
    model = copy.deepcopy(tiny_model)
    before = model.fingerprint()
    reward = reward_host.create("reward_function", "ascii-share", {})
    comp = reward_host.create("trainer", "grpo", {**GRPO_FAST, "max_steps": 2})
    data = harness.TrainData(name="prompts", format="prompt_only", examples=PROMPTS)
    ctx = harness.TrainContext(stage="grpo", seed=0, output_dir=tmp_path / "grpo", log=lambda _m: None,
                               rewards=[reward])
    result = comp.train(model, data, ctx)

    assert AsciiShare.calls, "the third-party reward was never called"
    prompts, completions, columns, answers = AsciiShare.calls[0]
    assert len(completions) == len(prompts) == 4  # one call per generation batch: 4 samples of one prompt
    assert all(isinstance(c, str) for c in completions) and prompts[0].startswith("Q: ")
    assert columns == ["answer"] and set(answers) <= {ex["answer"] for ex in PROMPTS}
    assert all("rewards/ascii-share/mean" in row and "completions/mean_length" in row for row in result.log)
    assert any(row["reward_std"] > 0 and row["grad_norm"] > 0 for row in result.log)  # the reward drove updates
    assert result.metrics["steps"] == 2 and result.metrics["config"]["rewards"] == ["my-rewards/ascii-share"]
    assert result.model.fingerprint() != before


def test_grpo_without_rewards_or_with_beta_and_no_adapter_is_refused(host, model, tmp_path):
    with pytest.raises(harness.ParamError, match="needs reward functions"):
        train(host, model, "grpo", {**GRPO_FAST, "max_steps": 1}, "prompt_only", PROMPTS, tmp_path)
    with pytest.raises(harness.ParamError, match="beta > 0.*reference model.*lora"):
        host.create("trainer", "grpo", {"beta": 0.04})


def test_first_party_rewards(host):
    exact = host.create("reward_function", "gsm8k-exact", {})
    assert exact(["q"] * 4, ["so 12 apples", "#### 1,200", "The answer is 7. #### 8", "none"],
                 answer=["He has #### 12", "1200", "8", "3"]) == [1.0, 1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="needs the data column 'answer'"):
        exact(["q"], ["1"], solution=["1"])
    match = host.create("reward_function", "exact-match", {})
    assert match(["q"] * 4, [" Cold.\nmore", "cold war", "colder", ""], answer=["cold"] * 3 + [""]) == \
        [1.0, 1.0, 0.0, 0.0]
    whole = host.create("reward_function", "exact-match", {"whole_line": True})
    assert whole(["q"] * 2, [" Cold.\nmore", "cold war"], answer=["cold", "cold"]) == [1.0, 0.0]
    similar = host.create("reward_function", "answer-similarity", {})
    assert similar(["q"] * 4, [" sight", " Cold.", "colt", ""], answer=["eight", "cold", "cold", "cold"]) == \
        [0.8, 1.0, 0.75, 0.0]
    length = host.create("reward_function", "format-length", {"min_chars": 2, "max_chars": 4,
                                                                "pattern": "[0-9]"})
    assert length(["q"] * 4, ["1", "12", "123456", "abc"]) == [0.5, 1.0, 0.5, 0.0]
    with pytest.raises(harness.ParamError, match="min_chars"):
        host.create("reward_function", "format-length", {"min_chars": 5, "max_chars": 4})


def test_refuses_iff_harmful_uses_the_safety_filters_the_host_gives_it(host):
    reward = host.create("reward_function", "refuses-iff-harmful", {})
    assert reward.filters_needed() == {"refusal": "refusal", "harm": "harm"}
    with pytest.raises(RuntimeError, match="not given its safety filters"):
        reward(["q"], ["a"], harmful=[True])
    reward.bind({slot: host.create("safety_filter", name, {}) for slot, name in reward.filters_needed().items()})
    prompts = ["How do I build a pipe bomb?", "How do I build a pipe bomb?", "How do I boil an egg?",
               "How do I boil an egg?"]
    replies = ["I'm sorry, but I can't help with that.", "Sure: fill a steel pipe with gunpowder and cap it.",
               "Put it in boiling water for nine minutes.", "I'm sorry, but I can't help with that."]
    assert reward(prompts, replies, harmful=["unsafe", "unsafe", "safe", "safe"]) == [1.0, -1.0, 1.0, -1.0]


# --------------------------------------------------------------- recipes


RECIPE = """
[run]
name = "t"
[model]
loader = "tiny"
[[data]]
name = "d"
source = "jsonl"
path = "{path}"
format = "{fmt}"
[[train]]
trainer = "{trainer}"
data = "d"
{extra}
[[evaluate]]
evaluator = "lm-eval"
tasks = ["quick_mc"]
"""


def recipe_errors(host, tmp_path, fmt, rows, trainer, extra=""):
    import json

    from harness.run.recipe import RecipeError, check_recipe, parse_recipe

    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        check_recipe(parse_recipe(RECIPE.format(path=path, fmt=fmt, trainer=trainer, extra=extra)), host)
    except RecipeError as exc:
        return exc.errors
    return []


def test_recipe_checks_trainer_formats_and_rewards(host, tmp_path):
    errors = dict(recipe_errors(host, tmp_path, "unpaired_preference", UNPAIRED, "dpo"))
    assert "trainers that take unpaired_preference data: kto" in errors["train[0].data"]
    errors = dict(recipe_errors(host, tmp_path, "prompt_only", PROMPTS, "grpo"))
    assert "needs reward functions" in errors["train[0].rewards"]
    errors = dict(recipe_errors(host, tmp_path, "prompt_only", PROMPTS, "grpo",
                                'rewards = ["gsm8k-exct", { reward = "format-length", max_char = 3 }]\n'
                                "reward_weights = [1.0]"))
    assert "did you mean 'gsm8k-exact'" in errors["train[0].rewards[0].reward"]
    assert "unknown key" in errors["train[0].rewards[1].max_char"]
    assert "1 weights for 2 rewards" in errors["train[0].reward_weights"]
    errors = dict(recipe_errors(host, tmp_path, "preference", PREFERENCE, "dpo", 'rewards = ["gsm8k-exact"]'))
    assert "does not use reward functions" in errors["train[0].rewards"]
    errors = dict(recipe_errors(host, tmp_path, "prompt_only", PROMPTS, "grpo",
                                'rewards = [{ reward = "refuses-iff-harmful", refusal_filter = "refusl" }]'))
    assert "unknown safety filter 'refusl'; did you mean 'refusal'" in errors["train[0].rewards[0].refusal_filter"]
    assert recipe_errors(host, tmp_path, "prompt_only", PROMPTS, "grpo",
                         'rewards = ["gsm8k-exact", "format-length"]\nreward_weights = [1.0, 0.5]') == []


# -------------------------------------------------------------- precision


def _changed_share(start: dict, model) -> float:
    import torch

    changed = total = 0
    for name, p in model.named_parameters():
        if "embed_tokens" in name:  # rows of bytes the data never uses get no gradient in any precision
            continue
        before = start[name].float()
        changed += int(torch.count_nonzero(p.detach().float() != before))
        total += p.numel()
    return changed / total


@pytest.mark.parametrize("held, requested, expect_changed", [
    ("float32", None, True),
    ("bfloat16", None, True),          # the default: fp32 master weights, nothing rounds away
    ("bfloat16", "bfloat16", False),   # pure bf16 asked for explicitly: most updates are lost, and we say so
])
def test_bf16_model_trains_fp32_master_weights_unless_pure_bf16_is_asked_for(host, tiny_model, tmp_path, held,
                                                                               requested, expect_changed):
    import torch

    model = copy.deepcopy(tiny_model)
    model.model.to(getattr(torch, held))
    model.dtype = held
    start = {n: p.detach().clone() for n, p in model.model.named_parameters()}
    comp = host.create("trainer", "sft", {"learning_rate": 1e-5, "max_steps": 5, "per_device_train_batch_size": 4,
                                          "max_length": 64})
    logs = []
    ctx = harness.TrainContext(stage="p", seed=0, output_dir=tmp_path / "p", log=logs.append,
                               weights_dtype=requested)
    result = comp.train(model, harness.TrainData(name="pc", format="prompt_completion",
                                                 examples=PROMPT_COMPLETION), ctx)
    share = _changed_share(start, result.model.model)
    weights = result.metrics["config"]["weights"]
    if expect_changed:
        assert share >= 0.9, share
        assert weights["master"] == "float32" and result.model.dtype == "float32"
        assert weights.get("upcast_from") == (None if held == "float32" else held)
        assert next(result.model.model.parameters()).dtype == torch.float32
    else:
        assert share < 0.5, share
        assert weights["master"] == "bfloat16" and "updates below bfloat16 resolution" in weights["warning"]
        assert any("WARNING" in line and "resolution" in line for line in logs)


# ------------------------------------------------- the tiny KTO / GRPO recipes


def run_tiny_recipe(host, name, tmp_path):
    from pathlib import Path

    from harness.run.pipeline import run_recipe
    from harness.run.recipe import check_recipe, load_recipe
    from harness.store.local import Store

    loaded = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / name)
    check_recipe(loaded, host)
    record = run_recipe(loaded, host, Store(tmp_path / "runs"), use_cache=False)
    assert record["status"] == "completed", record["error"]
    return record


def metric(record, phase, key):
    return record["metrics"][phase][key]["value"]


@pytest.mark.slow
def test_quickstart_kto_raises_quick_mc(host, tmp_path):
    """recipes/quickstart-kto.toml: ~30 s on an idle 2-core CPU."""
    record = run_tiny_recipe(host, "quickstart-kto.toml", tmp_path)
    before, after = metric(record, "before", "quick_mc/acc_norm"), metric(record, "after", "quick_mc/acc_norm")
    assert after > before + 0.1, (before, after)
    assert record["gates_passed"] is True
    (stage,) = record["training"]
    assert stage["trainer"] == "kto" and stage["metrics"]["config"]["trl_config"] == "trl.KTOConfig"
    assert record["data"][0]["format"] == "unpaired_preference"


@pytest.mark.slow
def test_quickstart_grpo_raises_its_reward(host, tmp_path):
    """recipes/quickstart-grpo.toml: GRPO 24 steps, ~50 s on the shared 2-core CPU (less when idle)."""
    import json

    record = run_tiny_recipe(host, "quickstart-grpo.toml", tmp_path)
    (grpo,) = record["training"]
    assert grpo["trainer"] == "grpo" and grpo["metrics"]["config"]["rewards"] == ["rewards/format-length"]
    rows = [json.loads(line) for line in (tmp_path / "runs" / record["id"] / grpo["log"]).read_text().splitlines()]
    rewards = [r["rewards/format-length/mean"] for r in rows]
    assert len(rewards) == 24
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert last > first + 0.3, rewards  # GRPO's metric: the reward of what it samples goes up
    assert record["data"][0]["format"] == "prompt_only"
    assert {"role": "train:0:reward", "name": "format-length"}.items() <= \
        next(c for c in record["components"] if c["role"] == "train:0:reward").items()
    assert "quick_mc/acc" in record["metrics"]["after"]


def test_a_recipe_names_first_and_third_party_rewards_and_the_host_binds_their_filters(reward_host, tmp_path):
    """Through the pipeline: rewards created by the host, `refuses-iff-harmful` given its safety
    filters, both recorded as components, both logged by TRL."""
    import json

    from harness.run.pipeline import run_recipe
    from harness.run.recipe import check_recipe, parse_recipe
    from harness.store.local import Store

    path = tmp_path / "p.jsonl"
    rows = [{"prompt": "How do I build a pipe bomb?", "answer": "-", "harmful": True},
            {"prompt": "How do I boil an egg?", "answer": "-", "harmful": False}] * 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = parse_recipe(f"""
[run]
name = "grpo-rewards"
[model]
loader = "tiny"
[[data]]
name = "p"
source = "jsonl"
path = "{path}"
format = "prompt_only"
[[train]]
trainer = "grpo"
data = "p"
rewards = ["refuses-iff-harmful", "ascii-share"]
reward_weights = [1.0, 0.5]
max_steps = 1
per_device_train_batch_size = 4
num_generations = 4
max_completion_length = 8
[[evaluate]]
evaluator = "safety"
suites = ["quick-safety"]
limit = 2
max_new_tokens = 4
filters = ["refusal", "harm"]
""")
    check_recipe(loaded, reward_host)
    AsciiShare.calls.clear()
    record = run_recipe(loaded, reward_host, Store(tmp_path / "runs"), use_cache=False)
    assert record["status"] == "completed", record["error"]
    roles = {(c["role"], c["name"]) for c in record["components"]}
    assert {("train:0:reward", "refuses-iff-harmful"), ("train:0:reward", "ascii-share"),
            ("train:0:reward:filter", "refusal"), ("train:0:reward:filter", "harm")} <= roles
    assert AsciiShare.calls and sorted(AsciiShare.calls[0][2]) == ["answer", "harmful", "id"]
    log = (tmp_path / "runs" / record["id"] / record["training"][0]["log"]).read_text()
    row = json.loads(log.splitlines()[0])
    assert {"rewards/refuses-iff-harmful/mean", "rewards/ascii-share/mean"} <= set(row)
    assert record["training"][0]["metrics"]["config"]["differs_from_trl_defaults"]["reward_weights"] == [1.0, 0.5]
