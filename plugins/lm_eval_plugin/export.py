"""Write the bundled suites as lm-eval task YAMLs for the ``lm_eval`` command line.

``python -m harness_plugins.lm_eval_plugin.export DIR [TASK ...]`` then
``lm_eval --model hf --model_args pretrained=MODEL_DIR --include_path DIR --tasks openbookqa``
evaluates exactly what the ``lm-eval`` evaluator evaluates (same YAML, same data).
"""

from __future__ import annotations

import sys

from .suites import bundled_suites, materialize


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    suites = bundled_suites()
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        print(f"bundled suites: {', '.join(suites)}")
        return 0 if args else 2
    unknown = [t for t in args[1:] if t not in suites]
    if unknown:
        print(f"unknown bundled suite(s): {', '.join(unknown)}; bundled: {', '.join(suites)}", file=sys.stderr)
        return 2
    dest = materialize(args[1:] or list(suites), args[0])
    print(f"wrote {', '.join(args[1:] or suites)} to {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
