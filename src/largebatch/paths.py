"""Where the repository's files are: the committed results, the notebooks, runs/ and the studies' sources.

The code may run from a checkout (`pip install -e .`, PYTHONPATH=src) or from a wheel in site-packages,
where nothing of the repository sits next to it. The repository root is, in order: $LARGEBATCH_ROOT (the
`--root` of the commands that take one sets it too), the checkout holding this file, or the working
directory or one of its parents when it is a checkout (it has experiments/__init__.py and paper_figures/).
Without any, ROOT is the working directory: runs go to ./runs and there are no committed results to read.
The studies' package is `experiments` in a checkout and `largebatch_experiments` once installed
(largebatch.study picks it).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "LARGEBATCH_ROOT"


def is_checkout(d: Path) -> bool:
    """True if `d` looks like this repository: the studies' sources and the committed results."""
    return (d / "experiments" / "__init__.py").is_file() and (d / "paper_figures").is_dir()


def source_checkout() -> Path | None:
    """The checkout this module was loaded from (editable install or PYTHONPATH=src), else None (a wheel)."""
    d = Path(__file__).resolve().parents[2]
    return d if is_checkout(d) and (d / "src" / "largebatch").is_dir() else None


def installed_studies() -> Path | None:
    """The installed studies' package directory, next to this package in site-packages (a wheel ships the
    committed replay CSVs, claims.toml files and READMEs there as package data), or None."""
    d = Path(__file__).resolve().parents[1] / "largebatch_experiments"
    return d if (d / "__init__.py").is_file() else None


def find_root() -> Path | None:
    """$LARGEBATCH_ROOT, the source checkout, or the checkout the working directory is in; else None."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser().resolve()
    src = source_checkout()
    if src is not None:
        return src
    cwd = Path.cwd().resolve()
    return next((d for d in (cwd, *cwd.parents) if is_checkout(d)), None)


ROOT = find_root() or Path.cwd()  # repository root: paper_figures/, notebooks/, README.md, runs/ (relative)
FIGURES = ROOT / "paper_figures"  # the figures the notebooks save
DATA = FIGURES / "data"  # the committed CSVs: the only input of the figures and the report
NOTEBOOKS = ROOT / "notebooks"  # one notebook per study, notebooks/<study>.ipynb
RUNS = ROOT / "runs"  # run directories, runs/<study>/<run_id>/ (not committed)

__all__ = [
    "ENV",
    "ROOT",
    "FIGURES",
    "DATA",
    "NOTEBOOKS",
    "RUNS",
    "find_root",
    "installed_studies",
    "is_checkout",
    "source_checkout",
]
