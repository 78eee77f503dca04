"""Benchmarks: the real daemon against the tools a print shop would use instead (issue #7).

Run ``make bench`` (full) or ``make bench-quick`` (about a minute); see bench/RESULTS.md for the
method and the figures. Entry point: ``python -m bench`` from the repository root.
"""
