"""Build the tiny-model KTO and GRPO quickstart data from the bundled quick_mc questions.

``quick_mc_kto.jsonl`` (unpaired preference, 134 rows): every quick_mc question as
``prompt`` "Q: ...\\nA:" twice: its correct choice with ``label = true`` and its
first wrong choice with ``label = false``.
``quick_mc_prompts.jsonl`` (prompt-only, 67 rows): the same prompts with the
correct choice as ``answer``, for the ``exact-match`` reward.

quick_mc is synthetic data written for this project (Apache-2.0, see
plugins/lm_eval_plugin/tasks/quick_mc/LICENSE). Like the quickstart's SFT facts,
these rows state the facts quick_mc asks about: the tiny recipes show that a
trainer moves its metric, not that it generalises.

    python recipes/data/build_quick_kto_grpo.py   # deterministic: same bytes every time
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "plugins" / "lm_eval_plugin" / "tasks" / "quick_mc" / "quick_mc.jsonl"


def main() -> None:
    items = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    kto, prompts = [], []
    for item in items:
        prompt = f"Q: {item['question']}\nA:"
        right = item["choices"][item["label"]]
        wrong = next(c for i, c in enumerate(item["choices"]) if i != item["label"])
        kto.append({"id": f"{item['id']}-good", "prompt": prompt, "completion": f" {right}", "label": True})
        kto.append({"id": f"{item['id']}-bad", "prompt": prompt, "completion": f" {wrong}", "label": False})
        prompts.append({"id": item["id"], "prompt": prompt, "answer": right})
    for name, rows in (("quick_mc_kto.jsonl", kto), ("quick_mc_prompts.jsonl", prompts)):
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
