"""The scale-model rule: a proxy setting that keeps a paper's dimensionless numbers, not its epochs.

A large-batch result depends on a handful of ratios (docs/papers.md; McCandlish et al., arXiv
1812.06162): the batch against the problem's noise scale, the steps the largest batch gets against the
fewest the problem needs, and every schedule phase against the optimizer time constants it interacts with.
Mapping a 90-epoch ImageNet schedule onto 60k examples *by epochs* keeps none of them (B = 8192 gets 7
steps per epoch). `scale()` derives the proxy instead from

    batches     B_proxy = B_paper * (ref_proxy / ref_paper)        ref_paper: the paper's elbow (Goyal 8k);
                                                                   ref_proxy: the proxy's measured B_simple
    epochs      E_proxy = steps_largest * B_L / N_proxy            every arm shares the example budget, as
                                                                   in the papers; steps_largest is what the
                                                                   budget affords at the largest batch B_L
    phases      phase_proxy (epochs) = phase_paper * E_proxy / E_paper, i.e. the same fraction of the run,
                and so the same fraction of every batch's steps
    constants   a decay constant mu with time constant tau = 1 / (1 - mu) steps is either kept, or scaled
                so that tau / (phase it interacts with) is the paper's: tau' = tau * S_L,proxy / S_L,paper

Given the paper's own dataset and reference batch and the paper's step count, `scale()` returns the paper's
setting unchanged (tested). `table()` lays paper and proxy side by side in steps for the study READMEs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


def steps_per_epoch(n: int, batch: int) -> int:
    """floor(N / B): the core drops an epoch's last partial batch (config.resolve)."""
    return n // batch


def total_steps(n: int, batch: int, epochs: float) -> int:
    """round(E * floor(N / B)), as config.resolve counts them."""
    return int(round(epochs * steps_per_epoch(n, batch)))


def time_constant(decay: float) -> float:
    """tau = 1 / (1 - mu) steps: the memory of an exponential average with decay mu."""
    return 1.0 / (1.0 - decay)


def decay_for(tau: float) -> float:
    """The decay mu whose time constant is tau steps (tau >= 1)."""
    if tau < 1:
        raise ValueError(f"time constant {tau} < 1 step: no exponential average is that short")
    return 1.0 - 1.0 / tau


@dataclass(frozen=True)
class Regime:
    """A training setting in the units that govern large-batch training.

    Args:
        name: Label for tables ("Akiba et al. 32k", "proxy").
        train_examples: N, examples per epoch.
        epochs: E, the example budget shared by every arm, in epochs.
        batches: The batch ladder; the last entry is the largest batch B_L.
        ref_batch: The batch the ladder is measured against (paper: its elbow; proxy: measured B_simple).
        phases: Named schedule boundaries and lengths in epochs (warmup 5, beta_center 10, ...).
        decays: Named optimizer decay constants (momentum 0.9, rms_decay 0.99).
        interacts: For each decay, the phase it must stay short against (its ratio is kept when scaled).
    """

    name: str
    train_examples: int
    epochs: float
    batches: tuple[int, ...]
    ref_batch: float
    phases: dict = field(default_factory=dict)
    decays: dict = field(default_factory=dict)
    interacts: dict = field(default_factory=dict)
    equal_examples: bool = False  # steps = E N / B (TrainConfig.equal_examples), not E floor(N / B)

    @property
    def largest(self) -> int:
        return max(self.batches)

    def steps(self, batch: int) -> int:
        if self.equal_examples:
            return int(round(self.epochs * self.train_examples / batch))
        return total_steps(self.train_examples, batch, self.epochs)

    def steps_per_epoch(self, batch: int) -> float:
        return (
            self.train_examples / batch
            if self.equal_examples
            else steps_per_epoch(self.train_examples, batch)
        )

    def phase_steps(self, phase: str, batch: int) -> float:
        """A phase in optimizer steps at `batch`."""
        return self.phases[phase] * self.steps_per_epoch(batch)


def scale(
    paper: Regime,
    train_examples: int,
    ref_batch: float,
    steps_largest: int,
    multiple: int = 1,
    scale_decays: tuple[str, ...] = (),
    pinned: dict | None = None,
    name: str = "proxy",
    epochs: float | None = None,
    equal_examples: bool = False,
) -> Regime:
    """The proxy of `paper` on a dataset of `train_examples` whose reference batch is `ref_batch`.

    Args:
        paper: The paper's regime.
        train_examples: N of the proxy's dataset.
        ref_batch: The proxy's measured reference batch (B_simple at the study's target loss).
        steps_largest: Optimizer steps the largest proxy batch gets (the paper's own count keeps its regime;
            a budget may afford fewer: say so).
        multiple: Round every proxy batch to a multiple of this (processes x per-worker batch).
        scale_decays: Decays whose time constant is scaled with the run (tau' = tau * S_proxy / S_paper at
            the largest batch); the others are kept as the paper has them.
        pinned: {paper batch: proxy batch} set by the study instead of the rule (say why; e.g. a small-batch
            baseline kept where its steps are affordable, far below the reference batch either way).
        name: Label of the result.
        epochs: The proxy's budget, when it is chosen rather than derived (the failure batch B* measured at
            that budget is then the reference, and steps_largest is ignored: the largest batch gets what the
            budget gives it).
        equal_examples: Count steps as E N / B (every batch sees E N examples).

    Returns:
        Regime: batches, epochs and phases of the proxy; `decays` holds the proxy's constants.

    Raises:
        ValueError: a batch rounds to 0 or exceeds the proxy's dataset, or a scaled time constant < 1 step.
    """
    k = ref_batch / paper.ref_batch
    batches = tuple(
        (pinned or {}).get(b, max(multiple, int(round(b * k / multiple)) * multiple)) for b in paper.batches
    )
    if max(batches) > train_examples:
        raise ValueError(f"largest proxy batch {max(batches)} exceeds the proxy's N = {train_examples}")
    bl = max(batches)
    spe = train_examples / bl if equal_examples else steps_per_epoch(train_examples, bl)
    if epochs is None:
        epochs = steps_largest / spe
    else:
        steps_largest = epochs * spe
    ratio = steps_largest / paper.steps(paper.largest)
    decays = dict(paper.decays)
    for d in scale_decays:
        decays[d] = decay_for(time_constant(paper.decays[d]) * ratio)
    phases = {p: v * epochs / paper.epochs for p, v in paper.phases.items()}
    return replace(
        paper,
        name=name,
        train_examples=train_examples,
        epochs=epochs,
        batches=batches,
        ref_batch=ref_batch,
        phases=phases,
        decays=decays,
        equal_examples=equal_examples,
    )


def table(paper: Regime, proxy: Regime, notes: dict | None = None) -> list[dict]:
    """Paper vs proxy in the units that matter, one row per quantity (for markdown rendering).

    Rows: examples, epochs, each batch as B / ref and its steps, each phase in steps at the largest batch,
    each decay's time constant and its ratio to the phase it interacts with.
    """

    def row(what, p, q, note=""):
        return {"quantity": what, paper.name: p, proxy.name: q, "note": (notes or {}).get(what, note)}

    out = [
        row("training examples N", f"{paper.train_examples:,}", f"{proxy.train_examples:,}"),
        row("epochs E (every arm)", f"{paper.epochs:g}", f"{proxy.epochs:.2f}"),
        row("reference batch (elbow / B_simple)", f"{paper.ref_batch:,.0f}", f"{proxy.ref_batch:,.0f}"),
    ]
    for bp, bq in zip(paper.batches, proxy.batches):
        out.append(
            row(
                f"batch {bp:,} → {bq:,}: B / ref",
                f"{bp / paper.ref_batch:.3g}",
                f"{bq / proxy.ref_batch:.3g}",
            )
        )
        out.append(row(f"batch {bp:,} → {bq:,}: steps", f"{paper.steps(bp):,}", f"{proxy.steps(bq):,}"))
    for ph in paper.phases:
        out.append(
            row(
                f"{ph} (steps at the largest batch)",
                f"{paper.phase_steps(ph, paper.largest):,.0f}",
                f"{proxy.phase_steps(ph, proxy.largest):,.0f}",
            )
        )
    for d, mu in paper.decays.items():
        tp, tq = time_constant(mu), time_constant(proxy.decays[d])
        out.append(
            row(
                f"{d}: decay (time constant, steps)",
                f"{mu:g} ({tp:.0f})",
                f"{proxy.decays[d]:.4g} ({tq:.1f})",
            )
        )
        ph = paper.interacts.get(d)
        if ph:
            out.append(
                row(
                    f"{ph} / time constant of {d}",
                    f"{paper.phase_steps(ph, paper.largest) / tp:.1f}",
                    f"{proxy.phase_steps(ph, proxy.largest) / tq:.1f}",
                )
            )
    return out


__all__ = ["Regime", "scale", "table", "steps_per_epoch", "total_steps", "time_constant", "decay_for"]
