"""The verdict module on synthetic data with known truth, and pre-registration on a throwaway git repo.

Run: `pytest tests/test_verdict.py` (no torch; a few seconds).
"""

from __future__ import annotations

import subprocess
import time

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
    prereg.clear_caches()
    fixed, how = prereg.fixed_commit("toy", prereg.load_spec("toy", repo)["x"], repo)
    assert how == prereg.UNCOMMITTED and prereg.status(fixed, {"shas": [code]}, repo) == prereg.POST


def test_a_table_appended_after_the_runs_leaves_the_last_table_pre_registered(repo):
    """The blank line that separates a new [[claim]] table from the file's last one is not part of the
    criterion: the last table keeps its date."""
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC.rstrip("\n") + "\n")
    spec_c = _commit(repo, "spec first")
    (repo / "train.py").write_text("# the code the runs are made with\n")
    code = _commit(repo, "code")
    more = '\n[[claim]]\nid = "y"\nclaim = "an exploratory row"\ntest = "exploratory"\n'
    (repo / "experiments" / "toy" / "claims.toml").write_text(SPEC.rstrip("\n") + "\n" + more)
    time.sleep(1.1)  # blame dates lines by commit time, in seconds
    _commit(repo, "a table appended after the runs")
    prereg.clear_caches()
    fixed, how = prereg.fixed_commit("toy", prereg.load_spec("toy", repo)["x"], repo)
    assert fixed == spec_c and prereg.status(fixed, {"shas": [code]}, repo) == prereg.PRE


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


# ---- issue 31 item 4: a claim is dated by its code too ----------------------------------------------------

CODE = '''from largebatch.claims import Row, claim


def _helper(d):
    return d + {k}


@claim("x")
def x(d, spec):
    """Docstring {doc}."""
    return Row("ours", None, runs=_helper(d))  # a comment {doc}
'''


def test_claim_code_change_redates_the_claim(repo):
    """The first registered version of a claim's function, added by a commit marked byte-identical, inherits
    the spec's date; a later change of the function or of a helper it calls re-dates the claim (the report
    says 'its code'); a docstring or comment edit does not; an uncommitted change makes it post hoc."""
    toy, f = repo / "experiments" / "toy", "experiments/toy/claims.py"
    (toy / "claims.toml").write_text(SPEC)
    spec_c = _commit(repo, "spec")
    (toy / "claims.py").write_text(CODE.format(k=1, doc="a"))
    _commit(repo, f"claims as functions\n\n{prereg.BYTE_IDENTICAL}")
    (repo / "train.py").write_text("# the code the runs are made with\n")
    runs_c = _commit(repo, "code of the runs")
    spec = prereg.load_spec("toy", repo)["x"]
    assert prereg.code_commit(f, "x", repo) is None
    assert prereg.fixed_commit("toy", spec, repo, f) == (spec_c, "spec")
    (toy / "claims.py").write_text(CODE.format(k=1, doc="b"))  # words only
    _commit(repo, "docstring")
    assert prereg.fixed_commit("toy", spec, repo, f) == (spec_c, "spec")
    (toy / "claims.py").write_text(CODE.format(k=2, doc="b"))  # the helper the claim calls changes
    prereg.clear_caches()
    assert prereg.code_commit(f, "x", repo) == prereg.UNCOMMITTED
    assert prereg.fixed_commit("toy", spec, repo, f)[1] == prereg.UNCOMMITTED
    later = _commit(repo, "the statistic changes after the runs")
    prereg.clear_caches()
    fixed, how = prereg.fixed_commit("toy", spec, repo, f)
    assert (fixed, how) == (later, "code")
    assert prereg.status(fixed, {"shas": [runs_c]}, repo) == prereg.POST
    assert prereg.code_commit(f, "y", repo) is None  # no function registered under that id
    (toy / "claims.py").write_text(CODE.format(k=2, doc="b").replace("_helper", "_shared"))
    _commit(repo, f"a refactor that leaves the blocks as they were\n\n{prereg.BYTE_IDENTICAL}")
    prereg.clear_caches()
    assert prereg.fixed_commit("toy", spec, repo, f) == (later, "code")  # the marked change keeps the date


def test_first_version_without_the_mark_dates_the_claim(repo):
    """A claim's function written after its spec (not by a byte-identical refactor) dates the claim."""
    toy, f = repo / "experiments" / "toy", "experiments/toy/claims.py"
    (toy / "claims.toml").write_text(SPEC)
    _commit(repo, "spec")
    (toy / "claims.py").write_text(CODE.format(k=1, doc="a"))
    code_c = _commit(repo, "the claim's code")
    assert prereg.fixed_commit("toy", prereg.load_spec("toy", repo)["x"], repo, f) == (code_c, "code")


# ---- issue 31 item 2: the binding part, bootstraps on too few seeds --------------------------------------


def test_binding_part_is_the_one_nearest_to_failing():
    """A reproduced composite shows the part nearest to failing, not the first decisive one: made-up
    "no worse than +0.2 pt" parts where the first part passes by far (as recipe_32k's ep 4.55 did) and a
    later one only just (ep 31.8)."""
    zero = by_seed(np.zeros(10))

    def part(mean, sd, label):
        return V.noninferior(by_seed(exact_sample(mean, sd, 10)), zero, 0.2, label=label)

    far, near = part(-0.96, 0.5, "ep 4.55"), part(-0.16, 0.3, "ep 31.8")
    parts = [far, part(-0.6, 0.3, "ep 10"), part(-0.5, 0.3, "ep 20"), near]
    assert all(p.outcome == V.REPRODUCED for p in parts)
    r = V.all_of(parts)
    assert next(p for p in parts if p.outcome == r.outcome) is far  # the first decisive part ...
    assert r.binding() is near and (r.estimate, r.lo, r.hi) == (near.estimate, near.lo, near.hi)  # ... is not
    assert r.interval().startswith("ep 31.8: -0.16") and "nearest to failing, of 4" in r.interval()
    assert V.slack(near) == pytest.approx(0.2 - near.hi) and V.slack(near) < V.slack(far)
    assert V.any_of(parts).binding() is far  # "some part passes": the one farthest inside
    # a failing composite names a failing part; NaN intervals are the farthest from deciding
    bad = part(0.9, 0.2, "ep 40")
    assert V.all_of([far, bad, near]).binding() is bad
    nan = V.bootstrap([np.arange(2)], lambda i: 1.0, 0.5, ">", label="n=2")
    both = V.all_of([near, nan])
    assert both.outcome == V.INCONCLUSIVE and both.binding() is nan


def test_no_bootstrap_on_fewer_than_three_seeds():
    r = V.bootstrap([np.array([1.0, 2.0])], np.mean, 0.5, ">", what="R²")
    assert r.outcome == V.INCONCLUSIVE and r.too_few and r.n == 2
    assert r.interval() == "1.50 (no interval: needs ≥ 3 seeds, has 2)"
    assert V.all_of([r, V.exact(1.0, 0.5)]).too_few
    assert V.seeds_needed(r, 0.1) is None
    assert not V.bootstrap([np.array([1.0, 2.0, 4.0])], np.mean, 0.5, ">").too_few


def test_report_shows_replications_flags_and_counts_them():
    """A reproduced row whose replication on fresh seeds fails is marked beside its verdict and counted; a
    row's flags are shown with its interval (issue 31 items 1 and 2)."""
    from largebatch import report
    from largebatch.claims import Replication

    ok = V.difference(by_seed(exact_sample(0.43, 0.4, 10)), by_seed(np.zeros(10)), 0.0, ">")
    weak = V.difference(by_seed(exact_sample(0.06, 0.45, 10)), by_seed(np.zeros(10)), 0.0, ">")
    rep = Replication({"of": "a", "why": "a later design ran its cells", "seeds": list(range(10, 20))}, weak)
    row = {
        "study": "s",
        "id": "a",
        "claim": "c",
        "paper": "p",
        "ours": "o",
        "figure": "",
        "outcome": ok.outcome,
        "spec": {},
        "result": ok,
        "replication": rep,
        "flags": ("censored: B_opt at its grid's top",),
        "prereg": prereg.PRE,
        "fixed": "0" * 40,
        "fixed_how": "spec",
        "need": 10,
        "need_obs": None,
    }
    assert report.not_replicated(row) and report.seeds_text([10, 11, 12, 14]) == "10–12, 14"
    table = report.render_rows([row])
    assert "reproduced; **not replicated** on seeds 10–19" in table
    assert "replication, seeds 10–19 (a later design ran its cells): 0.06 [" in table
    assert "not replicated (inconclusive)" in table and "**censored: B_opt at its grid's top**" in table
    assert report.counts([row])["s"]["not replicated"] == 1
    assert next(ln for ln in report.render_counts([row]).splitlines() if "**all**" in ln).endswith("| 1 |")
    assert report.counts([{**row, "replication": Replication(rep.spec, ok)}])["s"]["not replicated"] == 0


def test_replication_tables_are_checked_and_do_not_join_a_claims_span(repo):
    toml = repo / "experiments" / "toy" / "claims.toml"
    good = SPEC + '[[replication]]\nof = "x"\nwhy = "a later design"\nseeds = [10, 11]\n'
    toml.write_text(good)
    spec = prereg.load_spec("toy", repo)
    assert spec.replications == [{"of": "x", "why": "a later design", "seeds": [10, 11]}]
    assert prereg.table_spans(good)["x"] == (0, 4)  # the claim's table ends before the [[replication]] header
    for bad, msg in (
        ('of = "z"', "not a claim"),
        ('claim = "q"', "not a spec key"),
        ("why = 3", "needs why"),
    ):
        key = bad.split(" =")[0]
        text = good.replace(f'{key} = "a later design"' if key == "why" else 'of = "x"', bad)
        if key == "claim":
            text = good + 'claim = "q"\n'
        toml.write_text(text)
        with pytest.raises(prereg.SpecError, match=msg):
            prereg.load_spec("toy", repo)


# ---- issue 31: reruns on fresh seeds supersede an earlier row in the counts ---------------------------

RERUN_SPEC = "".join(
    f'[[claim]]\nid = "{cid}"\nclaim = "A beats B, design {k}"\ntest = "difference"\nthreshold = 0.0\n'
    f"seeds = [{10 * k}, {10 * k + 1}, {10 * k + 2}]\n"
    for k, cid in ((0, "old"), (1, "mid"), (2, "new"))
) + "".join(
    f'[[rerun]]\nof = "{a}"\nby = "{b}"\nwhy = "design {k}"\n'
    for k, a, b in ((1, "old", "mid"), (2, "mid", "new"))
)


def test_rerun_tables_are_checked(repo):
    toml = repo / "experiments" / "toy" / "claims.toml"
    toml.write_text(RERUN_SPEC)
    spec = prereg.load_spec("toy", repo)
    assert [(t["of"], t["by"]) for t in spec.reruns] == [("old", "mid"), ("mid", "new")]
    assert prereg.table_spans(RERUN_SPEC)["new"][1] == 17  # the last claim's table ends before [[rerun]]
    for old, bad, msg in (
        ('by = "mid"', 'by = "nope"', "not a claim"),
        ('by = "mid"', 'by = "old"', "later design"),
        ('of = "mid"\nby = "new"', 'of = "mid"\nby = "old"', "later design"),
        ("seeds = [10, 11, 12]", "seeds = [2, 11, 12]", r"shares seeds \[2\]"),
        ("seeds = [10, 11, 12]\n", "", "must both list their seeds"),
        ('of = "mid"', 'of = "old"', "already superseded"),
        ('why = "design 2"', 'why = ""', "needs why"),
        ('why = "design 2"', 'why = "x"\nbecause = "y"', "the keys are of, by, why"),
    ):
        assert old in RERUN_SPEC
        toml.write_text(RERUN_SPEC.replace(old, bad, 1))
        with pytest.raises(prereg.SpecError, match=msg):
            prereg.load_spec("toy", repo)


def _rerun_rows(new_prereg=prereg.PRE, new_outcome=V.INCONCLUSIVE):
    def row(cid, outcome, seeds, pre=prereg.PRE):
        res = V.Result(outcome, 1.0, 0.5, 1.5, 3, "paired t", "Δ > 0")
        text = {k: "" for k in ("paper", "ours", "figure")}
        return {
            **text, "study": "toy", "id": cid, "claim": cid, "outcome": outcome, "spec": {"seeds": seeds},
            "result": res, "prereg": pre, "fixed": "0" * 40, "fixed_how": "spec", "need": 3, "need_obs": None,
            "target": 1.0, "target_why": "t", "wall_per_seed": 1.0,
        }  # fmt: skip

    return [
        row("old", V.REPRODUCED, [0, 1, 2]),
        row("mid", V.INCONCLUSIVE, [10, 11, 12]),
        row("new", new_outcome, [20, 21, 22], new_prereg),
    ]


def test_reruns_supersede_in_the_counts_whatever_the_outcomes(repo):
    """A chain old -> mid -> new: both earlier rows count as superseded by the latest one, a reproduced row
    as much as an inconclusive one; every row keeps its own verdict in the table, and the line under the
    counts gives every judged row by its own verdict."""
    from largebatch import report

    (repo / "experiments" / "toy" / "claims.toml").write_text(RERUN_SPEC)
    rows = report.apply_reruns(_rerun_rows(), repo)
    assert [r["superseded_by"]["id"] for r in rows[:2]] == ["new", "new"]
    assert [o["id"] for o in rows[2]["supersedes"]] == ["old", "mid"] and not report.superseded(rows[2])
    c = report.counts(rows)["toy"]
    assert (c["superseded"], c[V.REPRODUCED], c[V.INCONCLUSIVE]) == (2, 0, 1)
    every = report.counts(rows, current=False)["toy"]
    assert (every["superseded"], every[V.REPRODUCED], every[V.INCONCLUSIVE]) == (0, 1, 2)
    table = report.render_rows(rows)
    # the [[rerun]] tables are not committed here, so nothing shows they came before the later row's runs
    assert "reproduced; *superseded* by `new` (seeds 20–22: inconclusive; named after its runs)" in table
    assert "supersedes: `old` (reproduced on seeds 0–2), `mid` (inconclusive on seeds 10–12)" in table
    counts = report.render_counts(rows)
    assert "| `toy` | 0 | 0 | 1 | 0 | 0 | 2 |" in counts
    assert "the 2 superseded ones included (3 rows): 1 reproduced, 0 not reproduced, 2 inconclusive" in counts
    assert "Of the superseded rows, 2 were named by a `[[rerun]]` table committed after" in counts
    plan = {p["id"]: p for p in report.seeds_plan(rows)}
    assert plan["mid"]["superseded_by"] == "new" and "superseded by new" in report.render_seeds(rows)


def test_a_post_hoc_or_exploratory_rerun_supersedes_nothing(repo):
    from largebatch import report

    (repo / "experiments" / "toy" / "claims.toml").write_text(RERUN_SPEC)
    cases = (({"new_prereg": prereg.POST}, "post hoc"), ({"new_outcome": V.EXPLORATORY}, "exploratory"))
    for kw, why in cases:
        rows = report.apply_reruns(_rerun_rows(**kw), repo)
        assert report.superseded(rows[0]) and rows[0]["superseded_by"]["id"] == "mid"  # the valid link stays
        assert not report.superseded(rows[1]) and f"`new` is {why}" in rows[1]["rerun_refused"]
        assert report.counts(rows)["toy"]["superseded"] == 1


def test_a_rerun_table_is_dated_against_the_later_rows_runs(repo):
    """A [[rerun]] table committed before the later row's runs (an ancestor of their sha) supersedes without a
    mark; runs made before the table was committed show it as "named after its runs" (it still supersedes)."""
    from largebatch import report

    c0 = _commit(repo, "code")
    (repo / "experiments" / "toy" / "claims.toml").write_text(RERUN_SPEC)
    c1 = _commit(repo, "spec and reruns")
    (repo / "README.md").write_text("toy, later\n")
    c2 = _commit(repo, "later")
    for sha, declared in ((c2, prereg.PRE), (c1, prereg.PRE), (c0, prereg.POST)):
        rows = _rerun_rows()
        for r in rows:
            r["run_commits"] = {"shas": [sha]}
        rows = report.apply_reruns(rows, repo)
        assert rows[1]["rerun_declared"] == declared and report.superseded(rows[1])
        named_late = "named after its runs" in report.render_rows(rows)
        assert named_late == (declared == prereg.POST)
