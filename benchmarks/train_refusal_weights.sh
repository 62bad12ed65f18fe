#!/bin/sh
# Rebuild the refusal filter's bundled weights (seconds on a CPU). Each JSON records the rows it saw.
set -e
cd "$(dirname "$0")/.."
D=benchmarks/data/xstest_labeled
W=plugins/filters/refusal_weights
T="python -m harness_plugins.filters.refusal_train"
# default: odd-numbered XSTest prompts of both files; held out: the even-numbered prompts
$T $D/xstest_v2_completions_llama2orig.csv $D/xstest_v2_completions_mistralinstruct.csv --rows odd --out $W/xstest-odd.json
# cross-model checks: one model's completions in, the other model's held out
$T $D/xstest_v2_completions_llama2orig.csv --out $W/llama2orig.json
$T $D/xstest_v2_completions_mistralinstruct.csv --out $W/mistralinstruct.json
