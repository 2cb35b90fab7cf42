"""`make reproduce`: the cpu scale of every study, in order, resumable (completed runs are skipped).

Each study runs as `python -m largebatch.sweep <study> --scale=cpu`; the seed MLP runs under a
2-process torchrun, as a check that the distributed path trains a real model end to end. A study's
runs outside the core grid go first (`experiments/<study>/collect.py: before_reproduce`, e.g. the
staleness study's real parameter-server runs).
"""

from __future__ import annotations

import sys

from .sweep import ROOT, run_sweep

# (study, processes per run). Studies add themselves here once they exist.
STUDIES = [("seed_mlp", 2), ("noise_scale", 1), ("goyal_linear_scaling", 1), ("lars", 1),
           ("recipe_32k", 2), ("async_staleness", 1)]


def _before(study: str) -> int:
    """A study's runs outside the core grid (its collect.before_reproduce(scale), if any): failures."""
    import importlib

    if not (ROOT / "experiments" / study / "collect.py").exists() and f"experiments.{study}.collect" \
            not in sys.modules:
        return 0
    mod = importlib.import_module(f"experiments.{study}.collect")  # a broken module raises, not skips
    hook = getattr(mod, "before_reproduce", None)
    return int(hook("cpu") or 0) if hook is not None else 0


def main() -> int:
    sys.path.insert(0, str(ROOT))
    present = [(s, p) for s, p in STUDIES if (ROOT / "experiments" / s / "config.py").exists()]
    print(f"[reproduce] studies: {', '.join(s for s, _ in present)}")
    failed = 0
    for s, p in present:
        failed += _before(s)
        failed += run_sweep(s, "cpu", p)
    from . import figures, report

    figures.main([])  # every figure from the CSVs the sweeps just wrote
    report.main([])  # the README results table from the same CSVs
    print("[reproduce] done" + (f", {failed} failed run(s)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
