"""The studies' package is installed as `largebatch_experiments` (from experiments/), not as a generic
top-level `experiments`; its subpackages are found here, so a new study directory needs no listing.
Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup

STUDIES = sorted(d.name for d in Path("experiments").iterdir() if (d / "__init__.py").is_file())
setup(
    packages=["largebatch", "largebatch_experiments", *(f"largebatch_experiments.{s}" for s in STUDIES)],
    package_dir={"largebatch": "src/largebatch", "largebatch_experiments": "experiments"},
    package_data={"largebatch_experiments": ["*.md", "*/*.csv", "*/*.toml", "*/*.txt", "*/*.md"]},
)
