"""Checks of the results pipeline (`largebatch.results`, `largebatch.report`) on fake data in tmp_path, < 2 s.

What is checked: `load_runs` flattens config / resolved / meta / summary fields into one row per complete run
(incomplete runs only on request, a clashing summary field kept apart); `load_curves` gives one row per
metrics.jsonl record with its run_id, skips a line cut short by a kill and merges chosen config columns;
`write_csv_atomic` writes the same bytes whatever the row order, drops duplicate rows, and leaves the old
file intact and no temporary file when the write fails; `steps_to_result` and `mean_std_n` on hand cases;
the report table from a fake claims module, the README block rewrite and `--check`.

Run: cd /work/main && OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/test_results.py
"""

import json
import math
import sys
import types

import pandas as pd
import pytest

import experiments
from largebatch import report
from largebatch import verdict as V
from largebatch.results import (
    best_over,
    fmt_mean_std,
    fmt_num,
    load_curves,
    load_runs,
    markdown_table,
    mean_std_n,
    replace_block,
    steps_to_result,
    write_csv_atomic,
)


def _run(root, rid, batch, acc, complete=True, seed=0):
    d = root / "demo" / rid
    d.mkdir(parents=True)
    cfg = {
        "config": {
            "study": "demo",
            "global_batch": batch,
            "seed": seed,
            "adam_betas": [0.9, 0.999],
            "device": "auto",
        },
        "resolved": {"world_size": 2, "lr_peak": 0.1 * batch / 256},
        "run_id": rid,
        "device": "cpu",
    }
    (d / "config.json").write_text(json.dumps(cfg))
    recs = [{"step": s, "train/loss": 1.0 / s} for s in (10, 20, 30)]
    recs += [{"step": 20, "test/acc": acc / 2}, {"step": 30, "test/acc": acc}]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"step": 40, "tra')
    if complete:
        summ = {"run_id": rid, "study": "demo", "status": "complete", "final_test_acc": acc, "seed": 7}
        (d / "summary.json").write_text(json.dumps(summ))


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    _run(root, "demo-bbbb-s0", 512, 0.8)
    _run(root, "demo-aaaa-s0", 256, 0.9)
    _run(root, "demo-cccc-s0", 1024, 0.5, complete=False)
    return root


def test_load_runs_one_row_per_complete_run(runs):
    df = load_runs("demo", runs)
    assert list(df["run_id"]) == ["demo-aaaa-s0", "demo-bbbb-s0"]
    assert list(df["global_batch"]) == [256, 512]
    assert list(df["resolved.world_size"]) == [2, 2] and list(df["meta.device"]) == ["cpu", "cpu"]
    assert list(df["device"]) == ["auto", "auto"]  # the config field, not the run's device
    assert list(df["final_test_acc"]) == [0.9, 0.8] and list(df["status"]) == ["complete"] * 2
    assert list(df["seed"]) == [0, 0] and list(df["summary.seed"]) == [7, 7]  # a clash stays apart
    assert df["adam_betas"].iloc[0] == "[0.9, 0.999]"
    assert len(load_runs("demo", runs, complete_only=False)) == 3
    assert load_runs("missing", runs).empty


def test_load_curves_one_row_per_record(runs):
    c = load_curves("demo", runs, config_cols=("global_batch",))
    assert len(c) == 3 * 5  # the cut-off last line of each file is skipped
    assert list(c.columns[:2]) == ["run_id", "step"]
    assert c.groupby("run_id")["global_batch"].first().to_dict() == {
        "demo-aaaa-s0": 256,
        "demo-bbbb-s0": 512,
        "demo-cccc-s0": 1024,
    }
    assert c["step"].is_monotonic_increasing is False and c["run_id"].is_monotonic_increasing
    assert load_curves("missing", runs).empty


def test_write_csv_atomic_is_deterministic_and_drops_duplicates(tmp_path):
    nan = float("nan")
    df = pd.DataFrame({"b": [2, 1, 10, 1], "a": ["x", "y", "z", "y"], "v": [0.5, nan, 1.0, nan]})
    p1 = write_csv_atomic(df, tmp_path / "one" / "t.csv")
    p2 = write_csv_atomic(df.sample(frac=1, random_state=3), tmp_path / "two.csv")
    assert p1.read_bytes() == p2.read_bytes()
    back = pd.read_csv(p1)
    assert list(back.columns) == ["b", "a", "v"]  # column order kept
    assert list(back["b"]) == [1, 2, 10]  # numeric sort, duplicate row dropped


def test_write_csv_atomic_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = write_csv_atomic(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    old = path.read_bytes()

    def broken(self, target, **kw):
        with open(target, "w") as f:
            f.write("a\n1\n2")  # half a file, then the disk fills
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        write_csv_atomic(pd.DataFrame({"a": [1, 2, 3]}), path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_steps_to_result_hand_case():
    c = pd.DataFrame(
        {
            "run_id": ["r1"] * 4 + ["r2"] * 3 + ["r3"],
            "step": [10, 20, 30, 40, 10, 20, 30, 10],
            "acc": [0.1, 0.5, float("nan"), 0.7, 0.6, 0.2, 0.9, 0.1],
        }
    )
    s = steps_to_result(c, "acc", 0.55)
    assert s["r1"] == 40 and s["r2"] == 10 and math.isnan(s["r3"])
    low = steps_to_result(c.assign(loss=1 - c["acc"]), "loss", 0.45, higher_is_better=False)
    assert low.to_dict() == pytest.approx({"r1": 40.0, "r2": 10.0, "r3": float("nan")}, nan_ok=True)


def test_mean_std_n_and_formatting():
    m, s, n = mean_std_n([1.0, 2.0, 3.0, float("nan")])
    assert (m, n) == (2.0, 3) and s == pytest.approx(1.0)
    assert math.isnan(mean_std_n([4.0])[1]) and mean_std_n([])[2] == 0
    assert fmt_mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00 (n=3)"
    assert fmt_mean_std([0.5], 1) == "0.5 (n=1)" and fmt_mean_std([]) == "–"
    assert fmt_num(89610.0) == "89,610" and fmt_num(0.30673) == "0.3067" and fmt_num(float("nan")) == ""


def test_best_over_picks_best_nuisance_per_group():
    df = pd.DataFrame({"B": [1, 1, 2, 2], "lr": [0.1, 0.2, 0.1, 0.2], "acc": [0.5, 0.7, 0.9, 0.3]})
    assert best_over(df, "acc", ["B"])[["B", "lr"]].values.tolist() == [[1, 0.2], [2, 0.1]]


def test_markdown_and_blocks():
    md = markdown_table(pd.DataFrame({"x": ["a|b"], "y": [float("nan")]}))
    assert md.splitlines() == ["| x | y |", "|---|---|", "| a\\|b |  |"]
    text = "top\n<!-- t:start -->\nold\n<!-- t:end -->\nbottom\n"
    assert replace_block(text, "new", "t") == "top\n<!-- t:start -->\nnew\n<!-- t:end -->\nbottom\n"
    with pytest.raises(ValueError):
        replace_block("no markers", "new", "t")


FAKE_TOML = """
[[claim]]
id = "acc"
claim = "accuracy above 90 %"
paper = "90 %"
test = "one_sample"
direction = ">"
threshold = 90.0
figure = "paper_figures/fake.png"

[[claim]]
id = "time"
claim = "time | hardware"
paper = "3 min"
test = "exploratory"
figure = ""
"""


@pytest.fixture
def fake_study(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"acc": [0.95, 0.96, 0.97]}).to_csv(data / "fakestudy.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(data / "nostudy_xyz.csv", index=False)  # no claims module: skipped

    def claims(data_dir):
        acc = pd.read_csv(data_dir / "fakestudy.csv")["acc"] * 100
        return [
            {"id": "acc", "ours": fmt_mean_std(acc, 2) + " %", "result": V.one_sample(acc, 90.0, ">")},
            {"id": "time", "ours": "1 min", "result": None},
        ]

    # a study is a directory (largebatch.study); its claims module is the stand-in put in sys.modules
    pkg = tmp_path / "experiments" / "fakestudy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "claims.py").write_text("")
    (pkg / "claims.toml").write_text(FAKE_TOML)
    monkeypatch.setattr(experiments, "__path__", [*experiments.__path__, str(pkg.parent)])
    monkeypatch.setitem(sys.modules, "experiments.fakestudy.claims", types.SimpleNamespace(claims=claims))
    return data


def test_report_table_from_fake_claims(fake_study, tmp_path):
    rows = report.collect_claims(fake_study, root=tmp_path)
    assert [(r["study"], r["id"], r["outcome"]) for r in rows] == [
        ("fakestudy", "acc", V.REPRODUCED),
        ("fakestudy", "time", V.EXPLORATORY),
    ]
    table = report.render_table(rows)
    # counts (the claim is not in git: post hoc)
    assert "| `fakestudy` | 1 | 0 | 0 | 0 | 0 | 0 | 1 | 1 |" in table
    assert (
        "| accuracy above 90 % | 90 % | 96.00 ± 1.00 (n=3) % | reproduced | 96.00 [93.52, 98.48] (t; "
        in table
    )
    assert "`uncommitted` **post hoc**" in table
    assert "| time \\| hardware | 3 min | 1 min | *exploratory* |" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.START}\nstale\n{report.END}\n\nmore\n")
    args = ["--root", str(tmp_path), "--data_dir", str(fake_study)]
    assert report.main([*args, "--check"]) == 1
    assert report.main(args) == 0
    assert report.current_table(readme.read_text()) == table and readme.read_text().endswith("\n\nmore\n")
    assert report.main([*args, "--check"]) == 0
    readme.write_text("# no markers\n")
    assert report.main(args) == 1 and readme.read_text() == "# no markers\n"


def test_report_rejects_bad_rows(fake_study, monkeypatch, tmp_path):
    bad = types.SimpleNamespace(claims=lambda d: [{"id": "acc", "ours": "o"}])  # no result
    monkeypatch.setitem(sys.modules, "experiments.fakestudy.claims", bad)
    with pytest.raises(ValueError, match="fakestudy"):
        report.collect_claims(fake_study, root=tmp_path)
    unknown = types.SimpleNamespace(claims=lambda d: [{"id": "nope", "ours": "o", "result": None}])
    monkeypatch.setitem(sys.modules, "experiments.fakestudy.claims", unknown)
    with pytest.raises(ValueError, match="not in"):
        report.collect_claims(fake_study, root=tmp_path)


def test_errorbar_by_draws_mean_and_std_with_n(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from largebatch import plots

    df = pd.DataFrame(
        {
            "B": [256, 256, 1024, 1024, 256, 1024],
            "acc": [0.8, 0.9, 0.6, 0.7, 0.5, 0.5],
            "opt": ["sgd"] * 4 + ["lars"] * 2,
        }
    )
    fig, ax = plots.new_figure()
    plots.errorbar_by(ax, df, "B", "acc", hue="opt", logx=True)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["lars (n=1)", "sgd (n=2)"]  # string hue values alone, no "opt=" prefix
    sgd = ax.containers[1].lines[0]
    assert list(sgd.get_ydata()) == pytest.approx([0.85, 0.65]) and ax.get_xscale() == "log"
    paths = plots.save(fig, "t", tmp_path)
    assert [p.name for p in paths] == ["t.png", "t.pdf"] and all(p.stat().st_size > 0 for p in paths)
