"""The study contract: what a directory under experiments/ provides, and the one place the core finds it.

A study is a package `experiments/<name>/` (a valid module name). It is found by looking at the
directories of the studies' package (`experiments` in a checkout, `largebatch_experiments` from a wheel;
`package()`): no list of studies is kept anywhere. Its parts are
files, each optional, each with the protocol below (experiments/README.md, "Adding a study"):

    config.py   grid(scale) -> list[TrainConfig] for scale in SCALES (GridModule); NPROC = processes
                per run in `make reproduce` (default 1)
    run.py      one run: `exit_main(study=config)` (largebatch.cli), so that
                `torchrun ... -m experiments.<name>.run --index=i` works
    collect.py  collect(scale, runs_dir, data_dir) -> list[Path]: the study's CSVs under
                paper_figures/data/ (CollectModule); optionally before_reproduce(scale) -> failed runs,
                runs outside the core grid that `make reproduce` starts first, and KEYS = {CSV file
                name: the columns that identify a row}: a repeated key is refused wherever the CSV is
                written or read (largebatch.csvcheck; every CSV also refuses exactly repeated rows)
    claims.py   claims(data_dir) -> list[dict] (ClaimsModule): one row per claim of claims.toml (the
                claims as data), keys id, ours, result (largebatch.report judges them into the README)
    models.py   the study's own models, registered with largebatch.models.register_model
    data.py     the study's own datasets, registered with largebatch.data.register_dataset
                (both imported by largebatch.registry on the first lookup of a name the core lacks)

The core asks for a study by name (`get`, `find`) and for all of them (`discover`). A part whose file is
missing is None (and contributes nothing: no grid, no CSVs, no claims); an error inside a part's file is
raised, never read as "missing". Nothing else in src/ turns a study name into a module (a test checks).

Shared plumbing for study code: `skip_scale` (the guard that keeps smoke and paper runs from overwriting
committed CSVs; the core applies it) and `CHANCE_ACC` (the accuracy a diverged run scores) here; the run
directories of a grid and the runs' rows (`grid_run_names`, `load_runs`) in largebatch.runs, CSV writers
(`write_csvs`) and the `collect.py` command line (`collect_main`) in largebatch.tables, number formatters
(`fmt_mean_std`, `fmt_num`, `markdown_table`) in largebatch.formatting, paths in largebatch.paths.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, runtime_checkable

from . import prereg, registry
from .claims import Row
from .claims import run as claims_run
from .config import TrainConfig
from .paths import DATA, NOTEBOOKS, ROOT, RUNS, find_root, is_checkout

CHECKOUT_PACKAGE = "experiments"  # the studies in a checkout (python -m experiments.<study>.run)
INSTALLED_PACKAGE = "largebatch_experiments"  # the same directory as a wheel installs it (pyproject.toml)
SCALES = ("smoke", "cpu", "paper")  # smoke: seconds (a code-path check); cpu: the default; paper: the papers'
PARTS = ("config", "run", "collect", "claims", "models", "data")
CHANCE_ACC = 0.10  # test accuracy of a diverged run on a 10-class dataset (Fashion-MNIST, MNIST-1D)


@runtime_checkable
class GridModule(Protocol):
    """experiments/<name>/config.py. Optional: `NPROC: int`, processes per run in `make reproduce`."""

    def grid(self, scale: str = "cpu") -> list[TrainConfig]: ...


@runtime_checkable
class CollectModule(Protocol):
    """experiments/<name>/collect.py. Optional: `before_reproduce(scale) -> int` (failed runs)."""

    def collect(
        self, scale: str = "cpu", runs_dir: str | Path = ..., data_dir: str | Path = ...
    ) -> list[Path]: ...


@runtime_checkable
class ClaimsModule(Protocol):
    """experiments/<name>/claims.py: `load(data_dir)` (the CSVs its claims read, loaded once) and one
    function per claim of claims.toml registered with `@largebatch.claims.claim(id)`; or, the first form,
    `claims(data_dir) -> list[dict]` (largebatch.claims.Row.from_dict)."""

    def load(self, data_dir: Path) -> object: ...


@runtime_checkable
class OldClaimsModule(Protocol):
    def claims(self, data_dir: Path) -> list[dict]: ...


PROTOCOLS = {"config": (GridModule,), "collect": (CollectModule,), "claims": (ClaimsModule, OldClaimsModule)}
REQUIRED = {"config": "grid", "collect": "collect", "claims": "load"}  # the function each part must define


class StudyError(LookupError):
    """An unknown study name, or a part that does not satisfy its protocol."""


@dataclass(frozen=True)
class Study:
    """One directory under experiments/ and its parts, imported on first use."""

    name: str
    path: Path

    def has(self, part: str) -> bool:
        return (self.path / f"{part}.py").is_file()

    def module(self, part: str) -> ModuleType | None:
        """`experiments.<name>.<part>`, or None when the study has no such file.

        Raises:
            StudyError: the module lacks what its protocol asks for (grid, collect, claims).
            Exception: whatever importing the file raises (a broken part is never skipped).
        """
        if part not in PARTS:
            raise StudyError(f"{part!r}: a study's parts are {PARTS}")
        if not self.has(part):
            return None
        mod = importlib.import_module(f"{package()}.{self.name}.{part}")
        proto = PROTOCOLS.get(part)
        if proto is not None and not any(isinstance(mod, p) for p in proto):
            raise StudyError(f"{self.path / part}.py must define {REQUIRED[part]}() (experiments/README.md)")
        return mod

    @property
    def run_module(self) -> str:
        """The module a launcher runs (`python -m` / `torchrun -m`) for one entry of the grid."""
        return f"{package()}.{self.name}.run"

    @property
    def runnable(self) -> bool:
        """True if the study has a grid of training runs (config.py) and an entry point (run.py)."""
        return self.has("config") and self.has("run")

    def config(self) -> GridModule:
        mod = self.module("config")
        if mod is None:
            raise StudyError(f"study {self.name!r} has no config.py (no grid of runs)")
        return mod

    def grid(self, scale: str = "cpu") -> list[TrainConfig]:
        return self.config().grid(check_scale(scale))

    @property
    def nproc(self) -> int:
        """Processes per run in `make reproduce` (config.NPROC; 1 without it)."""
        return int(getattr(self.config(), "NPROC", 1))

    @property
    def calibration(self) -> bool:
        """True for a calibration study (config.CALIBRATION): `make reproduce` runs it only when named."""
        return bool(getattr(self.config(), "CALIBRATION", False))

    @property
    def readme(self) -> Path:
        """experiments/<name>/README.md: the claim, commands and numbers (the report writes its blocks)."""
        return self.path / "README.md"

    def csv(self, data_dir: str | Path = DATA) -> Path:
        """The study's main CSV, `<data_dir>/<name>.csv` (others: `<name>_<what>.csv`)."""
        return Path(data_dir) / f"{self.name}.csv"

    @property
    def csv_rel(self) -> str:
        """The main CSV as a repository-relative path (how a claim row names the CSV it dates)."""
        return (
            f"{DATA.relative_to(ROOT)}/{self.name}.csv" if DATA.is_relative_to(ROOT) else self.name + ".csv"
        )

    @property
    def notebook(self) -> Path:
        """notebooks/<name>.ipynb: the study's figures (`make figures` runs it)."""
        return NOTEBOOKS / f"{self.name}.ipynb"

    def runs_dir(self, out_dir: str | Path = RUNS) -> Path:
        """Where the study's runs are: `<out_dir>/<name>/<run_id>/`."""
        return Path(out_dir) / self.name

    def collect(self, scale: str = "cpu", **kw) -> list[Path]:
        """collect.collect(scale, **kw): the CSVs written ([] without collect.py).

        The scale guard runs here, before the study's code: only the scales in the collect module's
        `WRITES` (default: cpu) rewrite the committed CSVs; smoke runs check the code path and paper runs
        are collected where they ran. A keyword the study's collect() does not take is dropped.
        """
        mod = self.module("collect")
        if mod is None or skip_scale(self.name, check_scale(scale), getattr(mod, "WRITES", ("cpu",))):
            return []
        params = inspect.signature(mod.collect).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            kw = {k: v for k, v in kw.items() if k in params}
        return list(mod.collect(scale, **kw))

    def before_reproduce(self, scale: str = "cpu") -> int:
        """collect.before_reproduce(scale): failed runs (0 without the hook)."""
        mod = self.module("collect")
        hook = getattr(mod, "before_reproduce", None)
        return int(hook(check_scale(scale)) or 0) if hook is not None else 0

    @property
    def claims_spec(self) -> Path:
        """experiments/<name>/claims.toml: the study's claims as data (largebatch.prereg reads it)."""
        return self.path / "claims.toml"

    def claims(self, data_dir: str | Path = DATA, root: Path | None = None) -> list[Row] | None:
        """The study's claim rows on the CSVs under `data_dir` (largebatch.claims.run: one registered
        function per id of claims.toml, or the first form's claims()), or None without claims.py.
        `root`: the repository whose experiments/<name>/claims.toml is read (default: the study's own)."""
        mod = self.module("claims")
        if mod is None:
            return None
        spec = prereg.load_spec_file(prereg.spec_path(self.name, root) if root else self.claims_spec)
        return claims_run(self.name, mod, spec, Path(data_dir), self.csv_rel, spec.replications)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: choose one of {SCALES}")
    return scale


def package() -> str:
    """The studies' package: `experiments` when the repository root (largebatch.paths) is a checkout (its
    directory goes on sys.path, so console scripts find it too), else the installed
    `largebatch_experiments`."""
    root = find_root()
    if root is None or not is_checkout(root):
        return INSTALLED_PACKAGE
    if str(root) not in sys.path and not any(Path(p or ".").resolve() == root for p in sys.path):
        sys.path.insert(0, str(root))
    return CHECKOUT_PACKAGE


def _roots() -> list[Path]:
    """The directories of the studies' package (one for a normal install; tests may add one)."""
    pkg = importlib.import_module(package())
    return [Path(p) for p in pkg.__path__]


def discover() -> list[Study]:
    """Every study: each subdirectory of the experiments package with an __init__.py, sorted by name."""
    found: dict[str, Study] = {}
    for root in _roots():
        for d in sorted(root.iterdir()) if root.is_dir() else []:
            if (d / "__init__.py").is_file() and d.name.isidentifier() and d.name not in found:
                found[d.name] = Study(d.name, d)
    return [found[k] for k in sorted(found)]


def csv_keys() -> dict[str, tuple]:
    """{CSV file name: its key columns}, from the KEYS of every study's collect.py."""
    out: dict[str, tuple] = {}
    for s in discover():
        mod = s.module("collect")
        out.update(getattr(mod, "KEYS", None) or {})
    return out


def find(name: str) -> Study | None:
    """The study called `name`, or None."""
    return next((s for s in discover() if s.name == name), None)


def get(name: str) -> Study:
    """The study called `name`.

    Raises:
        StudyError: no such study (the message lists the known ones).
    """
    s = find(name)
    if s is None:
        known = ", ".join(s.name for s in discover()) or "none"
        raise StudyError(f"no study {name!r} under {', '.join(map(str, _roots()))} (studies: {known})")
    return s


def import_parts(part: str) -> None:
    """Import every study's `<part>.py` (models, data): each registers its entries (largebatch.registry)."""
    for s in discover():
        if s.has(part):
            s.module(part)


registry.set_study_loader(import_parts)


# ---- shared plumbing for study code -----------------------------------------------------------------


def skip_scale(study: str, scale: str, writes: tuple[str, ...] = ("cpu",)) -> bool:
    """True (and one line on stderr) when collect() at `scale` must leave the committed CSVs as they are.

    Smoke runs check the code path and paper runs are collected where they ran, so by default only the
    cpu scale writes. The core applies it before every collect() (`Study.collect`, the sweep, and
    `python -m experiments.<name>.collect` through largebatch.tables.collect_main), with the collect
    module's `WRITES`; a study need not call it.
    """
    if scale in writes:
        return False
    print(f"[collect] {study}: {scale} scale, CSVs unchanged", file=sys.stderr)
    return True


__all__ = [
    "SCALES",
    "PARTS",
    "CHANCE_ACC",
    "GridModule",
    "CollectModule",
    "ClaimsModule",
    "Study",
    "StudyError",
    "discover",
    "find",
    "get",
    "csv_keys",
    "check_scale",
    "skip_scale",
]
