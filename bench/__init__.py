"""Benchmarks of issue 7: NH send throughput, pipeline throughput, registration latency, cost against audience size.

Run ``python -m bench`` (``--quick`` for a reduced run); each run writes docs/benchmarks.md and its plots.
"""
