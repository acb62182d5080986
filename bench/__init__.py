"""Benchmarks that print ratios (CONVENTIONS.md); run them as ``python -m bench.<name>``."""
