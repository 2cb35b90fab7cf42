"""`make reproduce`: the cpu scale of every study, in order, resumable (completed runs are skipped).

Every study with a grid (experiments/<study>/config.py and run.py; largebatch.study finds them, sorted by
name) runs as `python -m largebatch.sweep <study> --scale=cpu` with its config.NPROC processes per run
(the seed MLP and the 32k recipe use a 2-process torchrun). A study's runs outside the core grid go first
(`experiments/<study>/collect.py: before_reproduce`, e.g. the staleness study's real parameter-server
runs). Then every figure and the README results table are rebuilt from the CSVs the sweeps wrote.
"""

from __future__ import annotations

import argparse
import sys

from . import figures, report
from .study import discover
from .sweep import run_sweep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m largebatch.reproduce",
        description=__doc__.split("\n\n")[0],
        epilog="Takes no options: it runs every study's cpu grid (hours).",
    )
    ap.parse_args(sys.argv[1:] if argv is None else argv)  # --help prints and exits 0; anything else exits 2
    studies = [s for s in discover() if s.runnable]
    print(f"[reproduce] studies: {', '.join(s.name for s in studies)}")
    failed = 0
    for s in studies:
        failed += s.before_reproduce("cpu")
        failed += run_sweep(s.name, "cpu", s.nproc)
    figures.main([])  # every figure from the CSVs the sweeps just wrote
    report.main([])  # the README results table from the same CSVs
    print("[reproduce] done" + (f", {failed} failed run(s)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
