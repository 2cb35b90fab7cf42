"""One way to turn seeds into a verdict: three outcomes, an interval, an n (issue 20).

Every study's claims.py decides its rows here; no study computes its own test statistics.

Outcomes
    reproduced       the interval lies wholly on the paper's side of the threshold
    not reproduced   the interval lies wholly on the other side
    inconclusive     the interval straddles the threshold (the data cannot decide)

Tests (all from scipy.stats; nothing hand-rolled)
    `difference`   mean(a) - mean(b) against a threshold: paired t interval (scipy.stats.ttest_rel) when
                   the two arms share seeds, Welch's interval (ttest_ind, equal_var=False) otherwise; 95 %.
    `one_sample`   mean(x) against a threshold (ttest_1samp), 95 %.
    `equivalence`  "within δ" / "no worse than" claims: two one-sided tests at the margin δ (TOST, α = 0.05
                   each), shown as the 90 % interval (the interval TOST decides on): reproduced when it lies
                   inside (−δ, δ), not reproduced when it lies wholly outside [−δ, δ], inconclusive otherwise.
    `bootstrap`    ratios, slopes and fitted quantities: scipy.stats.bootstrap (percentile, 95 %, seeds
                   resampled; independent arms resampled independently, shared seeds resampled together).
    `exact`        deterministic quantities (a count, a model evaluation): the interval is the point.
Composite claims ("for every optimizer", "A and B") use `all_of`: reproduced only when every part is,
not reproduced when any part is, inconclusive otherwise.

Seeds by power (`seeds_needed`): the interval's half-width scales as t(n−1)·s/√n; the smallest n ≤ 10 that
makes it smaller than half the effect the paper reports (or than the margin) is the number of seeds to run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
EXPLORATORY = "exploratory"  # reported, carries no verdict
# A method row whose precondition (the failure the method exists to fix) is not reproduced: not judged.
NOT_TESTABLE = "not testable here"
# A method row that passes, but whose control (the arm without the method) passes the same test: it does
# not tell the method from its control, so it is not counted as a reproduction of the method's benefit.
NOT_SEPARATED = "does not separate"
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
CONF = 0.95
ALPHA = 0.05
SEED_CAP = 10
N_RESAMPLES = 2000
MIN_BOOT_N = 3  # fewer seeds than this: a bootstrap interval is not computed (inconclusive)
TOO_FEW = f"bootstrap not computed (needs ≥ {MIN_BOOT_N} seeds)"  # the method of such a result


@dataclass(frozen=True)
class Result:
    """One verdict: outcome, estimate, interval [lo, hi], n and how it was reached.

    `half_width` and `n` feed `seeds_needed`; `parts` holds the components of a composite claim.
    """

    outcome: str
    estimate: float
    lo: float
    hi: float
    n: int
    method: str
    rule: str
    level: float = CONF
    parts: tuple = field(default_factory=tuple)
    label: str = ""
    threshold: float = math.nan  # the decision boundary (the margin for equivalence tests)
    equivalence: bool = False
    direction: str = ""  # the paper's side of `threshold`: ">" or "<" ("" for bands and equivalence)
    band: tuple = ()  # (lo, hi) of a "lies in the band" claim

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2 if math.isfinite(self.hi - self.lo) else math.inf

    @property
    def too_few(self) -> bool:
        """A bootstrap not computed: fewer than MIN_BOOT_N seeds (the row needs more seeds first)."""
        return self.method.startswith(TOO_FEW) or any(p.too_few for p in self.parts)

    def binding(self) -> Result:
        """The part that sets a composite's verdict: of the parts with the composite's outcome, the one
        nearest to failing (least `slack`; for any_of, the one farthest inside its boundary)."""
        return _binding(self.parts, self.outcome, self.method.startswith("any of"))

    def interval(self, digits: int = 2) -> str:
        """'est [lo, hi]' (or the composite's parts, one per label)."""
        if self.parts:

            def one(p):
                return f"{p.label}: {p.interval(digits)}" if p.label else p.interval(digits)

            if len(self.parts) <= 3:
                return "; ".join(one(p) for p in self.parts)
            n = len(self.parts)
            return f"{one(self.binding())} (the part that sets the verdict: nearest to failing, of {n})"
        if self.method.startswith("exact"):
            return _num(self.estimate, digits)
        if self.method.startswith(TOO_FEW):
            return f"{_num(self.estimate, digits)} (no interval: needs ≥ {MIN_BOOT_N} seeds, has {self.n})"
        return f"{_num(self.estimate, digits)} [{_num(self.lo, digits)}, {_num(self.hi, digits)}]"

    def n_text(self) -> str:
        if self.parts:
            ns = sorted({p.n for p in self.parts if not p.method.startswith("exact")} or {self.n})
            return "/".join(map(str, ns))
        return str(self.n)


def _num(v: float, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}" if abs(v) >= 1e5 else f"{v:.{digits}f}"


def decide(lo: float, hi: float, threshold: float, direction: str) -> str:
    """The outcome of an interval [lo, hi] against `threshold`.

    Args:
        lo, hi: Interval bounds.
        threshold: The paper's threshold for the statistic.
        direction: ">" when the paper says the statistic exceeds the threshold, "<" when it is below.

    Returns:
        str: REPRODUCED, NOT_REPRODUCED or INCONCLUSIVE (NaN bounds are inconclusive).
    """
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', not {direction!r}")
    if not (lo <= hi):  # NaN
        return INCONCLUSIVE
    if direction == ">":
        return REPRODUCED if lo > threshold else NOT_REPRODUCED if hi < threshold else INCONCLUSIVE
    return REPRODUCED if hi < threshold else NOT_REPRODUCED if lo > threshold else INCONCLUSIVE


def with_sesoi(result: Result, sesoi: float, direction: str) -> Result:
    """A directional result judged against a smallest effect of interest as well (issue 31).

    `result` was decided against its threshold (reproduced when the interval lies wholly on the paper's
    side of it). With `sesoi`, the effect the paper's claim needs at least: an interval wholly on the other
    side of the sesoi is *not reproduced* (the equivalence logic of two one-sided tests: whatever the effect
    is, it is smaller than any effect of interest), and a reproduced result stays reproduced. Composite
    results are re-judged part by part and recombined as all_of / any_of were. A result computed from
    censored seeds (`at_least`: "censored" in its method) is left as it is: its interval bounds the effect
    from one side only, so lying below the sesoi does not show the effect is smaller.
    """
    if result.parts:
        parts = [with_sesoi(p, sesoi, direction) for p in result.parts]
        how = any_of if result.method.startswith("any of") else all_of
        return replace(how(parts, result.label), rule=result.rule + f"; sesoi {sesoi:g}")
    if result.outcome != INCONCLUSIVE or result.equivalence or not (result.lo <= result.hi):
        return result
    if "censored" in result.method:  # an interval of bounds (at_least): the effect may exceed the sesoi
        return result
    below = result.hi < sesoi if direction == ">" else result.lo > sesoi
    return replace(
        result,
        outcome=NOT_REPRODUCED if below else INCONCLUSIVE,
        rule=result.rule + f"; sesoi {sesoi:g}",
    )


def difference_band(a, b, lo: float, hi: float, label: str = "", conf: float = CONF) -> Result:
    """mean(a) − mean(b) lies in the band (lo, hi): reproduced when the interval lies inside it, not
    reproduced when it lies wholly outside, inconclusive otherwise (t intervals as in `difference`)."""
    r = difference(a, b, lo, ">", label=label, conf=conf)
    if not (r.lo <= r.hi):
        return replace(r, rule=f"Δ in ({lo:g}, {hi:g})", direction="", band=(lo, hi))
    outcome = in_band(r.lo, r.hi, (lo, hi))
    edge = lo if abs(r.estimate - lo) < abs(hi - r.estimate) else hi
    return replace(
        r, outcome=outcome, rule=f"Δ in ({lo:g}, {hi:g})", threshold=edge, direction="", band=(lo, hi)
    )


def _flat(x) -> bool:
    """No spread, up to float noise in the last digits (CSV values are rounded): the interval is the point."""
    return bool(np.ptp(np.round(np.asarray(x, dtype=float), 9)) == 0)


def _clean(x) -> pd.Series:
    s = x if isinstance(x, pd.Series) else pd.Series(np.asarray(x, dtype=float))
    s = s.astype(float)
    return s[np.isfinite(s.to_numpy())]


def _shared(a: pd.Series, b: pd.Series) -> pd.Index | None:
    """The seeds both arms have, when both are indexed by seed and share at least two."""

    def unnamed_range(ix: pd.Index) -> bool:  # arrays come in with an unnamed RangeIndex: not seeds
        return isinstance(ix, pd.RangeIndex) and ix.name is None

    if unnamed_range(a.index) or unnamed_range(b.index):
        return None
    if a.index.has_duplicates or b.index.has_duplicates:
        return None
    common = a.index.intersection(b.index)
    return common if len(common) >= 2 and len(common) == len(a) == len(b) else None


def _point(est: float, n: int, method: str, rule: str, threshold: float, direction: str) -> Result:
    out = decide(est, est, threshold, direction)
    return Result(out, est, est, est, n, method, rule, threshold=threshold, direction=direction)


def slack(r: Result) -> float:
    """How far `r`'s interval lies inside its boundary on the paper's side (negative: it crosses or lies
    outside it; -inf: no interval; NaN: the boundary is not known, e.g. an exact equivalence)."""
    if not (r.lo <= r.hi):
        return -math.inf
    if r.equivalence:
        return min(r.threshold - r.hi, r.lo + r.threshold)
    if r.band:
        return min(r.lo - r.band[0], r.band[1] - r.hi)
    if r.direction == ">":
        return r.lo - r.threshold
    if r.direction == "<":
        return r.threshold - r.hi
    return math.nan


def _binding(parts, outcome: str, any_: bool) -> Result:
    """Of `parts` with `outcome`, the one nearest to failing (all_of) or farthest inside (any_of); the first
    such part when a boundary is unknown."""
    cand = [p for p in parts if p.outcome == outcome] or list(parts)
    sl = [slack(p) for p in cand]
    if any(math.isnan(x) for x in sl):
        return cand[0]
    k = max(range(len(cand)), key=lambda i: sl[i]) if any_ else min(range(len(cand)), key=lambda i: sl[i])
    return cand[k]


def _rule(direction: str, threshold: float, what: str = "Δ") -> str:
    return f"{what} {direction} {threshold:g}"


def difference(
    a,
    b,
    threshold: float = 0.0,
    direction: str = ">",
    paired: bool | None = None,
    label: str = "",
    conf: float = CONF,
) -> Result:
    """mean(a) − mean(b) against `threshold`: paired t when the arms share seeds, else Welch's t.

    Args:
        a, b: Per-seed values (pd.Series indexed by seed, a named index, for pairing; arrays and unnamed
            RangeIndex series are never paired).
        threshold: The paper's threshold on mean(a) − mean(b).
        direction: ">" (the paper: the difference exceeds the threshold) or "<".
        paired: Force pairing (True) or Welch (False); None: paired when both share every seed.
        label: Shown before the interval in composite rows.
        conf: Confidence level of the two-sided interval.

    Returns:
        Result: the outcome with the interval of the difference.
    """
    a, b = _clean(a), _clean(b)
    common = _shared(a, b) if paired is not False else None
    rule = _rule(direction, threshold)
    if paired and common is None:
        raise ValueError("paired=True needs two arms indexed by the same seeds")
    if common is not None:
        d = (a[common] - b[common]).to_numpy()
        if _flat(d):  # no spread at all: the interval is the point
            return replace(
                _point(float(d[0]), len(d), "paired (no spread)", rule, threshold, direction), label=label
            )
        ci = stats.ttest_rel(a[common].to_numpy(), b[common].to_numpy()).confidence_interval(conf)
        est, n, method = float(d.mean()), len(d), "paired t"
    else:
        if len(a) < 2 or len(b) < 2:
            return Result(
                INCONCLUSIVE,
                float(a.mean() - b.mean()),
                math.nan,
                math.nan,
                min(len(a), len(b)),
                "Welch t",
                rule,
                label=label,
                direction=direction,
            )
        est, n, method = float(a.mean() - b.mean()), min(len(a), len(b)), "Welch t"
        if _flat(a) and _flat(b):
            return replace(_point(est, n, "Welch (no spread)", rule, threshold, direction), label=label)
        ci = stats.ttest_ind(a.to_numpy(), b.to_numpy(), equal_var=False).confidence_interval(conf)
    lo, hi = float(ci.low), float(ci.high)
    return Result(
        decide(lo, hi, threshold, direction),
        est,
        lo,
        hi,
        n,
        method,
        rule,
        conf,
        label=label,
        threshold=threshold,
        direction=direction,
    )


def one_sample(x, threshold: float, direction: str = ">", label: str = "", conf: float = CONF) -> Result:
    """mean(x) against `threshold` with the t interval (scipy.stats.ttest_1samp)."""
    x = _clean(x)
    rule = _rule(direction, threshold, "mean")
    if len(x) < 2:
        return Result(
            INCONCLUSIVE,
            float(x.mean()) if len(x) else math.nan,
            math.nan,
            math.nan,
            len(x),
            "t",
            rule,
            label=label,
            direction=direction,
        )
    if _flat(x):
        return replace(
            _point(float(x.iloc[0]), len(x), "t (no spread)", rule, threshold, direction), label=label
        )
    ci = stats.ttest_1samp(x.to_numpy(), threshold).confidence_interval(conf)
    lo, hi = float(ci.low), float(ci.high)
    return Result(
        decide(lo, hi, threshold, direction),
        float(x.mean()),
        lo,
        hi,
        len(x),
        "t",
        rule,
        conf,
        label=label,
        threshold=threshold,
        direction=direction,
    )


def equivalence(
    a, b, margin: float, paired: bool | None = None, label: str = "", alpha: float = ALPHA
) -> Result:
    """TOST: is |mean(a) − mean(b)| < margin? Two one-sided t tests at ±margin (each at `alpha`).

    The interval shown is the (1 − 2·alpha) interval of the difference: reproduced when it lies inside
    (−margin, margin) (both one-sided tests reject), not reproduced when it lies wholly outside
    [−margin, margin], inconclusive otherwise.

    Args:
        a, b: Per-seed values (pairing as in `difference`); `b` may be a number (one-sample TOST).
        margin: δ > 0.
        paired: As in `difference`.
        label: Shown before the interval in composite rows.
        alpha: Level of each one-sided test.

    Returns:
        Result
    """
    if margin <= 0:
        raise ValueError("margin must be > 0")
    a = _clean(a)
    rule = f"|Δ| < {margin:g}"
    conf = 1 - 2 * alpha
    if np.isscalar(b):
        x, n, method = a.to_numpy() - float(b), len(a), "TOST (one sample)"
        test = "1samp"
    else:
        b = _clean(b)
        common = _shared(a, b) if paired is not False else None
        if common is not None:
            x, n, method, test = (a[common] - b[common]).to_numpy(), len(common), "TOST paired", "1samp"
        else:
            x, n, method, test = None, min(len(a), len(b)), "TOST Welch", "welch"
    if n < 2:
        return Result(INCONCLUSIVE, math.nan, math.nan, math.nan, n, method, rule, conf, label=label)
    if test == "1samp":
        est = float(x.mean())
        if _flat(x):
            lo = hi = est
            p_tost = 0.0 if abs(est) < margin else 1.0
        else:
            p_tost = max(
                stats.ttest_1samp(x, -margin, alternative="greater").pvalue,
                stats.ttest_1samp(x, margin, alternative="less").pvalue,
            )
            ci = stats.ttest_1samp(x, 0.0).confidence_interval(conf)
            lo, hi = float(ci.low), float(ci.high)
    else:
        av, bv = a.to_numpy(), b.to_numpy()
        est = float(av.mean() - bv.mean())
        if _flat(av) and _flat(bv):
            lo = hi = est
            p_tost = 0.0 if abs(est) < margin else 1.0
        else:
            p_tost = max(
                stats.ttest_ind(av + margin, bv, equal_var=False, alternative="greater").pvalue,
                stats.ttest_ind(av - margin, bv, equal_var=False, alternative="less").pvalue,
            )
            ci = stats.ttest_ind(av, bv, equal_var=False).confidence_interval(conf)
            lo, hi = float(ci.low), float(ci.high)
    outside = lo > margin or hi < -margin
    outcome = REPRODUCED if p_tost < alpha else NOT_REPRODUCED if outside else INCONCLUSIVE
    return Result(
        outcome, est, lo, hi, n, method, rule, conf, label=label, threshold=margin, equivalence=True
    )


def noninferior(
    a, b, margin: float, paired: bool | None = None, label: str = "", alpha: float = ALPHA
) -> Result:
    """ "a is no worse than b": mean(a) − mean(b) < margin, where larger is worse (an error).

    The upper one-sided test of TOST (at `alpha`), shown as the (1 − 2·alpha) interval: reproduced when its
    upper end is below `margin`, not reproduced when its lower end is above it, inconclusive otherwise. A
    large improvement passes (an equivalence test would fail it).
    """
    if margin <= 0:
        raise ValueError("margin must be > 0")
    r = difference(a, b, margin, "<", paired, label, conf=1 - 2 * alpha)
    return replace(
        r,
        method=r.method.replace("paired t", "paired t, one-sided").replace("Welch t", "Welch t, one-sided"),
        rule=f"Δ < {margin:g} (no worse)",
    )


def bootstrap(
    samples: Sequence,
    statistic: Callable[..., float],
    threshold: float = math.nan,
    direction: str = ">",
    paired: bool = False,
    label: str = "",
    what: str = "stat",
    conf: float = CONF,
    n_resamples: int = N_RESAMPLES,
    band: tuple[float, float] | None = None,
) -> Result:
    """A ratio, slope or fitted quantity against `threshold`, with a percentile bootstrap interval.

    Args:
        samples: One array per arm (per-seed values, or seed indices that `statistic` maps to data).
        statistic: f(*samples) -> float, evaluated on the data and on every resample.
        threshold, direction: As in `difference`.
        paired: Resample the arms together (they share seeds, same length).
        label, what: Labels for the row.
        conf: Confidence level.
        n_resamples: Bootstrap resamples (the generator is seeded: the table is reproducible).
        band: (lo, hi) for "the statistic lies in [lo, hi]" claims: judged like an equivalence test on the
            (1 − 2·0.05) = 90 % interval: reproduced inside the band, not reproduced wholly outside it.

    With few seeds (n ≤ 5) a percentile bootstrap has few distinct resamples and its interval is narrow for
    its level; the tables say n beside every interval.

    Returns:
        Result (method "bootstrap").
    """
    samples = [np.asarray(s, dtype=float) for s in samples]
    n = min(len(s) for s in samples)
    est = float(statistic(*samples))
    if band is not None:
        band = tuple(band)
        rule, level, side = f"{what} in ({band[0]:g}, {band[1]:g})", 1 - 2 * ALPHA, {"band": band}
        edge = band[0] if abs(est - band[0]) < abs(band[1] - est) else band[1]  # the boundary that decides it
    else:
        rule, level, side, edge = _rule(direction, threshold, what), conf, {"direction": direction}, threshold
    if n < MIN_BOOT_N:  # 2 seeds give 3 distinct resamples: no interval worth the name
        first = threshold if band is None else band[0]
        return Result(
            INCONCLUSIVE, est, math.nan, math.nan, n, TOO_FEW, rule, label=label, threshold=first, **side
        )
    flat = all(_flat(s) for s in samples)
    if flat and band is None:
        return replace(_point(est, n, "bootstrap (no spread)", rule, threshold, direction), label=label)
    lo, hi = (est, est) if flat else _percentile(samples, statistic, level, paired, n_resamples)
    outcome = in_band(lo, hi, band) if band is not None else decide(lo, hi, threshold, direction)
    return Result(outcome, est, lo, hi, n, "bootstrap", rule, level, label=label, threshold=edge, **side)


def _percentile(samples, statistic, level: float, paired: bool, n_resamples: int) -> tuple[float, float]:
    """scipy.stats.bootstrap's percentile interval (seeded generator: the tables are reproducible)."""
    res = stats.bootstrap(
        tuple(samples),
        statistic,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        paired=paired,
        vectorized=False,
        rng=np.random.default_rng(0),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def in_band(lo: float, hi: float, band: tuple[float, float]) -> str:
    """The outcome of an interval [lo, hi] for "lies in the band": reproduced inside it, not reproduced wholly
    outside it, inconclusive otherwise (and for NaN bounds)."""
    if not lo <= hi:
        return INCONCLUSIVE
    if band[0] < lo and hi < band[1]:
        return REPRODUCED
    return NOT_REPRODUCED if hi < band[0] or lo > band[1] else INCONCLUSIVE


def exact(
    value: float,
    threshold: float,
    direction: str = ">",
    label: str = "",
    what: str = "value",
    equivalence_margin: float | None = None,
) -> Result:
    """A deterministic quantity (counted, modelled): the interval is the point.

    With `equivalence_margin`, the claim is |value − threshold| < margin (relative tolerances are turned
    into absolute ones by the caller).
    """
    if equivalence_margin is not None:
        band = (threshold - equivalence_margin, threshold + equivalence_margin)
        inside = abs(value - threshold) < equivalence_margin
        return _exact_in(value, inside, f"|{what} − {threshold:g}| < {equivalence_margin:g}", label, band)
    return replace(
        _point(value, 1, "exact", _rule(direction, threshold, what), threshold, direction), label=label
    )


def exact_band(value: float, band: tuple[float, float], what: str = "value", label: str = "") -> Result:
    """A deterministic quantity that the claim places in the band (lo, hi): the interval is the point."""
    lo, hi = band
    return _exact_in(value, lo < value < hi, f"{what} in ({lo:g}, {hi:g})", label, (lo, hi), threshold=lo)


def _exact_in(value: float, inside: bool, rule: str, label: str, band: tuple, threshold=math.nan) -> Result:
    """An exact result for "the value lies in `band`": reproduced inside, not reproduced outside."""
    outcome = REPRODUCED if inside else NOT_REPRODUCED
    return Result(outcome, value, value, value, 1, "exact", rule, label=label, threshold=threshold, band=band)


def censored_bound(result: Result, why: str) -> Result:
    """`result` computed on a censored quantity (e.g. an optimum at its grid's edge: a bound, not a
    measurement): it cannot be reproduced, so a reproduced result becomes inconclusive (issue 31)."""
    out = INCONCLUSIVE if result.outcome == REPRODUCED else result.outcome
    return replace(result, outcome=out, method=f"{result.method}, censored: {why}")


def at_least(result: Result, censored: bool) -> Result:
    """`result` computed from lower bounds (seeds censored at a budget): a claim that the statistic is
    large can still be reproduced, but "not reproduced" is not safe and becomes inconclusive."""
    if censored and result.outcome == NOT_REPRODUCED:
        return replace(result, outcome=INCONCLUSIVE, method=result.method + ", censored: lower bound")
    return replace(result, method=result.method + ", censored: lower bound") if censored else result


def all_of(parts: Sequence[Result], label: str = "") -> Result:
    """A claim needing every part: reproduced if all are, not reproduced if any is not, else inconclusive."""
    outs = [p.outcome for p in parts]
    if outs and all(o == REPRODUCED for o in outs):
        return _composite(parts, REPRODUCED, label, any_=False)
    return _composite(parts, NOT_REPRODUCED if NOT_REPRODUCED in outs else INCONCLUSIVE, label, any_=False)


def any_of(parts: Sequence[Result], label: str = "") -> Result:
    """A claim that needs one part ("some kn"): reproduced if any part is, not reproduced if every part
    is not, inconclusive otherwise."""
    outs = [p.outcome for p in parts]
    if REPRODUCED in outs:
        return _composite(parts, REPRODUCED, label, any_=True)
    every_not = outs and all(o == NOT_REPRODUCED for o in outs)
    return _composite(parts, NOT_REPRODUCED if every_not else INCONCLUSIVE, label, any_=True)


def _composite(parts: Sequence[Result], outcome: str, label: str, any_: bool) -> Result:
    """The composite Result: the part that sets the verdict (`_binding`) carries its estimate and interval."""
    parts = tuple(parts)
    if not parts:
        return Result(INCONCLUSIVE, math.nan, math.nan, math.nan, 0, "none", "", label=label)
    key = _binding(parts, outcome, any_)
    return Result(
        outcome,
        key.estimate,
        key.lo,
        key.hi,
        _n_of(parts),
        ("any of: " if any_ else "all of: ") + key.method,
        (" or " if any_ else " and ").join(dict.fromkeys(p.rule for p in parts)),
        key.level,
        parts,
        label,
        threshold=key.threshold,
        equivalence=key.equivalence,
        direction=key.direction,
        band=key.band,
    )


def _n_of(parts) -> int:
    """Seeds of a composite: the smallest n among its parts measured on seeds (exact parts have none)."""
    ns = [p.n for p in parts if not p.method.startswith("exact")]
    return min(ns) if ns else min(p.n for p in parts)


def distance(result: Result) -> float:
    """How far the estimate lies from the boundary that decides it (for the seeds to decide it)."""
    if result.parts:
        ds = [distance(p) for p in result.parts if p.outcome != REPRODUCED]
        return min(ds) if ds else min(distance(p) for p in result.parts)
    if result.equivalence:
        return abs(result.threshold - abs(result.estimate))
    return abs(result.estimate - result.threshold)


def seeds_needed(result: Result, target_half_width: float, cap: int = SEED_CAP) -> int | None:
    """Seeds per arm that bring `result`'s interval half-width below `target_half_width`.

    The half-width is scaled as t_(n−1) / √n from the current n (the spread is taken as it is now).

    Returns:
        int: the smallest n ≤ cap that suffices (≥ the current n), or None when even `cap` does not
        (or the current interval has no finite width).
    """
    if result.parts:
        ns = [
            seeds_needed(p, target_half_width, cap)
            for p in result.parts
            if p.outcome != REPRODUCED or p.method.startswith(("exact",))
        ]
        if any(n is None for n in ns):
            return None
        return max([result.n, *[n for n in ns if n is not None]])
    if result.method.startswith("exact"):
        return result.n
    hw, n0 = result.half_width, result.n
    if not (math.isfinite(hw) and n0 >= 2 and target_half_width > 0):
        return None
    if hw == 0 or hw < target_half_width:
        return n0
    q = 1 - (1 - result.level) / 2
    t0 = stats.t.ppf(q, n0 - 1)
    for n in range(max(n0, 2), cap + 1):
        if hw * math.sqrt(n0 / n) * stats.t.ppf(q, n - 1) / t0 < target_half_width:
            return n
    return None
