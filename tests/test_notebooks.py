"""Every notebook runs headless from the committed CSVs; the README table matches them (~5 s a notebook).

What is checked: each notebooks/*.ipynb executes with nbclient on this interpreter (as `make figures`
does, `largebatch.figures.execute`) in under 60 s, is committed without outputs and is not modified by
running it, and saves its figures into a temporary directory (LARGEBATCH_FIGURES), never over the committed
ones; a failing cell fails the run; the report table is generated from paper_figures/data/*.csv
with every claims module's rows well formed and every generated README block is up to date
(`python -m largebatch.report --check`); no notebook writes a README block.

Run: cd /work/main && OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_notebooks.py
"""

import nbformat
import pytest

from largebatch import figures, report
from largebatch.results import DATA

NOTEBOOKS = figures.notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless_and_stays_stripped(path, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "LARGEBATCH_FIGURES", str(tmp_path)
    )  # the kernel saves there: committed figures untouched
    if not (DATA / f"{path.stem}.csv").exists():
        pytest.skip(f"no committed results for {path.stem} yet: run `python -m largebatch.sweep {path.stem}`")
    before = path.read_bytes()
    assert not figures.has_outputs(path), f"strip it: python -m largebatch.figures --strip --only={path.stem}"
    seconds = figures.execute(path, timeout=60)
    assert seconds < 60, f"{path.name} took {seconds:.0f} s"
    assert path.read_bytes() == before
    assert sorted(tmp_path.glob("*.png")), "the notebook saved no figure"


def test_failing_cell_fails(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('broken figure')")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(Exception, match="broken figure"):
        figures.execute(path, timeout=30)


def test_report_table_from_committed_csvs():
    if not sorted(DATA.glob("*.csv")):
        pytest.skip("no study CSVs committed yet")
    # every generated block (README table, study READMEs, docs/seeds.md); raises on a malformed claims row
    assert report.main(["--check"]) == 0, "a generated block is stale: run `python -m largebatch.report`"


def test_notebooks_write_no_readme_block():
    """One writer per document: report.py writes every generated README block, notebooks draw figures."""
    for path in NOTEBOOKS:
        assert "write_block" not in path.read_text(), f"{path.name} writes a README block"
