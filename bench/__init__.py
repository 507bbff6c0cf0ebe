"""Benchmarks. `python -m bench` runs the harness (harness.py); the other scripts print single figures."""
