"""Gradient-noise measurement: tr(Sigma), |G|^2, B_simple and Smith & Le's noise scale g.

Symbols (McCandlish et al., arXiv 1812.06162, §2 and App. A). G is the true (full-data) gradient of
the data loss, Sigma the per-example gradient covariance, G_B a minibatch gradient of B examples:

    E|G_B|^2 = |G|^2 + tr(Sigma)/B                                      (App. A, eq. A.1)
    B_simple = tr(Sigma) / |G|^2                                          (eq. 2.8)

Estimators (each unbiased for |G|^2 and tr(Sigma); the ratio is not, hence the EMA of each):
  * per_example: exact per-example gradients g_i (torch.func vmap(grad)), mean g_bar over B:
        tr(Sigma) ~ 1/(B-1) sum |g_i - g_bar|^2,    |G|^2 ~ |g_bar|^2 - tr(Sigma)/B
    BN-free models only (BN couples the examples of a batch).
  * two_batch (App. A): |G_small|^2 of gradients over B_small examples (a worker's gradient before
    the allreduce, or a virtual worker's micro-batch before accumulation) and |G_big|^2 over B_big:
        |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
        tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)
  * EMA: bias-corrected exponential averages of |G|^2 and tr(Sigma) separately; B_simple is the
    ratio of the averages (App. A.1). State round-trips through checkpoints.
Smith & Le (arXiv 1710.06451, eq. 7): g = eps (N/B - 1) / (1 - m)  ~  eps N / (B (1 - m)) for B << N.
Only the data-loss gradient is measured: weight decay lives in the optimizer, no clipping or loss
scaling is applied, so p.grad is exactly the data-loss gradient here.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as tdist
from torch import nn

from . import dist as D
from .dist import allreduce_bucket_async
from .errors import ConfigError
from .models import has_batchnorm


def two_batch_estimate(g2_small, g2_big, b_small: float, b_big: float):
    """(|G|^2, tr(Sigma)) from mean squared norms at two batch sizes (McCandlish App. A)."""
    if not b_small < b_big:
        raise ValueError(
            f"two-batch estimator needs B_small < B_big, got B_small={b_small}, "
            f"B_big={b_big}: use more workers (or micro-batches) per step"
        )
    g2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small)
    trace_sigma = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big)
    return g2, trace_sigma


def per_example_estimate(grads: list[torch.Tensor]):
    """(|G|^2, tr(Sigma)) per tensor from per-example gradients, each of shape (B, *param.shape).

    Uses sum_i |g_i - g_bar|^2 = sum_i |g_i|^2 - B |g_bar|^2, with the sums in float64.
    """
    g2s, trs = [], []
    for g in grads:
        B = g.shape[0]
        flat = g.reshape(B, -1)
        sq = torch.linalg.vector_norm(flat, dim=1).double().pow(2).sum()
        mean_sq = torch.linalg.vector_norm(flat.mean(0)).double().pow(2)
        tr = (sq - B * mean_sq) / (B - 1)
        trs.append(tr)
        g2s.append(mean_sq - tr / B)
    return torch.stack(g2s), torch.stack(trs)


def per_example_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None):
    """Per-example gradients of loss_fn(model(x_i), y_i) for every parameter (torch.func)."""
    from torch.func import functional_call, grad, vmap

    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) and model.training:
        raise ValueError(
            "per-example gradients need a BN-free model: BatchNorm in train mode couples "
            "the examples of a batch; use noise_estimator=two_batch instead"
        )
    loss_fn = loss_fn or (lambda out, t: nn.functional.cross_entropy(out, t))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}

    def one(p, xi, yi):
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    g = vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
    return [g[n] for n in names]


def linear_only(model: nn.Module) -> bool:
    """True if every trainable parameter belongs to an nn.Linear (the fast per-example path applies)."""
    owned = {id(p) for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters(recurse=False)}
    return all(id(p) in owned for p in model.parameters() if p.requires_grad)


def per_example_estimate_linear(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """(|G|^2, tr(Sigma)) per parameter for Linear-only models without materialising g_i.

    For y_i = W a_i + b the per-example gradients are delta_i a_i^T and delta_i, so
    |g_i|^2 = |delta_i|^2 |a_i|^2 for W and |delta_i|^2 for b (Goodfellow, arXiv 1510.01799); one
    backward of the summed loss gives every delta_i and the mean gradient.
    """
    sq, hooks = {}, []

    def fwd(mod, inp, out):
        a2 = inp[0].detach().pow(2).sum(1).double()

        def grad_hook(gout):
            d2 = gout.detach().pow(2).sum(1).double()
            sq[mod.weight] = (d2 * a2).sum()
            if mod.bias is not None:
                sq[mod.bias] = d2.sum()

        out.register_hook(grad_hook)
        return out.clone()  # an in-place op after the layer (ReLU) must not touch the hooked tensor

    for m in model.modules():
        if isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fwd))
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.grad for p in params]
    try:
        for p in params:
            p.grad = None
        with torch.enable_grad():
            nn.functional.cross_entropy(model(x), y, reduction="sum").backward()
        B = len(y)
        g2s, trs = [], []
        for p in params:
            mean_sq = torch.linalg.vector_norm(p.grad / B).double().pow(2)
            tr = (sq[p] - B * mean_sq) / (B - 1)
            trs.append(tr)
            g2s.append(mean_sq - tr / B)
    finally:
        for h in hooks:
            h.remove()
        for p, g in zip(params, saved):
            p.grad = g
    return torch.stack(g2s), torch.stack(trs)


def temperature_g(lr: float, n_train: int, batch: int, momentum: float = 0.0, exact: bool = True):
    """Smith & Le's noise scale g = eps (N/B - 1)/(1 - m); exact=False gives eps N / (B (1 - m))."""
    core = (n_train / batch - 1.0) if exact else n_train / batch
    return lr * core / (1.0 - momentum)


def b_simple(trace_sigma: float, g2: float) -> float:
    return trace_sigma / g2 if g2 != 0 else float("inf")


def cosine(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Cosine similarity (coherence) of two gradients given as lists of tensors."""
    dot = sum((x.double() * y.double()).sum() for x, y in zip(a, b))
    na = math.sqrt(sum(x.double().pow(2).sum() for x in a))
    nb = math.sqrt(sum(y.double().pow(2).sum() for y in b))
    return float(dot / (na * nb)) if na > 0 and nb > 0 else float("nan")


class NoiseEMA:
    """Bias-corrected EMAs of |G|^2 and tr(Sigma); B_simple = ratio of the averages."""

    def __init__(self, decay: float = 0.0):
        self.decay, self.t, self.s_g2, self.s_tr = decay, 0, 0.0, 0.0

    def update(self, g2: float, trace_sigma: float) -> dict:
        d = self.decay
        self.t += 1
        self.s_g2 = d * self.s_g2 + (1 - d) * g2
        self.s_tr = d * self.s_tr + (1 - d) * trace_sigma
        corr = 1 - d**self.t if d > 0 else 1.0
        g2c, trc = self.s_g2 / corr, self.s_tr / corr
        return {"g2": g2c, "trace_sigma": trc, "b_simple": b_simple(trc, g2c)}

    def state_dict(self) -> dict:
        return {"decay": self.decay, "t": self.t, "s_g2": self.s_g2, "s_tr": self.s_tr}

    def load_state_dict(self, s: dict) -> None:
        self.decay, self.t, self.s_g2, self.s_tr = s["decay"], s["t"], s["s_g2"], s["s_tr"]


class _HookState:
    def __init__(self, inner, names: dict, piggyback: bool):
        self.inner, self.names, self.active, self.sq = inner, names, False, {}
        self.piggyback = piggyback  # fp32 allreduce: the norms ride in the gradient buckets
        self.extra, self.extra_out = None, None  # NoiseMeter.carry's vector, sent / summed (last bucket)


def _measuring_hook(state: _HookState, bucket):
    """DDP comm hook: squared norms of this rank's local gradients, then the usual allreduce.

    With the plain fp32 allreduce the squared norms (and, in the last bucket, the vector given to
    NoiseMeter.carry) are appended to the bucket and reduced with it: a measuring step adds no collective.
    Under an fp16/bf16 compression hook the norms are kept here and NoiseMeter.end reduces them in one
    small allreduce."""
    if not state.active:
        return state.inner(None, bucket) if state.inner is not None else _plain(bucket.buffer())
    norms = torch._foreach_norm(bucket.gradients())
    names = [state.names[id(p)] for p in bucket.parameters()]
    if not state.piggyback:
        for name, nrm in zip(names, norms):  # squared (in float64) later, in one op for all
            state.sq[name] = nrm
        return state.inner(None, bucket) if state.inner is not None else _plain(bucket.buffer())
    ws = tdist.get_world_size()
    buf = bucket.buffer()
    extra = state.extra if bucket.is_last() else None
    parts = [buf, torch.stack(norms).to(buf.dtype).pow(2)]
    if extra is not None:
        parts.append(extra.to(buf.dtype))
    flat = torch.cat(parts).div_(ws)
    n, k = buf.numel(), len(norms)

    def unpack(fut):
        out = fut.value()[0]
        buf.copy_(out[:n])
        for name, v in zip(names, out[n : n + k]):
            state.sq[name] = v  # already the mean over ranks of |g_local|^2
        if extra is not None:
            state.extra_out = out[n + k :].double() * ws
        return buf

    return tdist.all_reduce(flat, async_op=True).get_future().then(unpack)


def _plain(buf):
    return allreduce_bucket_async(buf)


class NoiseMeter:
    """Trainer integration: measures on steps where step % noise_every_steps == 0.

    A measuring step: begin(model, k); per micro-step the forward/backward, after_micro(...); carry(totals)
    before the last backward pass; end(...) -> (record, totals summed over ranks). The meter owns its one
    reduction: under DDP (comm_hook) it rides in the gradient allreduce where it can, and the trainer's
    vector rides with it, so a measuring step costs no collective of the trainer's own."""

    def __init__(self, cfg, res, model: nn.Module):
        self.cfg, self.res = cfg, res
        self.names = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
        self.ema = NoiseEMA(cfg.noise_ema)
        self.hook_state = None  # set by comm_hook (DDP); None: one process, micro-batch measurement
        self._carried = None
        if cfg.noise_estimator == "per_example":
            if has_batchnorm(model):
                raise ConfigError(
                    f"noise_estimator=per_example: model={cfg.model!r} has BatchNorm; "
                    "per-example gradients need a BN-free model, use noise_estimator=two_batch"
                )

    def comm_hook(self, inner):
        piggy = inner is None and self.cfg.noise_estimator == "two_batch"
        self.hook_state = _HookState(inner, self.names, piggy)
        return _measuring_hook, self.hook_state

    def micro_steps(self, k: int) -> int:
        """Micro-steps on a measuring step (k otherwise): in one process >= 2 so that B_small < B_big."""
        if self.hook_state is not None or self.cfg.noise_estimator == "per_example" or k > 1:
            return k
        v = self.res.workers_per_process
        return max(d for d in range(1, min(v, 16) + 1) if v % d == 0)

    def begin(self, model: nn.Module, k: int) -> None:
        self.k, self._prev, self._sq, self._carried = k, None, {}, None
        if self.hook_state is not None:
            st = self.hook_state
            st.active, st.sq, st.extra, st.extra_out = True, {}, None, None

    def carry(self, totals: torch.Tensor) -> None:
        """Send `totals` (a float64 vector, e.g. the train-loss sum and count) in this measuring step's
        reduction; `end` returns it summed over ranks. Call it before the step's last backward pass: with
        the fp32 DDP allreduce it rides in the gradient buckets, otherwise in `end`'s small allreduce."""
        if self.hook_state is not None and self.hook_state.piggyback:
            self.hook_state.extra = totals
        else:
            self._carried = totals

    @torch.no_grad()
    def after_micro(self, model: nn.Module, i: int, mm: int, b: int) -> None:
        """Single process: the micro-batch gradient is the change of the accumulated .grad (a no-op
        under DDP, where the comm hook sees each rank's gradient)."""
        if self.hook_state is not None or self.cfg.noise_estimator == "per_example":
            return
        ps = [p for p in model.parameters() if p.grad is not None]
        cur = [p.grad for p in ps]
        diff = cur if self._prev is None else torch._foreach_sub(cur, self._prev)
        for p, nrm in zip(ps, torch._foreach_norm(diff)):
            key = self.names[id(p)]
            self._sq[key] = self._sq.get(key, 0.0) + (nrm.double() * (b / mm)).pow(2)
        self._prev = [c.clone() for c in cur] if i < self.k - 1 else None

    def _per_example(self, model, x, y):
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        if linear_only(model):  # exact and cheap: no per-example gradient is materialised
            g2, tr = per_example_estimate_linear(model, x, y)
        else:
            cap = min(len(y), 256)
            g2, tr = per_example_estimate(per_example_grads(model, x[:cap], y[:cap]))
        return dict(zip(names, g2)), dict(zip(names, tr))

    @torch.no_grad()
    def end(self, model: nn.Module, lr: float, batch=None) -> tuple[dict, torch.Tensor | None]:
        """Estimate from this step's gradients: (the noise/* metrics record, the vector given to `carry`
        summed over ranks, or None). The carried vector shares the meter's one reduction (the gradient
        allreduce itself under DDP with fp32 communication, else one small allreduce here)."""
        cfg, res = self.cfg, self.res
        extra = self._carried

        def reduce_mean(vec: torch.Tensor) -> torch.Tensor:
            nonlocal extra
            if extra is None:
                return D.all_reduce_mean_(vec)
            both = D.all_reduce_sum_(torch.cat([vec.double(), extra.double().to(vec.device)]))
            extra = both[vec.numel() :]
            return both[: vec.numel()] / D.world_size()

        names = [n for n, p in model.named_parameters() if p.requires_grad]
        params = dict(model.named_parameters())
        if cfg.noise_estimator == "per_example":
            with torch.enable_grad():
                g2_l, tr_l = self._per_example(model, *batch)
            vec = reduce_mean(torch.stack([g2_l[n] for n in names] + [tr_l[n] for n in names]))
            g2_l = dict(zip(names, vec[: len(names)].tolist()))
            tr_l = dict(zip(names, vec[len(names) :].tolist()))
        else:
            st = self.hook_state
            if st is not None and st.piggyback:  # DDP: reduced with the gradients already
                st.active = False
                b_small = res.per_process_batch
                vec = torch.stack([st.sq[n] for n in names]).double()
                extra = st.extra_out
            elif st is not None:  # DDP under a compression hook: this rank's norms, reduced here
                st.active = False
                b_small = res.per_process_batch
                vec = reduce_mean(torch.stack([st.sq[n] for n in names]).double().pow(2))
            else:
                b_small = res.per_process_batch // self.k
                vec = reduce_mean(
                    torch.stack([torch.as_tensor(self._sq[n], dtype=torch.float64) for n in names]) / self.k
                )
            big = torch.stack(torch._foreach_norm([params[n].grad for n in names])).double().pow(2)
            g2v, trv = two_batch_estimate(vec.cpu(), big.cpu(), b_small, cfg.global_batch)
            g2_l, tr_l = dict(zip(names, g2v.tolist())), dict(zip(names, trv.tolist()))
        g2, tr = sum(g2_l.values()), sum(tr_l.values())
        sm = self.ema.update(g2, tr)
        rec = {
            "noise/g2": sm["g2"],
            "noise/trace_sigma": sm["trace_sigma"],
            "noise/b_simple": sm["b_simple"],
            "noise/g2_raw": g2,
            "noise/trace_sigma_raw": tr,
            "noise/temperature_g": temperature_g(
                lr, res.train_examples, cfg.global_batch, cfg.momentum if cfg.optimizer == "sgd" else 0.0
            ),
        }
        for n in names:
            rec[f"noise_layer/{n}/b_simple"] = b_simple(tr_l[n], g2_l[n])
        self._carried = None
        return rec, extra

    def state_dict(self) -> dict:
        return {"ema": self.ema.state_dict()}

    def load_state_dict(self, s: dict) -> None:
        self.ema.load_state_dict(s["ema"])
