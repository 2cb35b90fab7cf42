"""Replayed staleness distributions: histograms of tau read from a CSV (`path[#name]`), and their digest.

`staleness=replay` draws tau i.i.d. from a measured histogram (largebatch.staleness); the run id hashes the
histogram's content (`replay_digest`), so runs that replayed different distributions never share an id.
A relative path is looked up from the working directory, then from the repository root, then (a path under
experiments/) in the installed studies' package, which ships the committed replay.csv.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from .errors import ConfigError
from .paths import ROOT, installed_studies


def resolve_path(path: str) -> Path:
    """A replay CSV's path: as given, else under the repository root, else (`experiments/...`) inside the
    installed studies' package."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    if (ROOT / p).exists():
        return ROOT / p
    studies = installed_studies()
    if studies is not None and p.parts[:1] == ("experiments",) and (studies.joinpath(*p.parts[1:])).exists():
        return studies.joinpath(*p.parts[1:])
    return ROOT / p


def load_replay(spec: str) -> dict[int, float]:
    """{tau: count} from `path[#name]` (CSV with columns staleness, count[, staleness_dist])."""
    path, _, name = spec.partition("#")
    p = resolve_path(path)
    if not p.is_file():
        raise ConfigError(f"staleness_replay={spec!r}: no file {p}; give a CSV with columns staleness,count")
    out: dict[int, float] = {}
    with open(p, newline="") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            if name and row.get("staleness_dist") != name:
                continue
            tau = int(float(row["staleness"]))
            out[tau] = out.get(tau, 0.0) + float(row["count"])
    if not out or sum(out.values()) <= 0:
        raise ConfigError(f"staleness_replay={spec!r}: no rows with a positive count")
    return out


def replay_digest(spec: str) -> str:
    """8 hex digits of the histogram `spec` names ("missing" if it cannot be read: training then raises)."""
    try:
        hist = load_replay(spec)
    except (ConfigError, OSError, KeyError, ValueError):
        return "missing"
    body = ",".join(f"{t}:{c:g}" for t, c in sorted(hist.items()))
    return hashlib.sha1(body.encode()).hexdigest()[:8]


__all__ = ["load_replay", "replay_digest"]
