#!/usr/bin/env python3
"""Profiles steps of a PyTorch twin (Benchmarks/pytorch_reference.py) with torch.profiler.

Default (operator tables): the operators that take the most CPU time and allocate the most memory
(self), forward and backward together (backward operators are named `...Backward...`).

With `--phases`: the CPU time of the calling thread split into forward, backward and optimizer, per
operation:

- forward: per (innermost nn.Module class, top-level aten operator), e.g. `ParallelBlock / aten::linear`
  (module scopes come from forward hooks that open a `record_function` named after the class);
- backward: per autograd node (`AddmmBackward0`, `NativeLayerNormBackward0`, ...), the operators it ran
  included;
- optimizer: `Optimizer.step` and `zero_grad`.

Self times are summed, so every microsecond is counted once; shares are of the profiled total.

    python3 Benchmarks/profile_pytorch.py factorized-small [--threads 2] [--steps 1] [--rows 15]
    python3 Benchmarks/profile_pytorch.py vivit-step --phases [--threads 2] [--steps 3] [--rows 30]
"""
import argparse
import collections
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_reference as ref  # noqa: E402

SCOPE = "module::"


def add_module_scopes():
    """Every nn.Module call opens a record_function named after its class while it runs."""
    stack = []

    def pre(module, _inputs):
        scope = record_function(SCOPE + type(module).__name__)
        scope.__enter__()
        stack.append(scope)

    def post(_module, _inputs, _output):
        stack.pop().__exit__(None, None, None)

    torch.nn.modules.module.register_module_forward_pre_hook(pre)
    torch.nn.modules.module.register_module_forward_hook(post)


def classify(event):
    """(phase, category) of one event from its ancestors."""
    chain = []
    e = event
    while e is not None:
        chain.append(e)
        e = e.cpu_parent
    for a in chain:
        if a.name.startswith("autograd::engine::evaluate_function: "):
            return "backward", a.name.split(": ", 1)[1]
        if a.name.startswith("Optimizer."):
            return "optimizer", a.name.split("#")[0]
    # Forward: the innermost module scope and the outermost aten operator below it.
    module, op = "(top level)", None
    for a in chain:
        if a.name.startswith(SCOPE):
            module = a.name[len(SCOPE):]
            break
        op = a.name
    return "forward", f"{module} / {op}"


def print_operator_tables(prof, rows):
    """The operators with the most self CPU time, then with the most self memory."""
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=48))
    print(averages.table(sort_by="self_cpu_memory_usage", row_limit=rows, max_name_column_width=48))


def print_phases(prof, args):
    """Markdown tables of the calling thread's self time per phase and operation, per step."""
    totals = collections.defaultdict(float)
    phases = collections.defaultdict(float)
    for e in prof.events():
        if e.name.startswith(SCOPE):
            continue  # scopes have their own (tiny) self time; their children carry the work
        phase, category = classify(e)
        totals[(phase, category)] += e.self_cpu_time_total
        phases[phase] += e.self_cpu_time_total
    grand = sum(phases.values())
    print(f"# {args.workload}: {args.steps} steps, {args.threads} threads, calling-thread self time "
          f"{grand / 1e3 / args.steps:.1f} ms per step")
    for phase in ("forward", "backward", "optimizer"):
        print(f"\n## {phase}: {phases[phase] / 1e3 / args.steps:.1f} ms per step ({100 * phases[phase] / grand:.1f} %)\n")
        print("| operation | ms per step | share of step |")
        print("|---|---|---|")
        rows = sorted(((v, k[1]) for k, v in totals.items() if k[0] == phase), reverse=True)
        for v, name in rows[:args.rows]:
            print(f"| {name} | {v / 1e3 / args.steps:.1f} | {100 * v / grand:.1f} % |")
        rest = sum(v for v, _ in rows[args.rows:])
        if rest:
            print(f"| (the other {len(rows) - args.rows}) | {rest / 1e3 / args.steps:.1f} | {100 * rest / grand:.1f} % |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=sorted(ref.WORKLOADS))
    p.add_argument("--phases", action="store_true",
                   help="split the calling thread's time into forward / backward / optimizer per operation")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="profiled steps (default 1, with --phases 3)")
    p.add_argument("--rows", type=int, default=None, help="rows per table (default 15, with --phases 30)")
    p.add_argument("--mouse", default=None)
    p.add_argument("--runs", type=int, default=None)
    args = p.parse_args()
    if args.steps is None:
        args.steps = 3 if args.phases else 1
    if args.rows is None:
        args.rows = 30 if args.phases else 15
    torch.set_num_threads(args.threads)
    step, _ = ref.WORKLOADS[args.workload](args)
    if args.phases:
        add_module_scopes()
    step()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], profile_memory=not args.phases) as prof:
        for _ in range(args.steps):
            step()
    if args.phases:
        print_phases(prof, args)
    else:
        print_operator_tables(prof, args.rows)


if __name__ == "__main__":
    main()
