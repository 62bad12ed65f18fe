#!/bin/sh
# Rebuild the refusal filter's bundled weights (seconds on a CPU; needs the `ml` extra: scipy, scikit-learn).
# Each JSON records the rows it saw. PYTHON picks the interpreter (default: python on PATH); it must import
# harness_plugins from this checkout, or the weights would be fitted by another checkout's features.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY -c "
import pathlib, sys
try:
    import harness_plugins
except ImportError:
    sys.exit(f'error: {sys.executable} cannot import harness_plugins; run with this checkout\'s environment, '
             'e.g. PYTHON=.venv/bin/python sh benchmarks/train_refusal_weights.sh')
here = pathlib.Path(harness_plugins.__file__).resolve().parent
sys.exit(0 if here == pathlib.Path('plugins').resolve() else
         f'error: {sys.executable} imports harness_plugins from {here}, not from this checkout; '
         'run with this checkout\'s environment, e.g. PYTHON=.venv/bin/python sh benchmarks/train_refusal_weights.sh')"
D=benchmarks/data/xstest_labeled
W=plugins/filters/refusal_weights
T="$PY -m harness_plugins.filters.refusal_train"
# default: odd-numbered XSTest prompts of both files; held out: the even-numbered prompts
$T $D/xstest_v2_completions_llama2orig.csv $D/xstest_v2_completions_mistralinstruct.csv --rows odd --out $W/xstest-odd.json
# held-out model (leave-one-model-out): one model's completions in, the other model's held out
$T $D/xstest_v2_completions_llama2orig.csv --out $W/llama2orig.json
$T $D/xstest_v2_completions_mistralinstruct.csv --out $W/mistralinstruct.json
# opt-in: XSTest's odd prompts and the odd rows of RBR gold's train half (another refusal style: deflection,
# redirects); held out: XSTest's even prompts and RBR gold's whole test half (docs/filters/refusal.md)
$T $D/xstest_v2_completions_llama2orig.csv $D/xstest_v2_completions_mistralinstruct.csv \
   benchmarks/data/rbr_gold/rbr_gold_train.csv --rows odd --out $W/xstest-rbr-odd.json
