"""Benchmark: cold start, latency, memory, size and cost of the function across runtimes.

`make bench` plans the runs (`plan`), builds each runtime's bundle and model (`bundles`,
`models`, `convert`), measures them under the RIE (`measure`, `run`, `engine_adapter`) and
writes `benchmarks/` with its figures (`report`), which lesson 13 reads.

May import: serverless_dl.base, serverless_dl.function, serverless_dl.data,
serverless_dl.aws.
"""
