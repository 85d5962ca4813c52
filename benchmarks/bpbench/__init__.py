"""Helpers of ``benchmarks/bench_train.py``: the workloads, the peer trainers,
the FANN binding, the timing harness and the report. Not part of bpcore."""
