"""B* probes: where each proxy's plain large-batch recipe fails (calibration seeds, never judged)."""
