"""ModelHandle.generate: batched left-padded greedy decoding equals one prompt at a
time, honours max_new_tokens and applies the chat template when there is one.

Equality is exact in float32. In bfloat16 (the default on a CUDA card) padding
changes the shapes of the matrix products, their rounding differs and a near-tie
between two tokens can flip (seen on an H100 with this tiny model), so these
tests load the model in float32 on whatever device pick_device() chooses.
"""

from __future__ import annotations

import copy

import pytest

PROMPTS = ["Hi", "Tell me a long story about a dragon, a knight and a castle by the sea.",
           "What is 2+2?", "x" * 40, "Name three colours.", "ok", "Translate 'chat' into English please."]


@pytest.fixture(scope="module")
def tiny_model(host):
    """The tiny model in float32 (shadows conftest's, which is bfloat16 on a GPU)."""
    return host.create("model", "tiny", {"dtype": "float32"}).load()


@pytest.fixture(scope="module")
def single(tiny_model):
    """Each prompt generated on its own (no padding at all)."""
    return [tiny_model.generate([p], max_new_tokens=12, batch_size=1)[0] for p in PROMPTS]


@pytest.mark.parametrize("batch_size", [2, 3, 8])
def test_batched_equals_one_at_a_time_on_mixed_lengths(tiny_model, single, batch_size):
    lengths = {len(tiny_model.tokenizer(tiny_model.format_prompt(p))["input_ids"]) for p in PROMPTS}
    assert len(lengths) >= len(PROMPTS) - 1  # batches really are left-padded
    assert len(set(single)) > 1
    # Outputs come back in the caller's order although batches are sorted by length.
    assert tiny_model.generate(PROMPTS, max_new_tokens=12, batch_size=batch_size) == single


def test_batched_equals_one_at_a_time_without_chat_template(tiny_model):
    single = [tiny_model.generate([p], max_new_tokens=8, chat=False)[0] for p in PROMPTS]
    assert tiny_model.generate(PROMPTS, max_new_tokens=8, batch_size=4, chat=False) == single


def test_max_new_tokens_is_respected(tiny_model):
    # Byte-level tokenizer: every decoded character comes from at least one generated token.
    short = tiny_model.generate(PROMPTS, max_new_tokens=5)
    assert all(len(text) <= 5 for text in short)
    longer = tiny_model.generate(PROMPTS, max_new_tokens=20)
    assert max(len(text) for text in longer) > 5  # the limit above was binding


def _greedy(handle, text, n):
    import torch

    enc = handle.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = handle.model.generate(**enc, max_new_tokens=n, do_sample=False)
    return handle.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_chat_template_applied_when_present(tiny_model):
    tok = tiny_model.tokenizer
    prompt = "What is the capital of France?"
    templated = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                        add_generation_prompt=True)
    assert tiny_model.format_prompt(prompt) == templated
    assert tiny_model.generate([prompt], max_new_tokens=10) == [_greedy(tiny_model, templated, 10)]
    assert tiny_model.generate([prompt], max_new_tokens=10, chat=False) == [_greedy(tiny_model, prompt, 10)]
    assert _greedy(tiny_model, templated, 10) != _greedy(tiny_model, prompt, 10)


def test_message_lists_and_no_template(tiny_model):
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    text = tiny_model.format_prompt(conversation)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n") and text.endswith("assistant\n")
    bare = copy.copy(tiny_model)
    bare.tokenizer = copy.deepcopy(tiny_model.tokenizer)
    bare.tokenizer.chat_template = None
    assert bare.format_prompt("Hello") == "Hello"
    assert bare.generate(["Hello"], max_new_tokens=6) == tiny_model.generate(["Hello"], max_new_tokens=6,
                                                                             chat=False)


def test_generate_leaves_tokenizer_and_mode_as_found(host):
    handle = host.create("model", "tiny", {"dtype": "float32"}).load()
    handle.model.train()
    handle.tokenizer.padding_side = "right"
    handle.generate(PROMPTS[:3], max_new_tokens=2)
    assert handle.model.training and handle.tokenizer.padding_side == "right"
    assert handle.generate([], max_new_tokens=2) == []


def test_progress_bar_never_runs_past_its_total(tiny_model, monkeypatch):
    """32 prompts at 48 tokens: per-token steps of 8/48 once summed past the total, and tqdm's
    "clamping frac" warning printed its own source line (`full_bar = Bar(frac,`) into the run log."""
    import warnings

    import tqdm.auto
    from tqdm import TqdmWarning

    from harness.contract.generation import generate

    overshoot = []

    class EveryUpdate(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(mininterval=0, miniters=0)  # redraw on every update, as a slow CPU does
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            result = super().update(n)
            overshoot.append(self.n - self.total)
            return result

    monkeypatch.setattr(tqdm.auto, "tqdm", EveryUpdate)
    prompts = [f"question {i}: what is {i} plus {i}?" for i in range(32)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        generate(tiny_model, prompts, max_new_tokens=48, batch_size=8, progress="safety/bar")
    assert overshoot and max(overshoot) <= 0
