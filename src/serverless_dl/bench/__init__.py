"""Benchmark: cold start, latency, memory, size and cost of the function across runtimes."""
