"""Controlled parameter staleness in the training core: the gradient applied at step t is taken at w_{t-tau}.

Simulates asynchronous SGD inside the synchronous core (Dai et al., arXiv 1810.03264, §3; docs/papers.md):

    before(step):  push the current state w_t (parameters and buffers) into a ring of the last s+1
                   states, draw tau_t, load w_{t - tau_t} into the model;
    (the trainer's forward/backward: p.grad = the gradient at the stale state, on a fresh batch)
    after(...):    optionally take the fresh gradient at w_t on the same batch and record its cosine
                   with the stale one (gradient coherence, Dai et al. §4), restore w_t, and scale the
                   step's lr by 1/max(tau_t, 1) (staleness-aware lr, Zhang et al., arXiv 1511.05950);
                   the optimizer then applies the stale gradient to w_t.

tau_t by `staleness`: none (0) | fixed (s) | uniform (Uniform{0..s}, Dai) | roundrobin (P = s+1
equal-speed workers updating in turn: tau = P-1, the same draws as fixed) | replay (i.i.d. from a
measured histogram: `staleness_replay` = CSV with columns staleness,count, optionally `path#name` to
keep the rows whose `staleness_dist` column equals name). Always tau_t <= t: before step 0 there is
no state, so the first steps use w_0, as P workers that start together. Draws come from a private
generator seeded by cfg.seed alone: the global RNG stream is untouched and every rank draws the same
tau_t. BN: running statistics are part of the snapshot; the stale forward uses batch statistics
(training mode), which the trainer folds into the restored, current running averages after the step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import dist as D
from .models import ghost_bns
from .noise import cosine
from .replay import load_replay

MODES = ("none", "fixed", "uniform", "roundrobin", "replay")
_SEED_OFFSET = 0x5EED  # the tau stream differs from the data/init streams of the same seed


class Staleness:
    """Ring buffer of past states, tau draws, coherence and the staleness-aware lr (see module doc)."""

    def __init__(self, cfg, model: nn.Module):
        self.mode, self.lr_rule, self.every = cfg.staleness, cfg.staleness_lr, cfg.log_coherence_every_steps
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.state = list(model.parameters()) + list(model.buffers())
        self.probs = None
        if self.mode == "replay":
            hist = load_replay(cfg.staleness_replay)
            self.s = max(hist)
            self.probs = torch.zeros(self.s + 1, dtype=torch.float64)
            for tau, c in hist.items():
                self.probs[tau] = c
        else:
            self.s = 0 if self.mode == "none" else cfg.staleness_max
        self.gen = torch.Generator().manual_seed(cfg.seed + _SEED_OFFSET)
        self.ring = [[t.detach().clone() for t in self.state] for _ in range(self.s + 1)]
        self.counts = torch.zeros(self.s + 1, dtype=torch.int64)
        self.coh = torch.zeros(4, dtype=torch.float64)  # sum, n over measured steps; sum, n with tau > 0
        self.tau, self.step = 0, 0

    def draw(self, step: int) -> int:
        """tau_t for `step` (one draw per step, so the stream is a function of the step)."""
        if self.mode == "uniform":
            tau = int(torch.randint(0, self.s + 1, (1,), generator=self.gen))
        elif self.mode == "replay":
            tau = int(torch.multinomial(self.probs, 1, generator=self.gen))
        else:
            tau = self.s
        return min(tau, step)

    @torch.no_grad()
    def before(self, step: int, model: nn.Module) -> None:
        """Store w_step in the ring and load w_{step - tau} for the forward/backward that follows."""
        self.step, slot = step, step % (self.s + 1)
        torch._foreach_copy_(self.ring[slot], [t.detach() for t in self.state])
        self.tau = self.draw(step)
        self.counts[self.tau] += 1
        if self.tau:
            torch._foreach_copy_([t.data for t in self.state], self.ring[(step - self.tau) % (self.s + 1)])

    def after(self, model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> dict:
        """Restore w_t (keeping p.grad), log coherence when due, apply the staleness-aware lr."""
        measure = self.every > 0 and (self.step + 1) % self.every == 0  # logged with step+1's eval
        stale = (
            [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
            if measure and self.tau
            else None
        )
        if self.tau:
            with torch.no_grad():
                torch._foreach_copy_([t.data for t in self.state], self.ring[self.step % (self.s + 1)])
        if self.lr_rule == "inverse":
            for g in opt.param_groups:
                g["lr"] = g["lr"] / max(self.tau, 1)
        if not measure:
            return {}
        coh = 1.0 if not self.tau else self._coherence(model, stale, x, y)
        if math.isfinite(coh):
            self.coh += torch.tensor(
                [coh, 1.0, coh if self.tau else 0.0, 1.0 if self.tau else 0.0], dtype=torch.float64
            )
        return {"stale/tau": self.tau, "stale/coherence": coh}

    def _coherence(self, model: nn.Module, stale: list, x: torch.Tensor, y: torch.Tensor) -> float:
        """cos(stale gradient, fresh gradient at w_t on the same batch); BN statistics left untouched."""
        bns = ghost_bns(model)
        saved = [bn._acc for bn in bns]
        for bn in bns:
            bn._acc = None
        loss = F.cross_entropy(model(x), y, reduction="sum") / len(y)
        fresh = torch.autograd.grad(loss, self.params, allow_unused=True)
        fresh = [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(self.params, fresh)]
        for bn, acc in zip(bns, saved):
            bn._acc = acc
        for g in fresh:
            D.all_reduce_mean_(g)  # the stale gradient is the rank average after DDP
        return cosine(stale, fresh)

    def summary(self) -> dict:
        n = int(self.counts.sum())
        taus = torch.arange(self.s + 1, dtype=torch.float64)
        c = self.coh.tolist()
        return {
            "staleness_mean": float((taus * self.counts).sum() / n) if n else None,
            "staleness_max_seen": int(taus[self.counts > 0].max()) if n else None,
            "coherence_mean": c[0] / c[1] if c[1] else None,
            "coherence_mean_stale": c[2] / c[3] if c[3] else None,
            "staleness_counts": self.counts.tolist(),
        }

    def state_dict(self) -> dict:
        return {"ring": self.ring, "gen": self.gen.get_state(), "counts": self.counts, "coh": self.coh}

    def load_state_dict(self, s: dict) -> None:
        for dst, src in zip(self.ring, s["ring"]):
            torch._foreach_copy_(dst, [t.to(dst[0].device) for t in src])
        self.gen.set_state(s["gen"])
        self.counts, self.coh = s["counts"].clone(), s["coh"].clone()


def build_staleness(cfg, model: nn.Module) -> Staleness | None:
    """The trainer's staleness hook, or None when off (the default: the core is untouched)."""
    if cfg.staleness == "none" and cfg.log_coherence_every_steps == 0:
        return None
    return Staleness(cfg, model)
