#!/usr/bin/env python3
"""Profiles one step of a PyTorch twin (Benchmarks/pytorch_reference.py) with torch.profiler and
prints the operators that take the most CPU time and allocate the most memory (self), forward and
backward together (backward operators are named `...Backward...`).

    python3 Benchmarks/profile_pytorch.py factorized-small [--threads 2] [--rows 15]
"""
import argparse
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_reference as ref  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=sorted(ref.WORKLOADS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", type=int, default=15)
    p.add_argument("--mouse", default=None)
    p.add_argument("--runs", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    step, _ = ref.WORKLOADS[args.workload](args)
    step()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=48))
    print(averages.table(sort_by="self_cpu_memory_usage", row_limit=args.rows, max_name_column_width=48))


if __name__ == "__main__":
    main()
