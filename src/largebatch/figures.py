"""`make figures`: execute every notebooks/*.ipynb headless, regenerating paper_figures/ from the CSVs.

    python -m largebatch.figures [--collect] [--only=seed_article] [--timeout=60] [--strip]

Notebooks run with nbclient in a kernel on this interpreter, from the repository root, and nothing is
written back into them: they stay committed without outputs (`--strip` removes outputs left by an
interactive session). The kernel spec is written to a private temporary directory on each call, so
neither a user-level `python3` kernel spec (which Jupyter would prefer) nor a one-time
`ipykernel install` can make the notebooks run on another Python. `--collect` first rebuilds the
study CSVs with each `experiments/<study>/collect.py` (studies without runs keep their committed CSV).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .cmdline import Command, exit_with
from .csvcheck import check_dir
from .paths import DATA, NOTEBOOKS, ROOT
from .study import csv_keys, discover
from .tables import guarded

TIMEOUT_S = 60  # per notebook: STYLE §7 asks for notebooks that run in under a minute


@contextlib.contextmanager
def kernel_manager():
    """An AsyncKernelManager whose only kernel spec launches ipykernel on `sys.executable`."""
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory(prefix="largebatch-kernels-") as tmp:
        spec = Path(tmp) / "largebatch-python"
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps(get_kernel_dict()))
        ksm = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        # IPC sockets in the private directory: no TCP ports, and no plain-text-over-TCP warning.
        yield AsyncKernelManager(
            kernel_name="largebatch-python",
            kernel_spec_manager=ksm,
            transport="ipc",
            ip=str(Path(tmp) / "kernel"),
        )


def execute(path: str | Path, timeout: int = TIMEOUT_S) -> float:
    """Execute notebook `path` headless from the repository root; returns wall seconds.

    The notebook file is only read. Raises nbclient's CellExecutionError (or CellTimeoutError) when a
    cell fails or runs longer than `timeout` seconds.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    t = time.perf_counter()
    with kernel_manager() as km:
        client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(ROOT)}})
        client.execute(cleanup_kc=True)  # shut the kernel down even though the client did not create km
    return time.perf_counter() - t


def has_outputs(path: str | Path) -> bool:
    """True if any code cell of the notebook carries outputs or an execution count."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def strip(path: str | Path) -> None:
    """Remove outputs and execution counts from a notebook file in place."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nbformat.write(nb, path)


def notebooks(only: list[str] | None = None) -> list[Path]:
    """notebooks/*.ipynb (sorted), restricted to the stems in `only` when given."""
    return [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if not only or p.stem in only]


def run_collectors(scale: str = "cpu") -> list[Path]:
    """Call collect(scale) of every study (largebatch.study.discover); returns the files written."""
    written = []
    for study in discover():
        written += study.collect(scale)
    return written


@dataclass
class Options:
    only: str = ""  # comma-separated notebook stems (notebooks/<stem>.ipynb, e.g. lars,noise_scale); "" = all
    timeout: int = TIMEOUT_S  # seconds per notebook cell
    collect: bool = False  # first rebuild the study CSVs from runs/ (each study's collect.py)
    scale: Literal["smoke", "cpu", "paper"] = "cpu"  # with --collect: the scale whose runs are collected
    strip: bool = False  # remove outputs left in the notebooks by an interactive session, and exit


CLI = Command(
    "python -m largebatch.figures",
    "Execute every notebooks/*.ipynb headless (nbclient, this interpreter), regenerating paper_figures/ "
    "from the committed CSVs in paper_figures/data/.",
    Options,
    sections={"which figures": ("only", "timeout"), "before and instead": ("collect", "scale", "strip")},
    epilog="Nothing is written into the notebooks; the figures go to paper_figures/.",
)


def main(argv: list[str] | None = None) -> int:
    a, _ = CLI.parse(sys.argv[1:] if argv is None else argv)
    only = [s for s in a.only.split(",") if s]
    known = [p.stem for p in notebooks()]
    unknown = [s for s in only if s not in known]
    if unknown:
        near = [k for k in known if k.startswith(unknown[0])]
        near += [k for k in difflib.get_close_matches(unknown[0], known, n=2, cutoff=0.5) if k not in near]
        hint = f"did you mean {' or '.join(near[:2])}? " if near else ""
        print(
            f"figures error: --only={unknown[0]!r}: no notebooks/{unknown[0]}.ipynb; {hint}"
            f"(notebooks: {', '.join(known)})",
            file=sys.stderr,
        )
        return 2
    paths = notebooks(only or None)
    if a.strip:
        for p in paths:
            strip(p)
            print(f"[figures] stripped {p.relative_to(ROOT)}")
        return 0

    def inputs() -> None:
        if a.collect:
            for p in run_collectors(a.scale):
                print(f"[figures] wrote {p}")
        # what the notebooks read, before they write a figure: every CSV well formed, no repeated row
        check_dir(DATA, csv_keys(), option="data directory")

    code = guarded("figures", inputs)
    if code:
        return code
    failed = []
    for p in paths:
        if not (ROOT / "paper_figures" / "data" / f"{p.stem}.csv").exists():
            print(f"[figures] {p.relative_to(ROOT)}: skipped, no paper_figures/data/{p.stem}.csv yet")
            continue
        try:
            print(f"[figures] {p.relative_to(ROOT)}: {execute(p, a.timeout):.1f} s", flush=True)
        except Exception as e:  # noqa: BLE001 - report every broken notebook, not just the first
            failed.append(p.name)
            print(
                f"[figures] {p.relative_to(ROOT)} FAILED: {type(e).__name__}: {str(e)[-2000:]}",
                file=sys.stderr,
            )
    if not paths:
        print(f"[figures] no notebooks in {NOTEBOOKS}")
    return 1 if failed else 0


def cli() -> None:
    """The console script `largebatch-figures`."""
    exit_with(main, name="figures")


if __name__ == "__main__":
    cli()
