"""Functions run inside spawned gloo ranks (module level, so spawn can pickle them)."""

from largebatch.config import make_config
from largebatch.trainer import train


def train_params(d, cfg_kwargs: dict, data):
    """Train on `d`'s world and return the final state_dict (params and BN buffers) as tensors."""
    cfg = make_config(**cfg_kwargs)
    _, model = train(cfg, data=data, dist=d, return_model=True)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def noise_record(d, cfg_kwargs: dict, data):
    """Train with the noise meter on and return the first noise record from metrics.jsonl."""
    import json

    from largebatch.trainer import run_dir

    cfg = make_config(**cfg_kwargs)
    train(cfg, data=data, dist=d)
    if d is not None and d.rank != 0:
        return None
    recs = [json.loads(line) for line in (run_dir(cfg) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in recs if "noise/b_simple" in r]


def train_records(d, cfg_kwargs: dict, data):
    """Train; return (rank 0's metrics records, this rank's final state_dict)."""
    import json

    from largebatch.trainer import run_dir

    cfg = make_config(**cfg_kwargs)
    _, model = train(cfg, data=data, dist=d, return_model=True)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if d is not None and d.rank != 0:
        return None, state
    return [json.loads(line) for line in (run_dir(cfg) / "metrics.jsonl").read_text().splitlines()], state
