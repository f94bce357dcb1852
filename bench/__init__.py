"""Benchmarks: `python -m bench [AREA ...]` writes bench/results/<area>.json for each area."""
