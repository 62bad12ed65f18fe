"""An example third-party plugin, the one docs/plugins.md walks through.

It registers an evaluator (``reply-length``: how long the model's greedy replies
are) and a safety filter (``shouting``: flags replies written in capitals).
"""

import harness


class Shouting(harness.SafetyFilter):
    name = "shouting"
    description = "Flags texts whose letters are mostly capitals."
    detects = ("shouting", "calm")

    class Params(harness.Params):
        threshold: float = 0.8

    def score(self, texts, prompts=None):
        verdicts = []
        for text in texts:
            letters = [c for c in text if c.isalpha()]
            share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
            flagged = share >= self.params.threshold
            verdicts.append(harness.Verdict(label="shouting" if flagged else "calm", score=share,
                                            flagged=flagged, reason=f"{share:.0%} capitals"))
        return verdicts


class ReplyLength(harness.Evaluator):
    name = "reply-length"
    description = "Mean length in characters of greedy replies to a few prompts."

    class Params(harness.Params):
        prompts: list[str] = ["Say hello.", "Name a colour.", "Count to three."]
        max_new_tokens: int = 16

    def fingerprint(self):  # items, settings and this plugin's code decide the result
        return harness.content_hash([self.params_dict(), self.code_fingerprint()])

    def evaluate(self, model, context):
        outputs = model.generate(self.params.prompts, max_new_tokens=self.params.max_new_tokens)
        lengths = [len(o) for o in outputs]
        n = len(lengths)
        mean = sum(lengths) / n
        var = sum((x - mean) ** 2 for x in lengths) / max(n - 1, 1)
        samples = [{"suite": "hello", "item_id": str(i), "prompt": p, "output": o,
                    "scores": {"reply_chars": float(len(o))}}
                   for i, (p, o) in enumerate(zip(self.params.prompts, outputs))]
        shouting = context.filters.get("shouting")
        if shouting:
            for row, verdict in zip(samples, shouting.score(outputs)):
                row["filters"] = {"shouting": verdict.to_dict()}
        return harness.EvalResult(
            metrics={"hello/reply_chars": harness.Metric(mean, (var / n) ** 0.5, n, higher_is_better=True)},
            samples=samples,
            tasks={"hello": harness.TaskInfo(harness.items_hash(self.params.prompts), "1", n,
                                             {"max_new_tokens": self.params.max_new_tokens})},
        )


@harness.hookimpl
def register_evaluators(register):
    register(ReplyLength)


@harness.hookimpl
def register_safety_filters(register):
    register(Shouting)
