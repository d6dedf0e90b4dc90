#!/usr/bin/env python3
"""Writes the parity cases of the ViV1T engine ops to Tests/Fixtures/parity (the case.json format of
../shared/fixtures/parity), computed with PyTorch in float64 from float32-rounded inputs:

- unfold3d_patches: ViV1T's tokenizer patches, x.unfold(2, kT, sT).unfold(3, kH, sH).unfold(4, kW, sW)
  rearranged 'b c nt nh nw pt ph pw -> b nt (nh nw) (c pt ph pw)'.
- blocked_scaled_dot_product_attention: F.scaled_dot_product_attention(q, k, v) (no mask, scale 1/sqrt(d));
  `block_size` only tells our implementation how many query rows to process at once.
- multihead_blocked_attention: packed heads as in ViV1T's blocks: q/k/v (B, N, H*d) split as
  'b n (h d) -> b h n d', SDPA, merged back 'b h n d -> b n (h d)'.
- correlation_loss: ViV1T's PoissonCorrelationLoss.correlation_loss on samples x neurons:
  sum(2 - (corr + 1)) with corr = viv1t.metrics._torch_correlation(y_true, y_pred, dim=0, eps).

Usage: pip install torch numpy && python3 Tools/make_vivit_parity_fixtures.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "parity")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64, requires_grad=grad)


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


def unfold(name, shape, kernel, stride, seed):
    rng = np.random.default_rng(seed)
    x_np = f32(rng.normal(size=shape))
    x = t64(x_np, grad=True)
    patches = x.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1]).unfold(4, kernel[2], stride[2])
    b, c, nt, nh, nw, pt, ph, pw = patches.shape
    out = patches.permute(0, 2, 3, 4, 1, 5, 6, 7).reshape(b, nt, nh * nw, c * pt * ph * pw)
    upstream = f32(rng.normal(size=out.shape))
    out.backward(t64(upstream))
    write_case(name, "unfold3d_patches",
               f"x.unfold(2, {kernel[0]}, {stride[0]}).unfold(3, {kernel[1]}, {stride[1]}).unfold(4, {kernel[2]}, {stride[2]}) "
               "-> rearrange('b c nt nh nw pt ph pw -> b nt (nh nw) (c pt ph pw)')",
               {"kernel": list(kernel), "stride": list(stride)}, {"x": x_np}, out.detach().numpy(),
               {"x": x.grad.numpy()}, upstream)


def attention(name, batch, L, S, d, dv, block, seed, std=1.5):
    rng = np.random.default_rng(seed)
    arrays = {"q": f32(rng.normal(scale=std, size=batch + (L, d))),
              "k": f32(rng.normal(scale=std, size=batch + (S, d))),
              "v": f32(rng.normal(size=batch + (S, dv)))}
    tensors = {k: t64(v, grad=True) for k, v in arrays.items()}
    out = F.scaled_dot_product_attention(tensors["q"], tensors["k"], tensors["v"])
    upstream = f32(rng.normal(size=out.shape))
    out.backward(t64(upstream))
    write_case(name, "blocked_scaled_dot_product_attention", "F.scaled_dot_product_attention(q, k, v)",
               {"block_size": block}, arrays, out.detach().numpy(),
               {k: t.grad.numpy() for k, t in tensors.items()}, upstream)


def multihead(name, B, L, S, heads, d, dv, block, seed):
    rng = np.random.default_rng(seed)
    arrays = {"q": f32(rng.normal(scale=1.5, size=(B, L, heads * d))),
              "k": f32(rng.normal(scale=1.5, size=(B, S, heads * d))),
              "v": f32(rng.normal(size=(B, S, heads * dv)))}
    tensors = {k: t64(v, grad=True) for k, v in arrays.items()}

    def split(x):  # 'b n (h d) -> b h n d'
        return x.reshape(x.shape[0], x.shape[1], heads, -1).permute(0, 2, 1, 3)

    out = F.scaled_dot_product_attention(split(tensors["q"]), split(tensors["k"]), split(tensors["v"]))
    out = out.permute(0, 2, 1, 3).reshape(B, L, heads * dv)  # 'b h n d -> b n (h d)'
    upstream = f32(rng.normal(size=out.shape))
    out.backward(t64(upstream))
    write_case(name, "multihead_blocked_attention",
               "rearrange(F.scaled_dot_product_attention(*(rearrange(x, 'b n (h d) -> b h n d', h=heads) for x in (q, k, v))), "
               "'b h n d -> b n (h d)')",
               {"heads": heads, "block_size": block}, arrays, out.detach().numpy(),
               {k: t.grad.numpy() for k, t in tensors.items()}, upstream)


def correlation_loss(name, samples, neurons, seed):
    rng = np.random.default_rng(seed)
    eps = float(np.finfo(np.float32).eps)
    prediction = f32(np.exp(rng.normal(size=(samples, neurons))))
    target = f32(np.maximum(0, rng.normal(size=(samples, neurons)) + 0.5 * prediction))
    y_pred = t64(prediction, grad=True)
    y_true = t64(target)

    def standardise(y):
        return (y - y.mean(dim=0, keepdim=True)) / (y.std(dim=0, unbiased=False, keepdim=True) + eps)

    corr = (standardise(y_true) * standardise(y_pred)).mean(dim=0)
    loss = torch.sum(2.0 - (corr + 1.0))
    upstream = f32(rng.normal(size=()))
    loss.backward(t64(upstream))
    write_case(name, "correlation_loss",
               "viv1t.criterions.PoissonCorrelationLoss.correlation_loss on (samples, neurons): "
               "sum(2 - (correlation(y_true, y_pred, dim=0, eps) + 1))",
               {"eps": eps}, {"prediction": prediction, "target": target}, loss.detach().numpy(),
               {"prediction": y_pred.grad.numpy()}, upstream)


if __name__ == "__main__":
    unfold("vivit_unfold3d_patches_overlap", (2, 3, 7, 9, 11), (3, 4, 2), (2, 2, 3), 31)
    unfold("vivit_unfold3d_patches_tubelets", (1, 5, 9, 13, 17), (5, 4, 4), (1, 2, 2), 32)
    attention("vivit_blocked_sdpa_partial_block", (2, 3), 13, 9, 5, 4, 4, 33)
    attention("vivit_blocked_sdpa_single_block", (4,), 40, 40, 8, 8, 64, 34)
    multihead("vivit_multihead_blocked_attention", 2, 11, 11, 3, 8, 8, 5, 35)
    correlation_loss("vivit_correlation_loss", 30, 7, 36)
    print("wrote", sorted(n for n in os.listdir(ROOT) if n.startswith("vivit_")))
