#!/usr/bin/env python3
"""Writes parity cases for readout options the shared fixtures do not cover, computed with
neuralpredictors' own `FullGaussian2d` in float64 from float32-rounded inputs, into
Tests/Fixtures/parity (same case.json format as ../shared/fixtures/parity, op `full_gaussian2d`).

Cases: `gaussian_readout_unaligned_*`, the readout with `align_corners=False` (positions -1 and 1
at the outer edges of the border pixels), in eval mode, with and without a shift, for the full and
isotropic covariances.

Usage:
  pip install torch numpy
  python3 Tools/make_readout_parity_fixtures.py [--neuralpredictors DIR]

DIR is a checkout of sinzlab/neuralpredictors (the folder holding the `neuralpredictors` package);
without it the installed package is used (pip install neuralpredictors).
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "parity")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def case(name, gauss_type, with_shift, seed):
    import torch
    from neuralpredictors.layers.readouts import FullGaussian2d

    rng = np.random.default_rng(seed)
    n, c, h, w, batch = 6, 3, 5, 7, 2
    x = f32(rng.normal(size=(batch, c, h, w)))
    # Positions over the whole map, some near the border where the two conventions differ most.
    mu = f32(rng.uniform(-0.95, 0.95, size=(1, n, 1, 2)))
    sigma_shape = {"full": (1, n, 2, 2), "uncorrelated": (1, n, 1, 2), "isotropic": (1, n, 1, 1)}[gauss_type]
    sigma = f32(rng.uniform(0.05, 0.3, size=sigma_shape))
    features = f32(rng.normal(scale=0.5, size=(1, c, 1, n)))
    bias = f32(rng.normal(scale=0.1, size=(n,)))
    shift = f32(rng.uniform(-0.3, 0.3, size=(batch, 2))) if with_shift else None

    readout = FullGaussian2d(in_shape=(c, h, w), outdims=n, bias=True, gauss_type=gauss_type,
                             align_corners=False, init_mu_range=0.5, init_sigma=0.2).double()
    with torch.no_grad():
        readout._mu.copy_(torch.tensor(mu, dtype=torch.float64))
        readout.sigma.copy_(torch.tensor(sigma, dtype=torch.float64))
        readout._features.copy_(torch.tensor(features, dtype=torch.float64))
        readout.bias.copy_(torch.tensor(bias, dtype=torch.float64))
    readout.eval()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    st = torch.tensor(shift, dtype=torch.float64, requires_grad=True) if with_shift else None
    out = readout(xt, shift=st)
    upstream = f32(rng.normal(size=tuple(out.shape)))
    (out * torch.tensor(upstream, dtype=torch.float64)).sum().backward()

    inputs = {"x": x, "mu": mu, "sigma": sigma, "features": features, "bias": bias}
    grads = {"x": xt.grad, "mu": readout._mu.grad, "sigma": readout.sigma.grad,
             "features": readout._features.grad, "bias": readout.bias.grad}
    if with_shift:
        inputs["shift"] = shift
        grads["shift"] = st.grad
    grads = {k: (np.zeros(inputs[k].shape) if v is None else v.detach().numpy()) for k, v in grads.items()}

    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    for key, value in inputs.items():
        np.save(os.path.join(folder, key + ".npy"), f32(value))
    np.save(os.path.join(folder, "output.npy"), f32(out.detach().numpy()))
    np.save(os.path.join(folder, "grad_output.npy"), upstream)
    for key, value in grads.items():
        np.save(os.path.join(folder, "grad_" + key + ".npy"), f32(value))
    params = {"gauss_type": gauss_type, "align_corners": False, "bias": True, "mode": "eval",
              "layout": {"x": "N,C,H,W", "mu": "1,neurons,1,2", "features": "1,C,1,neurons", "bias": "neurons",
                         "shift": "N,2"},
              "note": "align_corners=False: grid_sample unnormalises x as ((x + 1) * W - 1) / 2; "
                      "mu is clamped to [-1,1] before the shift is added; sigma gets no gradient in eval mode"}
    spec = {"op": "full_gaussian2d", "torch": "neuralpredictors.layers.readouts.FullGaussian2d(align_corners=False)",
            "params": params, "inputs": list(inputs), "output": "output", "extra": [], "grads": list(grads),
            "tol": {"rtol": 1e-4, "atol": 1e-5}}
    with open(os.path.join(folder, "case.json"), "w") as fh:
        json.dump(spec, fh, indent=1)
    print("wrote", name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neuralpredictors", help="folder holding the neuralpredictors package")
    args = parser.parse_args()
    if args.neuralpredictors:
        sys.path.insert(0, os.path.abspath(args.neuralpredictors))
    case("gaussian_readout_unaligned_full", "full", False, 11)
    case("gaussian_readout_unaligned_full_shift", "full", True, 12)
    case("gaussian_readout_unaligned_isotropic_shift", "isotropic", True, 13)


if __name__ == "__main__":
    main()
