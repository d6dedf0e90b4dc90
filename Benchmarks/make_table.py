#!/usr/bin/env python3
"""Turns the JSON lines written by Benchmarks/run_all.sh into the markdown table of
Documentation/Performance.md.

    python3 Benchmarks/make_table.py Benchmarks/results/<run>.jsonl

With several rounds per workload, each side's medians are the median over its rounds.
"""
import json
import statistics
import sys
from collections import defaultdict


def load(path):
    rows = defaultdict(lambda: defaultdict(list))
    order = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r["workload"] not in order:
                order.append(r["workload"])
            rows[r["workload"]][r["implementation"]].append(r)
    return order, rows


def med(rs, key):
    values = [r[key] for r in rs if key in r and r[key] is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=3):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}"


def mb(v):
    return "–" if v is None else f"{v / 2**20:.0f}"


def main():
    order, rows = load(sys.argv[1])
    ceiling = {}
    for impl in ("swift", "pytorch"):
        rs = rows.get("sgemm-1024", {}).get(impl, [])
        ceiling[impl] = med(rs, "gflop_per_cpu_s")
    print("| workload | Swift s (CPU s) | PyTorch s (CPU s) | ratio wall | ratio CPU "
          "| Swift GFLOP/CPU-s (% sgemm) | PyTorch GFLOP/CPU-s | Swift peak MB (workload) | PyTorch peak MB (workload) "
          "| ratio workload peak |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in order:
        s, p = rows[w].get("swift", []), rows[w].get("pytorch", [])
        sw, sc, pw, pc = med(s, "median_s"), med(s, "cpu_median_s"), med(p, "median_s"), med(p, "cpu_median_s")
        ratio_wall = sw / pw if sw and pw else None
        ratio_cpu = sc / pc if sc and pc else None
        sg, pg = med(s, "gflop_per_cpu_s"), med(p, "gflop_per_cpu_s")
        share = f" ({100 * sg / ceiling['swift']:.0f}%)" if sg and ceiling.get("swift") else ""
        sm, pm = med(s, "workload_peak_bytes"), med(p, "workload_peak_bytes")
        ratio_memory = sm / pm if sm and pm else None
        extra = ""
        if w == "loader":
            extra = f" — clips/s {fmt(med(s, 'clips_per_s'))} vs {fmt(med(p, 'clips_per_s'))}"
        print(f"| {w}{extra} | {fmt(sw)} ({fmt(sc)}) | {fmt(pw)} ({fmt(pc)}) | {fmt(ratio_wall, 2)} | {fmt(ratio_cpu, 2)} "
              f"| {fmt(sg)}{share} | {fmt(pg)} "
              f"| {mb(med(s, 'peak_rss_bytes'))} ({mb(med(s, 'workload_peak_bytes'))}) "
              f"| {mb(med(p, 'peak_rss_bytes'))} ({mb(med(p, 'workload_peak_bytes'))}) | {fmt(ratio_memory, 2)} |")


if __name__ == "__main__":
    main()
