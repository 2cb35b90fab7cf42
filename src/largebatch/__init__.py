"""largebatch: reproductions of large-minibatch data-parallel SGD results on one shared core.

The package has two halves (tests/test_imports.py lists them and checks that the core never imports the
harness):

The training core: one run, from a TrainConfig to its run directory.
    config, runid, validate, errors   the run's configuration, its id, its checks
    data, models, registry            datasets and models by name (studies register their own)
    dist, trainer                     torch.distributed and the training loop
    optim, lars, rmsprop_warmup, schedules   optimizers and learning-rate schedules
    noise, staleness, replay, bn_stats       the hooks the studies measure with
    metrics, progress, flops          what a run writes and shows
    cmdline, paths                    command-line parsing, where the repository's files are

The reproduction harness: studies, their runs, their claims and the README.
    study, cli, train, sweep, jobs, reproduce   find a study, run its grid (one run, a sweep, everything)
    runs, tables, csvcheck, results, formatting runs to committed CSVs, numbers to markdown
    claims, verdict, prereg, report    claims as registered functions, judged, dated, written to the README
    plots, figures                     figures from the CSVs (notebooks)
    recipes, scales, calibration, bstar, proxies, scalemodel   what more than one study uses

experiments/README.md shows how a study plugs into both: one directory with its config (the grid of
TrainConfigs the core runs), its collect step, its claims (claims.toml and one registered function per
claim) and its notebook.
"""

__version__ = "0.1.0"
