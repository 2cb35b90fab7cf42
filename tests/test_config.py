"""resolve(): batch accounting, lr rules, and the one-line errors for bad input.

Run: `pytest tests/test_config.py`.
"""

import math

import pytest

from largebatch.config import ConfigError, TrainConfig, make_config, parse_overrides, resolve, run_id


def test_batch_accounting():
    r = resolve(make_config(global_batch=8192, per_worker_batch=32, micro_batch=1024), world_size=2)
    assert (r.workers_per_process, r.workers, r.per_process_batch, r.accum_steps) == (128, 256, 4096, 4)
    assert r.steps_per_epoch == 60000 // 8192


@pytest.mark.parametrize("rule,expect", [("linear", 0.1 * 32), ("sqrt", 0.1 * math.sqrt(32)), ("none", 0.1)])
def test_lr_rules(rule, expect):
    r = resolve(make_config(global_batch=8192, lr_base=0.1, lr_base_batch=256, lr_scaling=rule))
    assert r.lr_peak == pytest.approx(expect)


def test_overrides_are_typed():
    o = parse_overrides(
        [
            "--global_batch=512",
            "--lr_base=0.2",
            "--nesterov=true",
            "--decay_milestones_epochs=30,60,80",
            "--model=resnet_small",
        ]
    )
    assert o == {
        "global_batch": 512,
        "lr_base": 0.2,
        "nesterov": True,
        "decay_milestones_epochs": (30.0, 60.0, 80.0),
        "model": "resnet_small",
    }


@pytest.mark.parametrize(
    "kw,ws,field",
    [
        (dict(global_batch=100), 1, "global_batch"),
        (dict(global_batch=96, per_worker_batch=32), 2, "global_batch"),
        (dict(lr_base=-0.1), 1, "lr_base"),
        (dict(micro_batch=48), 1, "micro_batch"),
        (dict(warmup="gradual"), 1, "warmup"),
        (dict(decay="step"), 1, "decay"),
        (dict(lr_scaling="cubic"), 1, "lr_scaling"),
        (dict(global_batch=131072), 1, "global_batch"),
    ],
)
def test_bad_values_name_the_field(kw, ws, field):
    with pytest.raises(ConfigError, match=field):
        resolve(make_config(**kw), world_size=ws)


def test_unknown_key_and_bad_type():
    with pytest.raises(ConfigError, match="unknown config key 'batch_size'"):
        parse_overrides(["--batch_size=3"])
    with pytest.raises(ConfigError, match="global_batch"):
        parse_overrides(["--global_batch=big"])


def test_run_id_is_deterministic_and_ignores_paths():
    a = make_config(seed=3)
    assert run_id(a) == run_id(make_config(seed=3, out_dir="/elsewhere")) != run_id(make_config(seed=4))
    assert run_id(a).endswith("-s3") and run_id(TrainConfig()) != run_id(make_config(lr_base=0.2))


def test_equal_examples_counts_steps_by_examples():
    """With drop_last a batch of 22,784 on 60,000 examples gets 2 steps an epoch (24 % fewer examples);
    equal_examples gives every batch E N / B steps, and warmup and milestones in examples too."""
    from largebatch.config import resolve

    kw = dict(global_batch=22784, per_worker_batch=32, epochs=65, warmup="gradual", warmup_epochs=65 * 5 / 90)
    plain = resolve(make_config(**kw), n_train=60000)
    equal = resolve(make_config(**kw, equal_examples=True), n_train=60000)
    assert plain.total_steps == 130 and plain.total_steps * 22784 < 0.77 * 65 * 60000
    assert equal.total_steps == round(65 * 60000 / 22784) == 171
    assert equal.steps_per_epoch == 60000 / 22784 and equal.warmup_steps == round(65 * 5 / 90 * 60000 / 22784)
    assert equal.eval_every_steps == 2
