#!/usr/bin/env python3
"""Writes the SDK's own parity cases (same case.json format as ../shared/fixtures/parity) to
Tests/Fixtures/parity, computed with PyTorch in float64 from float32-rounded inputs.

These supplement the shared fixtures, and replace a shared case whose layout is defective:
`poisson_loss_sum` names its prediction input "output", the same name as its result file, so the
prediction array was overwritten by the loss and cannot be read back.

Usage: pip install torch numpy && python3 Tools/make_parity_fixtures.py
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "parity")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def write_case(name, op, torch_call, params, inputs, output, grads, grad_output, tol=(1e-4, 1e-5)):
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    for key, value in inputs.items():
        np.save(os.path.join(folder, key + ".npy"), f32(value))
    np.save(os.path.join(folder, "output.npy"), f32(output))
    np.save(os.path.join(folder, "grad_output.npy"), f32(grad_output))
    for key, value in grads.items():
        np.save(os.path.join(folder, "grad_" + key + ".npy"), f32(value))
    case = {"op": op, "torch": torch_call, "params": params, "inputs": list(inputs), "output": "output",
            "extra": [], "grads": list(grads), "tol": {"rtol": tol[0], "atol": tol[1]}}
    with open(os.path.join(folder, "case.json"), "w") as fh:
        json.dump(case, fh, indent=1)


def poisson(name, avg, shape, seed):
    rng = np.random.default_rng(seed)
    prediction = f32(rng.uniform(0.05, 3.0, size=shape))
    target = f32(rng.poisson(1.0, size=shape) + rng.uniform(0, 0.5, size=shape))
    eps = 1e-12
    p = torch.tensor(prediction, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target, dtype=torch.float64)
    loss = p - t * torch.log(p + eps)
    loss = loss.mean() if avg else loss.sum()
    upstream = f32(rng.normal(size=()))
    loss.backward(torch.tensor(upstream, dtype=torch.float64))
    write_case(name, "poisson_loss", f"neuralpredictors.measures.PoissonLoss(avg={avg}, bias={eps})",
               {"avg": avg, "eps": eps}, {"prediction": prediction, "target": target},
               loss.detach().numpy(), {"prediction": p.grad.numpy()}, upstream)


if __name__ == "__main__":
    poisson("poisson_loss_sum_v2", False, (4, 10), 11)
    poisson("poisson_loss_mean_v2", True, (3, 7), 12)
    print("wrote", sorted(os.listdir(ROOT)))
