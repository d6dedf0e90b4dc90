#!/usr/bin/env python3
"""Profiles steps of a PyTorch twin (Benchmarks/pytorch_reference.py) with torch.profiler and splits
the CPU time of the calling thread into forward, backward and optimizer, per operation:

- forward: per (innermost nn.Module class, top-level aten operator), e.g. `ParallelBlock / aten::linear`
  (module scopes come from forward hooks that open a `record_function` named after the class);
- backward: per autograd node (`AddmmBackward0`, `NativeLayerNormBackward0`, ...), the operators it ran
  included;
- optimizer: `Optimizer.step` and `zero_grad`.

Self times are summed, so every microsecond is counted once; shares are of the profiled total.

    python3 Benchmarks/profile_pytorch_phases.py vivit-step [--threads 2] [--steps 3] [--rows 30]
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
        if not a.name.startswith(SCOPE):
            op = a.name
    return "forward", f"{module} / {op}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=sorted(ref.WORKLOADS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rows", type=int, default=30)
    p.add_argument("--mouse", default=None)
    p.add_argument("--runs", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    step, _ = ref.WORKLOADS[args.workload](args)
    add_module_scopes()
    step()  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
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


if __name__ == "__main__":
    main()
