"""The claims specs (experiments/<study>/claims.toml) and the statistics the claims re-evaluate on resamples.

Every spec parses, names a known test and what that test needs (threshold, margin or band), and every
`registered` quote is found in the commit it names (a criterion claimed to predate the runs really does).
The noise study's vectorised B_opt and Pareto fit equal analysis.py's on the committed CSVs.
Run: `pytest tests/test_claims_specs.py` (no training; seconds).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from largebatch import claims, prereg, study
from largebatch.results import DATA, ROOT

STUDIES = sorted(p.parent.name for p in (ROOT / "experiments").glob("*/claims.toml"))
# studies whose claims.py still has the first form (claims(data_dir) -> list[dict]): their authors convert
# them with their next design (experiments/README.md, "claims.py")
PENDING: set[str] = set()
TESTS = {"difference", "equivalence", "noninferior", "one_sample", "bootstrap", "exact", "exploratory"}


def test_every_study_with_claims_has_a_spec():
    with_claims = sorted(p.parent.name for p in (ROOT / "experiments").glob("*/claims.py"))
    assert STUDIES == with_claims


@pytest.mark.parametrize("study", STUDIES)
def test_spec_is_well_formed(study):
    spec = prereg.load_spec(study)
    assert spec, f"{study}: empty claims.toml"
    for cid, c in spec.items():
        assert {"id", "claim", "test"} <= set(c), cid
        assert c["test"] in TESTS, (cid, c["test"])
        if c["test"] == "equivalence" or c["test"] == "noninferior":
            assert c.get("margin", 0) > 0, cid
        elif c["test"] == "difference":
            assert "threshold" in c or "band" in c, cid
        elif c["test"] == "one_sample":
            assert "threshold" in c, cid
        elif c["test"] == "bootstrap":
            assert "threshold" in c or "band" in c, cid
        if c["test"] != "exact":
            assert c["test"] == "exploratory" or c.get("seeds") or c.get("arms"), f"{cid}: which seeds?"


@pytest.mark.parametrize("study", STUDIES)
def test_registered_quotes_are_in_their_commits(study):
    if prereg.git("rev-parse", "HEAD") is None:
        pytest.skip("not a git checkout")
    for cid, c in prereg.load_spec(study).items():
        if "registered" in c:
            assert prereg.registered_ok(c["registered"]), f"{study}/{cid}: quote not in {c['registered']}"


def test_noise_per_seed_statistics_match_the_tables():
    """B_opt and the Pareto fit from the per-seed arrays (what the claims resample) equal the README tables'
    (analysis.optimal_batch, critical_batch) on the committed CSVs."""
    from experiments.noise_scale import analysis

    runs, _ = analysis.load(DATA)
    ob = analysis.optimal_batch(runs).set_index(["N", "eps"])
    seeds = sorted(runs[runs.experiment == "optimal_batch"].seed.unique())
    for (n, eps), r in ob.iterrows():
        bs, acc, _, div = analysis.cells(runs, n, eps, seeds)
        assert analysis.b_opt(bs, acc, div, range(len(seeds))) == pytest.approx(r.B_opt)
    cb, steps = analysis.crit_array(runs)
    fit = analysis.fit_pareto(*analysis.critical_batch(runs)[["B", "S"]].to_numpy().T)
    b_crit, r2 = analysis.pareto(cb, steps, np.arange(steps.shape[0]))
    assert b_crit == pytest.approx(fit["B_crit"]) and r2 == pytest.approx(fit["r2"])


@pytest.mark.parametrize("name", STUDIES)
def test_every_claim_id_has_exactly_one_registered_function(name):
    """claims.toml and claims.py cannot drift: each toml id has one @claim function, each function a toml id
    (a study still on the first form, claims(data_dir) -> list[dict], is listed in PENDING)."""
    s = study.get(name)
    mod = s.module("claims")
    if not claims.is_registry_module(mod):
        assert name in PENDING, f"{name}: claims.py registers no claim (largebatch.claims)"
        pytest.skip(f"{name}: first form, to be converted")
    claims.check_ids(name, mod, prereg.load_spec(name))
    fns = [v for v in vars(mod).values() if getattr(v, "claim_study", None) == name]
    assert sorted(c for f in fns for c in f.claim_ids) == sorted(prereg.load_spec(name))


def test_check_ids_names_both_sides():
    def f(d, spec):
        return None

    def g(d, spec):
        return None

    claims.claim("a", study="toy_ids")(f)
    claims.claim("b", study="toy_ids")(g)
    mod = types.SimpleNamespace(f=f, g=g)
    try:
        with pytest.raises(
            claims.ClaimError, match=r"ids without a function: \['c'\].*functions without a toml id: \['b'\]"
        ):
            claims.check_ids("toy_ids", mod, {"a": {}, "c": {}})
        with pytest.raises(claims.ClaimError, match="registered twice"):
            claims.claim("a", study="toy_ids")(g)
        with pytest.raises(claims.ClaimError, match="needs one or more claim ids"):
            claims.claim(study="toy_ids")
    finally:
        claims.forget("toy_ids")


def test_one_function_serves_several_ids_in_the_toml_order():
    """@claim("x", "y") registers one function under both ids; it reads which from spec["id"]; rows come in
    the toml's order, not the registration's; prereg dates each id by that function's source."""

    def f(d, spec):
        return claims.Row(f"{spec['id']}: {d}", None)

    def g(d, spec):
        return claims.Row("z", None)

    claims.claim("z", study="toy_multi")(g)
    claims.claim("x", "y", study="toy_multi")(f)
    try:
        spec = {k: {"id": k} for k in ("x", "y", "z")}
        claims.check_ids("toy_multi", types.SimpleNamespace(f=f, g=g), spec)
        rows = claims.evaluate("toy_multi", 7, spec)
        assert list(rows) == ["x", "y", "z"] and rows["y"].text == "y: 7"
    finally:
        claims.forget("toy_multi")
    src = "@claim('a', 'b')\ndef f(d, s):\n    return h(d)\n\n\ndef h(d):\n    return d\n"
    assert prereg.claim_source(src, "b") == prereg.claim_source(src, "a") is not None
    assert prereg.claim_source(src, "c") is None
