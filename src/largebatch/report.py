"""The reproduction report: README's results table, generated from paper_figures/data/*.csv by code.

    python -m largebatch.report            # rewrite the table between the README markers
    python -m largebatch.report --check    # exit 1 if the README table differs from the generated one

For each CSV `paper_figures/data/<study>.csv` whose study has a module `experiments/<study>/claims.py`,
`claims(data_dir) -> list[dict]` evaluates the study's criteria on the committed CSVs and returns rows
{claim, paper, ours, reproduced (True/False/None), figure}. No number in the table is typed by hand, so the
table cannot drift from the data (the README is the registry, as in modded-nanogpt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .results import DATA, ROOT, write_block
from .study import find as find_study

START, END = "<!-- report:start -->", "<!-- report:end -->"
HEADER = ("| study | paper claim | paper number | our number (mean ± std, n) | reproduced? | figure |\n"
          "|---|---|---|---|---|---|")
VERDICT = {True: "yes", False: "**no**", None: "n/a"}


def _claims_module(study: str):
    # largebatch.study: None when no study has this name (e.g. a <study>_curves.csv) or it has no
    # claims.py; an error inside an existing claims.py is raised.
    s = find_study(study)
    return s.module("claims") if s is not None else None


def collect_claims(data_dir: str | Path = DATA) -> list[tuple[str, dict]]:
    """(study, claim row) for every study with a CSV in `data_dir` and a claims module, sorted by study.

    Args:
        data_dir: Directory of the committed study CSVs.

    Returns:
        list[tuple[str, dict]]: rows in the order each claims() returned them.

    Raises:
        ValueError: a claims row misses a key or has a non-boolean `reproduced`.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    out = []
    for study in sorted({p.stem for p in Path(data_dir).glob("*.csv")}):
        mod = _claims_module(study)
        if mod is None:
            continue
        for row in mod.claims(Path(data_dir)):
            missing = {"claim", "paper", "ours", "reproduced", "figure"} - set(row)
            if missing or row["reproduced"] not in (True, False, None):
                raise ValueError(f"experiments.{study}.claims: bad row {row!r} (missing {sorted(missing)}; "
                                 "reproduced must be True, False or None)")
            out.append((study, row))
    return out


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def render_table(rows: list[tuple[str, dict]]) -> str:
    """The markdown table: study | paper claim | paper number | our number | reproduced? | figure."""
    lines = [HEADER]
    for study, r in rows:
        fig = r.get("figure") or ""
        fig = f"[{Path(fig).name}]({fig})" if fig else ""
        lines.append("| " + " | ".join(_cell(c) for c in (f"`{study}`", r["claim"], r["paper"], r["ours"],
                                                             VERDICT[r["reproduced"]], fig)) + " |")
    if len(lines) == 1:
        lines.append("| (no study CSV with a claims module yet) | | | | | |")
    return "\n".join(lines)


def current_table(text: str) -> str | None:
    """The table now between the report markers of `text`, or None without markers."""
    i, j = text.find(START), text.find(END)
    return None if i < 0 or j < i else text[i + len(START): j].strip("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the README table is out of date")
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    ap.add_argument("--data_dir", default=str(DATA))
    a = ap.parse_args(argv)
    table = render_table(collect_claims(a.data_dir))
    readme = Path(a.readme)
    text = readme.read_text()
    now = current_table(text)
    if now is None:
        print(table)
        print(f"\n[report] {readme} has no '{START}' / '{END}' markers; add them where the table "
              "belongs and rerun", file=sys.stderr)
        return 1
    if a.check:
        if now != table:
            print(f"[report] {readme}'s results table is out of date; run `python -m largebatch.report`",
                  file=sys.stderr)
            return 1
        print("[report] README table is up to date")
        return 0
    write_block(readme, table, "report")
    print(f"[report] wrote {len(table.splitlines()) - 2} row(s) to {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
