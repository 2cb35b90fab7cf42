"""The verdict module on synthetic data with known truth, and pre-registration on a throwaway git repo.

Run: `pytest tests/test_verdict.py` (no torch; a few seconds).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from largebatch import prereg
from largebatch import verdict as V


def exact_sample(mean: float, sd: float, n: int, seed: int = 0) -> np.ndarray:
    """n values with exactly this sample mean and sample sd (ddof = 1)."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def by_seed(x) -> pd.Series:
    return pd.Series(np.asarray(x, float), index=pd.Index(range(len(x)), name="seed"))


# ---- difference claims: reproduced / inconclusive / not reproduced ---------------------------------------


def test_true_effect_of_one_sd_with_ten_seeds_is_reproduced():
    d = exact_sample(1.0, 1.0, 10)  # paired differences: effect = 1 SD
    b = by_seed(exact_sample(5.0, 2.0, 10, seed=1))
    r = V.difference(b + d, b, threshold=0.0, direction=">")
    assert r.method == "paired t" and r.n == 10
    assert r.outcome == V.REPRODUCED and r.lo > 0 and r.estimate == pytest.approx(1.0)
    assert V.one_sample(d, 0.0, ">").outcome == V.REPRODUCED


def test_zero_effect_is_inconclusive():
    d = exact_sample(0.0, 1.0, 10)
    b = by_seed(exact_sample(5.0, 2.0, 10, seed=1))
    r = V.difference(b + d, b, 0.0, ">")
    assert r.outcome == V.INCONCLUSIVE and r.lo < 0 < r.hi


def test_reversed_effect_is_not_reproduced():
    d = exact_sample(-1.0, 1.0, 10)
    b = by_seed(exact_sample(5.0, 2.0, 10, seed=1))
    assert V.difference(b + d, b, 0.0, ">").outcome == V.NOT_REPRODUCED
    # the same data read against a "less than" claim is reproduced
    assert V.difference(b + d, b, 0.0, "<").outcome == V.REPRODUCED


def test_unpaired_arms_use_welch():
    a, b = exact_sample(3.0, 1.0, 10), exact_sample(0.0, 1.0, 12, seed=2)
    r = V.difference(a, b, 0.0, ">")
    assert r.method == "Welch t" and r.outcome == V.REPRODUCED
    # arms indexed by different seeds are not paired either
    r2 = V.difference(
        pd.Series(a, index=pd.Index(range(10), name="seed")),
        pd.Series(b[:10], index=pd.Index(range(5, 15), name="seed")),
        0.0,
        ">",
    )
    assert r2.method == "Welch t"


def test_interval_comes_from_scipy():
    from scipy import stats

    a, b = by_seed(exact_sample(2.0, 1.0, 6)), by_seed(exact_sample(1.0, 1.5, 6, seed=3))
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    r = V.difference(a, b)
    assert (r.lo, r.hi) == pytest.approx((ci.low, ci.high))


def test_false_positive_rate_is_controlled():
    """Under no effect, 'reproduced' for a '> 0' claim happens at most ~2.5 % of the time (95 % interval)."""
    rng = np.random.default_rng(7)
    hits = sum(V.one_sample(rng.standard_normal(5), 0.0, ">").outcome == V.REPRODUCED for _ in range(400))
    assert hits / 400 < 0.06


# ---- equivalence ----------------------------------------------------------------------------------------


def test_equivalence_passes_inside_the_margin_and_fails_outside():
    base = by_seed(exact_sample(10.0, 1.0, 10, seed=4))
    inside = V.equivalence(base + exact_sample(0.05, 0.1, 10), base, margin=0.3)
    assert inside.outcome == V.REPRODUCED and -0.3 < inside.lo and inside.hi < 0.3
    assert inside.level == pytest.approx(0.90)
    outside = V.equivalence(base + exact_sample(1.0, 0.1, 10), base, margin=0.3)
    assert outside.outcome == V.NOT_REPRODUCED
    straddle = V.equivalence(base + exact_sample(0.3, 0.2, 10), base, margin=0.3)
    assert straddle.outcome == V.INCONCLUSIVE


def test_equivalence_is_two_one_sided_tests():
    from scipy import stats

    d = exact_sample(0.1, 0.3, 8)
    r = V.equivalence(d, 0.0, margin=0.4)
    p = max(
        stats.ttest_1samp(d, -0.4, alternative="greater").pvalue,
        stats.ttest_1samp(d, 0.4, alternative="less").pvalue,
    )
    assert (p < 0.05) == (r.outcome == V.REPRODUCED)


def test_noninferiority_passes_a_large_improvement():
    base = by_seed(exact_sample(10.0, 1.0, 10, seed=5))
    better = base + exact_sample(-5.0, 0.2, 10)  # error 5 pt lower: "no worse" holds
    assert V.noninferior(better, base, margin=0.2).outcome == V.REPRODUCED
    assert V.equivalence(better, base, margin=0.2).outcome == V.NOT_REPRODUCED
    worse = base + exact_sample(1.0, 0.1, 10)
    assert V.noninferior(worse, base, margin=0.2).outcome == V.NOT_REPRODUCED


# ---- bootstrap, exact, composites, seeds -----------------------------------------------------------------


def test_bootstrap_ratio():
    a, b = exact_sample(20.0, 1.0, 8), exact_sample(10.0, 1.0, 8, seed=6)
    r = V.bootstrap([a, b], lambda x, y: x.mean() / y.mean(), 1.5, ">", what="ratio")
    assert r.outcome == V.REPRODUCED and r.lo > 1.5 and r.estimate == pytest.approx(2.0)
    assert V.bootstrap([a, b], lambda x, y: x.mean() / y.mean(), 3.0, ">").outcome == V.NOT_REPRODUCED
    # two seeds: no interval
    assert V.bootstrap([a[:2], b[:2]], lambda x, y: x.mean() / y.mean(), 1.5).outcome == V.INCONCLUSIVE
    band = V.bootstrap([exact_sample(1.0, 0.05, 10)], np.mean, band=(0.5, 1.5))
    assert band.outcome == V.REPRODUCED


def test_exact_and_composites():
    assert V.exact(89_610, 100_000, "<").outcome == V.REPRODUCED
    assert V.exact(178_800, 250_000, equivalence_margin=25_000).outcome == V.NOT_REPRODUCED
    rep, inc, no = (V.exact(1, 0, ">"), V.Result(V.INCONCLUSIVE, 0, -1, 1, 3, "t", ""), V.exact(-1, 0, ">"))
    assert V.all_of([rep, rep]).outcome == V.REPRODUCED
    assert V.all_of([rep, inc]).outcome == V.INCONCLUSIVE
    assert V.all_of([rep, inc, no]).outcome == V.NOT_REPRODUCED
    assert V.any_of([no, inc]).outcome == V.INCONCLUSIVE and V.any_of([no, rep]).outcome == V.REPRODUCED
    assert V.at_least(no, censored=True).outcome == V.INCONCLUSIVE


def test_seeds_needed_by_power():
    r = V.difference(by_seed(exact_sample(1.0, 1.0, 3)), by_seed(np.zeros(3)), 0.0, ">")
    n = V.seeds_needed(r, target_half_width=1.0)
    assert n is not None and 3 < n <= V.SEED_CAP
    assert V.seeds_needed(r, target_half_width=r.half_width * 2) == 3
    assert V.seeds_needed(r, target_half_width=0.01) is None  # the cap of 10 is not enough


# ---- pre-registration on a throwaway repository ---------------------------------------------------------


def _git(root, *args) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _commit(root, msg: str) -> str:
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", msg)
    return _git(root, "rev-parse", "HEAD")


SPEC = """[[claim]]
id = "x"
claim = "A beats B"
test = "difference"
threshold = 0.0
"""


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "experiments" / "toy").mkdir(parents=True)
    (tmp_path / "paper_figures" / "data").mkdir(parents=True)
    (tmp_path / "README.md").write_text("toy\n")
    return tmp_path


def _runs(sha: str) -> pd.DataFrame:
    return pd.DataFrame({"run_id": ["r0", "r1"], "seed": [0, 1], "meta.git_sha": [sha, sha]})


def test_spec_edited_after_its_csv_is_post_hoc(repo):
    code = _commit(repo, "code")  # the runs are made at this commit
    _runs(code).to_csv(repo / "paper_figures" / "data" / "toy.csv", index=False)
    _commit(repo, "results")
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC)
    _commit(repo, "spec written after the results")
    spec = prereg.load_spec("toy", repo)["x"]
    fixed, how = prereg.fixed_commit("toy", spec, repo)
    assert how == "spec"
    assert prereg.status(fixed, {"shas": [code]}, repo) == prereg.POST


def test_spec_committed_before_the_runs_is_pre_registered(repo):
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC)
    _commit(repo, "spec first")
    (repo / "train.py").write_text("# the code the runs are made with\n")
    code = _commit(repo, "code")
    spec = prereg.load_spec("toy", repo)["x"]
    fixed, _ = prereg.fixed_commit("toy", spec, repo)
    assert prereg.status(fixed, {"shas": [code]}, repo) == prereg.PRE
    # an uncommitted edit of the claim makes it post hoc
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC.replace("A beats B", "A beats B by 1"))
    prereg._blame.cache_clear()
    fixed, how = prereg.fixed_commit("toy", prereg.load_spec("toy", repo)["x"], repo)
    assert how == prereg.UNCOMMITTED and prereg.status(fixed, {"shas": [code]}, repo) == prereg.POST


def test_registered_quote_is_checked_against_its_commit(repo):
    (repo / "experiments" / "toy" / "claims.py").write_text('"""criterion: A beats B at B=1024"""\n')
    old = _commit(repo, "criterion in code")
    (repo / "train.py").write_text("# the code the runs are made with\n")
    code = _commit(repo, "code")
    reg = {"commit": old[:7], "file": "experiments/toy/claims.py", "quote": "A beats B at   B=1024"}
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC)
    _commit(repo, "spec later")
    spec = {**prereg.load_spec("toy", repo)["x"], "registered": reg}
    fixed, how = prereg.fixed_commit("toy", spec, repo)
    assert how == "registered" and fixed.startswith(old[:7])
    assert prereg.status(fixed, {"shas": [code]}, repo) == prereg.PRE
    bad = {**spec, "registered": {**reg, "quote": "A beats B at B=2048"}}  # not what was committed
    assert prereg.fixed_commit("toy", bad, repo)[1] == "spec"


def test_runs_without_sha_are_unverified_or_post_hoc(repo):
    csv = repo / "paper_figures" / "data" / "toy.csv"
    pd.DataFrame({"run_id": ["r0"], "seed": [0]}).to_csv(csv, index=False)
    _commit(repo, "results without shas")
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC)
    spec_c = _commit(repo, "spec after")
    runs = pd.read_csv(repo / "paper_figures" / "data" / "toy.csv")
    commits = prereg.run_commits(runs, "paper_figures/data/toy.csv", root=repo)
    assert "data_commits" in commits
    assert prereg.status(spec_c, commits, repo) == prereg.POST
    first = _git(repo, "rev-list", "--max-parents=0", "HEAD")
    assert prereg.status(first, commits, repo) == prereg.UNVERIFIED


# ---- issue 28/31 additions: smallest effect of interest, bands, preconditions, controls --------------------


def test_sesoi_turns_a_null_effect_into_not_reproduced():
    """Δ > 0 with sesoi 0.5: an interval wholly below 0.5 is not reproduced (the effect, whatever it is, is
    smaller than any of interest); one wholly above 0 stays reproduced; one straddling 0.5 stays open."""
    null = V.difference(by_seed(exact_sample(0.05, 0.1, 10)), by_seed(np.zeros(10)), 0.0, ">")
    assert null.outcome == V.INCONCLUSIVE and null.hi < 0.5
    assert V.with_sesoi(null, 0.5, ">").outcome == V.NOT_REPRODUCED
    real = V.difference(by_seed(exact_sample(0.3, 0.1, 10)), by_seed(np.zeros(10)), 0.0, ">")
    assert real.outcome == V.REPRODUCED and V.with_sesoi(real, 0.5, ">").outcome == V.REPRODUCED
    wide = V.difference(by_seed(exact_sample(0.3, 1.0, 10)), by_seed(np.zeros(10)), 0.0, ">")
    assert V.with_sesoi(wide, 0.5, ">").outcome == V.INCONCLUSIVE
    # mirrored for "<", and recombined for composites
    lo = V.difference(by_seed(exact_sample(-0.05, 0.1, 10)), by_seed(np.zeros(10)), 0.0, "<")
    assert V.with_sesoi(lo, -0.5, "<").outcome == V.NOT_REPRODUCED
    both = V.all_of([real, null])
    assert both.outcome == V.INCONCLUSIVE and V.with_sesoi(both, 0.5, ">").outcome == V.NOT_REPRODUCED
    # computed from censored seeds (lower bounds): below the sesoi is no evidence that the effect is small
    bound = V.at_least(null, censored=True)
    assert V.with_sesoi(bound, 0.5, ">").outcome == V.INCONCLUSIVE
    assert V.with_sesoi(V.all_of([real, bound]), 0.5, ">").outcome == V.INCONCLUSIVE


def test_difference_band():
    zero = by_seed(np.zeros(10))
    inside = V.difference_band(by_seed(exact_sample(1.2, 0.2, 10)), zero, 0.5, 2.0)
    assert inside.outcome == V.REPRODUCED and inside.rule == "Δ in (0.5, 2)"
    above = V.difference_band(by_seed(exact_sample(3.0, 0.2, 10)), zero, 0.5, 2.0)
    assert above.outcome == V.NOT_REPRODUCED
    edge = V.difference_band(by_seed(exact_sample(1.9, 0.4, 10)), zero, 0.5, 2.0)
    assert edge.outcome == V.INCONCLUSIVE and edge.threshold == 2.0


def test_precondition_must_name_an_earlier_claim(repo):
    spec = SPEC + '\n[[claim]]\nid = "y"\nclaim = "y"\ntest = "exploratory"\nprecondition = "z"\n'
    (repo / "experiments" / "toy" / "claims.toml").write_text(spec)
    with pytest.raises(prereg.SpecError, match="precondition"):
        prereg.load_spec("toy", repo)
    (repo / "experiments" / "toy" / "claims.toml").write_text(spec.replace('"z"', '"x"'))
    assert prereg.load_spec("toy", repo)["y"]["precondition"] == "x"


def test_report_marks_rows_not_testable_and_not_separated():
    from largebatch import report

    def row(cid, outcome, **spec):
        res = V.Result(outcome, 1.0, 0.5, 1.5, 10, "paired t", "Δ > 1")
        return {"study": "s", "id": cid, "outcome": outcome, "spec": spec, "result": res}

    rows = [
        row("pre", V.INCONCLUSIVE),
        row("m", V.REPRODUCED, precondition="pre"),
        row("pre2", V.REPRODUCED),
        row("m2", V.REPRODUCED, precondition="pre2"),
    ]
    out = {r["id"]: r["outcome"] for r in report.apply_preconditions(rows)}
    assert out == {"pre": V.INCONCLUSIVE, "m": V.NOT_TESTABLE, "pre2": V.REPRODUCED, "m2": V.REPRODUCED}
    c = report.counts([{**r, "prereg": prereg.PRE} for r in rows])["s"]
    assert c[V.NOT_TESTABLE] == 1 and c[V.REPRODUCED] == 2
