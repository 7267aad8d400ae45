"""The benchmark harness: the real service under load, next to same-run baselines."""
