"""Benchmarks (tables and plots, not pass/fail); a package so that its code imports as
``bench.evidence...`` from the repository root: ``python3 -m bench.evidence``, ``python -m bench.demo``."""
