"""Goyal et al. (arXiv 1706.02677): linear scaling rule with gradual warmup; see README.md."""
