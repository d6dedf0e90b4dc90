#!/usr/bin/env python3
"""Per-neuron-type fraction of the ground-truth ceiling for a `sensorium demo` output folder.

Reads `<output>/evaluation.json` (per-neuron scores of the model and of the ground-truth ceiling)
and the generator's truth in `<data>/<mouse>/meta/synthetic/` (`is_complex.npy`, `direction.npy`,
`spatial_period.npy`, `rf_grid_positions.npy`), and prints, per tier, the mean per-neuron ρ_ta of
the model and of the ceiling for complex and simple cells, direction-selective cells, thirds of the
spatial period and neurons near the frame's border. Needs numpy.

    python3 Tools/diagnostics/python/neuron_types.py demo-output            # data in demo-output/data
    python3 Tools/diagnostics/python/neuron_types.py OUT --data DATA --tiers main oracle
"""
import argparse
import json
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="a `sensorium demo` (or `evaluate`) output folder with evaluation.json")
    parser.add_argument("--data", help="folder of the synthetic mice (default: OUTPUT/data)")
    parser.add_argument("--tiers", nargs="+", default=["main", "oracle"], help="tiers of evaluation.json to split")
    args = parser.parse_args()
    data = args.data or os.path.join(args.output, "data")
    evaluation = json.load(open(os.path.join(args.output, "evaluation.json")))
    for tier in args.tiers:
        columns = {k: [] for k in ("complex", "direction", "period", "grid", "model", "ceiling")}
        for mouse in evaluation["mice"]:
            truth = os.path.join(data, mouse["mouse"], "meta", "synthetic")
            if tier not in mouse["scores"]:
                raise SystemExit(f"tier '{tier}' not in evaluation.json (found {sorted(mouse['scores'])})")
            columns["complex"].append(np.load(os.path.join(truth, "is_complex.npy")).astype(bool))
            columns["direction"].append(np.load(os.path.join(truth, "direction.npy")))
            columns["period"].append(np.load(os.path.join(truth, "spatial_period.npy")))
            columns["grid"].append(np.load(os.path.join(truth, "rf_grid_positions.npy")))
            columns["model"].append(np.asarray(mouse["scores"][tier]["perNeuronToAverage"]))
            columns["ceiling"].append(np.asarray(mouse["ceiling"][tier]["perNeuronToAverage"]))
        c = {k: np.concatenate(v) for k, v in columns.items()}
        model, ceiling = c["model"], c["ceiling"]
        print(f"{tier}: {len(model)} neurons, model ρ_ta {model.mean():.3f} of the ceiling's {ceiling.mean():.3f} "
              f"({model.mean() / ceiling.mean():.1%})")
        third = np.quantile(c["period"], [1 / 3, 2 / 3])
        gx, gy = c["grid"][:, 0], c["grid"][:, 1]
        groups = [
            ("complex cells", c["complex"]), ("simple cells", ~c["complex"]),
            ("direction selective", c["direction"] != 0), ("not direction selective", c["direction"] == 0),
            ("complex and direction selective", c["complex"] & (c["direction"] != 0)),
            ("shortest third of periods", c["period"] < third[0]),
            ("middle third of periods", (c["period"] >= third[0]) & (c["period"] < third[1])),
            ("longest third of periods", c["period"] >= third[1]),
            ("|grid y| > 0.35 or |grid x| > 0.6", (np.abs(gy) > 0.35) | (np.abs(gx) > 0.6)),
        ]
        for name, mask in groups:
            if mask.any():
                m, cl = model[mask].mean(), ceiling[mask].mean()
                print(f"  {name:34s} {mask.sum():5d}  model {m:.3f}  ceiling {cl:.3f}  {m / cl:.1%}")


if __name__ == "__main__":
    main()
