#!/usr/bin/env python3
"""Splits a `perf record -g` profile of `sensorium-bench <training workload>` into forward, backward
and optimizer time per SDK operation, like `Benchmarks/profile_pytorch.py --phases` does for the twin.

    OPENBLAS_NUM_THREADS=2 perf record -F 999 -g -o perf.data .build/release/sensorium-bench vivit-step --runs 5
    python3 Benchmarks/perf_by_operation.py perf.data [--rows 30] [--binary-name sensorium-bench]

Every sample is one slice of CPU time of one thread. A sample of the main thread is classified by its
own stack: inside the timed step closure it is `backward` when `Tensor.backward` is on the stack,
`optimizer` when an optimizer's `step` is, else `forward`; the operation is the outermost frame of
SensoriumTensor or SensoriumReadouts (a free function or a `Tensor` method: `linear`, `layerNorm`,
`Tensor.+`, ...) below the autodiff driver; in backward that is the operation's backward closure.
The forward pass also names the innermost layer (`ParallelTransformerBlock`, `ViViTTokenizer`, ...).
Worker threads (Dispatch workers, OpenBLAS threads) run pieces of whatever the main thread is doing,
so their samples take the class of the main thread's sample nearest in time (within 3 ms); OpenBLAS
threads waiting for work (`sched_yield`) are counted apart. Samples outside the step (model set-up)
are left out. Needs `perf` and `swift demangle` on the PATH.
"""
import argparse
import bisect
import collections
import re
import subprocess
import sys

SPIN = ("sched_yield", "do_sched_yield", "__schedule", "schedule", "do_syscall_64", "__x64_sys_sched_yield",
        "entry_SYSCALL_64_after_hwframe", "finish_task_switch.isra.0", "_raw_spin_unlock_irqrestore", "x64_sys_call",
        "__sched_yield")
STEP = re.compile(r"Model\.callAsFunction|^Tensor\.backward$|Loss\.callAsFunction|Optimizer\.step$|\.zeroGrad$")
CLOSURE = re.compile(r"^(?:specialized |merged |partial apply for |reabstraction thunk helper from |@objc )*"
                     r"(?:(?:implicit )?closure #\d+ in )+")


def demangle(symbols):
    out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(symbols), capture_output=True,
                         text=True).stdout.split("\n")
    full = subprocess.run(["swift", "demangle"], input="\n".join(symbols), capture_output=True,
                          text=True).stdout.split("\n")
    return {s: (out[i], full[i]) for i, s in enumerate(symbols)}


def owner(simple):
    """`closure #1 in closure #2 in layerNorm(_:...)` -> `layerNorm`; `static Tensor.+ infix(...)` -> `Tensor.+`."""
    s = CLOSURE.sub("", simple)
    s = re.sub(r"^(specialized |static |merged |generic specialization <[^>]*> of )+", "", s)
    s = s.split("(")[0].split("<")[0].strip()
    return s.replace(" infix", "").replace(" prefix", "")


def parse(path):
    text = subprocess.run(["perf", "script", "-i", path, "-F", "tid,time,ip,sym"], capture_output=True,
                          text=True).stdout
    samples = []
    for block in text.split("\n\n"):
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines:
            continue
        head = lines[0].split()
        tid, time = int(head[0]), float(head[1].rstrip(":"))
        frames = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "?" for l in lines[1:]]
        samples.append((tid, time, frames))
    return samples


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--rows", type=int, default=30)
    p.add_argument("--steps", type=int, default=None, help="divide by this many steps (ms per step)")
    args = p.parse_args()
    samples = parse(args.data)
    symbols = sorted({f for _, _, fr in samples for f in fr if f.startswith("$s")})
    names = demangle(symbols)
    main_tid = min(t for t, _, _ in samples)  # the process's first thread (tid == pid)

    def classify_main(frames):
        """(phase, operation, layer) or None outside the step."""
        simple = [names.get(f, (f, f)) for f in frames]
        owners = [owner(s) for s, _ in simple]
        if not any(STEP.search(o) for o in owners):
            # Outside the step (set-up), or a stack cut short: decided by the neighbours.
            return "unknown" if not any(o.endswith("Step") for o in owners) else None
        phase = "forward"
        op, layer = None, None
        # Walk from the root towards the leaf.
        after_backward = False
        for (s, full), raw in zip(reversed(simple), reversed(frames)):
            o = owner(s)
            if o.startswith(("thunk", "reabstraction", "protocol witness")):
                continue
            if o == "Tensor.backward":
                phase, op, after_backward = "backward", None, True
                continue
            if after_backward:
                # The recorded operation's backward closure (or the gradient sum `Tensor.+`).
                op, after_backward = o, False
                continue
            if re.search(r"(AdamW|SGD|Adam|Optimizer)\w*\.step", o) or o.endswith("Optimizer.step"):
                phase = "optimizer"
            if op is None and (raw.startswith("$s15SensoriumTensor") or raw.startswith("$s17SensoriumReadouts")):
                if "." not in o or o.startswith("Tensor.") or o.startswith("MatmulKernel"):
                    op = o
            if phase == "forward" and op is None and (raw.startswith("$s15SensoriumLayers") or
                                                      raw.startswith("$s17SensoriumReadouts") or
                                                      raw.startswith("$s9Sensorium")):
                if "." in o:
                    layer = o.split(".")[0]
        if op is None:
            leaf = names.get(frames[0], (frames[0], ""))[0] if frames else "?"
            op = "(no operation on the stack: " + owner(leaf) + ")" if phase != "optimizer" else "optimizer step"
        return phase, op, (layer if phase == "forward" else None)

    main_samples = []
    for tid, time, frames in samples:
        if tid == main_tid:
            main_samples.append((time, classify_main(frames), frames))
    # Samples with a stack cut short take the class of the nearest main-thread sample that has one.
    known = [i for i, (_, c, _) in enumerate(main_samples) if c != "unknown"]
    known_times = [main_samples[i][0] for i in known]
    for i, (time, c, frames) in enumerate(main_samples):
        if c == "unknown":
            j = bisect.bisect_left(known_times, time)
            near = [k for k in (j - 1, j) if 0 <= k < len(known)]
            k = min(near, key=lambda k: abs(known_times[k] - time)) if near else None
            fill = main_samples[known[k]][1] if k is not None and abs(known_times[k] - time) < 0.003 else None
            main_samples[i] = (time, fill, frames)
    main_times = [t for t, _, _ in main_samples]

    totals = collections.Counter()
    per_thread = collections.Counter()
    for tid, time, frames in samples:
        if tid == main_tid:
            c = main_samples[bisect.bisect_left(main_times, time)][1]
            if c is None:
                continue
            kind = "main"
        else:
            i = bisect.bisect_left(main_times, time)
            best = None
            for j in (i - 1, i):
                if 0 <= j < len(main_times) and abs(main_times[j] - time) < 0.003:
                    if best is None or abs(main_times[j] - time) < abs(main_times[best] - time):
                        best = j
            if best is None or main_samples[best][1] is None:
                continue
            c = main_samples[best][1]
            leaf = frames[0] if frames else "?"
            kind = "worker"
            if leaf in SPIN or any(f in ("__sched_yield",) for f in frames[:8]):
                c = ("idle", "OpenBLAS/worker threads waiting (sched_yield)", None)
        if tid == main_tid and frames and any(f == "__sched_yield" for f in frames[:8]):
            c = (c[0], "(main thread waiting for OpenBLAS threads: sched_yield)", c[2])
        totals[c] += 1
        per_thread[(kind, c[0])] += 1
    grand = sum(totals.values())
    steps = args.steps or 1
    print(f"# {args.data}: {grand} samples in the step ({grand / steps:.0f} per step)")
    print("\nthreads: " + ", ".join(f"{k[0]} {k[1]} {100 * v / grand:.1f} %" for k, v in sorted(per_thread.items())))
    phases = collections.Counter()
    for (phase, _, _), v in totals.items():
        phases[phase] += v
    for phase in ("forward", "backward", "optimizer", "idle"):
        if not phases[phase]:
            continue
        print(f"\n## {phase}: {100 * phases[phase] / grand:.1f} % ({phases[phase] / steps:.0f} samples per step)\n")
        print("| operation | layer | share of step |")
        print("|---|---|---|")
        rows = sorted(((v, k) for k, v in totals.items() if k[0] == phase), reverse=True)
        for v, (_, op, layer) in rows[:args.rows]:
            print(f"| {op} | {layer or ''} | {100 * v / grand:.1f} % |")
        rest = sum(v for v, _ in rows[args.rows:])
        if rest:
            print(f"| (the other {len(rows) - args.rows}) | | {100 * rest / grand:.1f} % |")


if __name__ == "__main__":
    main()
