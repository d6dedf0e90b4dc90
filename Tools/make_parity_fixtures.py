#!/usr/bin/env python3
"""Writes the SDK's own parity cases (same case.json format as ../shared/fixtures/parity) to
Tests/Fixtures/parity, computed with PyTorch in float64 from float32-rounded inputs.

These supplement the shared fixtures (attention with an additive bias and mask, torch.roll, and the
Video Swin window partition and its reverse, as Dynamic-V1FM's `swin_core.py` writes them), and
replace a shared case whose layout is defective:
`poisson_loss_sum` names its prediction input "output", the same name as its result file, so the
prediction array was overwritten by the loss and cannot be read back.

Usage: pip install torch numpy && python3 Tools/make_parity_fixtures.py [--swin-core PATH]

With `--swin-core PATH` (Dynamic-V1FM's `models/swin_core.py` from zhuyu-cs/Dynamic-VFM @ 5dc582a, e.g.
`git show 5dc582abfe272384110b7f5d0eed941213565750:models/swin_core.py > swin_core.py`; it needs
`pip install einops`), the `shifted_window_attention_3d` cases are computed with that file's own
`ShiftedWindowAttention3d` module (padding, cyclic shift, the Swin mask, window/shift adaptation to
small grids and the sliced relative-position index). Without it those cases are left as they are.
"""
import argparse
import importlib.util
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


def f64(a, grad=False):
    return torch.tensor(f32(a), dtype=torch.float64, requires_grad=grad)


def attention(name, q_shape, kv_len, dv, bias_shape, mask_shape, scale, seed):
    """F.scaled_dot_product_attention(q, k, v, attn_mask=bias + mask, scale=scale); the float mask is
    additive; bias gets a gradient, mask (entries 0 or -100, as the Swin shift mask) does not."""
    rng = np.random.default_rng(seed)
    k_shape = q_shape[:-2] + (kv_len, q_shape[-1])
    v_shape = q_shape[:-2] + (kv_len, dv)
    arrays = {"q": rng.normal(size=q_shape), "k": rng.normal(size=k_shape), "v": rng.normal(size=v_shape)}
    inputs = dict(arrays)
    attn_mask = None
    if bias_shape is not None:
        inputs["bias"] = rng.normal(scale=2.0, size=bias_shape)
    if mask_shape is not None:
        inputs["mask"] = np.where(rng.uniform(size=mask_shape) < 0.3, -100.0, 0.0)
    t = {key: f64(value, grad=key != "mask") for key, value in inputs.items()}
    if "bias" in t:
        attn_mask = t["bias"]
    if "mask" in t:
        attn_mask = t["mask"] if attn_mask is None else attn_mask + t["mask"]
    out = torch.nn.functional.scaled_dot_product_attention(t["q"], t["k"], t["v"], attn_mask=attn_mask, scale=scale)
    grad_output = f32(rng.normal(size=tuple(out.shape)))
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    grads = {key: t[key].grad.numpy() for key in inputs if key != "mask"}
    write_case(name, "scaled_dot_product_attention",
               "F.scaled_dot_product_attention(q, k, v, attn_mask=bias + mask, scale=scale) (float additive mask)",
               {"scale": scale}, inputs, out.detach().numpy(), grads, grad_output)


def roll(name, shape, shifts, dims, seed):
    rng = np.random.default_rng(seed)
    x = f64(rng.normal(size=shape), grad=True)
    out = torch.roll(x, shifts=shifts, dims=dims)
    grad_output = f32(rng.normal(size=shape))
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    write_case(name, "roll", "torch.roll(x, shifts, dims)", {"shifts": list(shifts), "dims": list(dims)},
               {"x": x.detach().numpy()}, out.detach().numpy(), {"x": x.grad.numpy()}, grad_output)


def window_partition(name, shape, window, seed):
    """x (B, T, H, W, C) -> (B*nW, wT*wH*wW, C), as swin_core.shifted_window_attention_3d partitions."""
    rng = np.random.default_rng(seed)
    b, t, h, w, c = shape
    x = f64(rng.normal(size=shape), grad=True)
    out = x.view(b, t // window[0], window[0], h // window[1], window[1], w // window[2], window[2], c)
    out = out.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, window[0] * window[1] * window[2], c)
    grad_output = f32(rng.normal(size=tuple(out.shape)))
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    write_case(name, "window_partition_3d", "swin_core.py window partition: view + permute(0,1,3,5,2,4,6,7) + reshape",
               {"window_size": list(window)}, {"x": x.detach().numpy()}, out.detach().numpy(),
               {"x": x.grad.numpy()}, grad_output)


def window_reverse(name, batch, grid, window, channels, seed):
    """windows (B*nW, wT*wH*wW, C) -> (B, T, H, W, C), as swin_core.shifted_window_attention_3d reverses."""
    rng = np.random.default_rng(seed)
    counts = [g // s for g, s in zip(grid, window)]
    n_windows = batch * counts[0] * counts[1] * counts[2]
    windows = f64(rng.normal(size=(n_windows, window[0] * window[1] * window[2], channels)), grad=True)
    out = windows.view(batch, counts[0], counts[1], counts[2], window[0], window[1], window[2], channels)
    out = out.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, grid[0], grid[1], grid[2], channels)
    grad_output = f32(rng.normal(size=tuple(out.shape)))
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    write_case(name, "window_reverse_3d", "swin_core.py window reverse: view + permute(0,1,4,2,5,3,6,7) + reshape",
               {"window_size": list(window), "grid_size": list(grid)}, {"windows": windows.detach().numpy()},
               out.detach().numpy(), {"windows": windows.grad.numpy()}, grad_output)


def swin_attention(module_file, name, batch, grid, channels, heads, window, shift, seed):
    """The reference ShiftedWindowAttention3d (loaded from module_file) on x (B, T, H, W, C), in float64."""
    spec = importlib.util.spec_from_file_location("swin_core", module_file)
    swin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(swin)
    rng = np.random.default_rng(seed)
    layer = swin.ShiftedWindowAttention3d(dim=channels, window_size=list(window), shift_size=list(shift), num_heads=heads)
    layer = layer.double()
    rows = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
    inputs = {
        "x": rng.normal(size=(batch,) + tuple(grid) + (channels,)),
        "qkv_weight": rng.normal(scale=channels ** -0.5, size=(3 * channels, channels)),
        "qkv_bias": rng.normal(scale=0.3, size=(3 * channels,)),
        "proj_weight": rng.normal(scale=channels ** -0.5, size=(channels, channels)),
        "proj_bias": rng.normal(scale=0.1, size=(channels,)),
        "relative_position_bias_table": rng.normal(scale=0.5, size=(rows, heads)),
    }
    with torch.no_grad():
        layer.qkv.weight.copy_(f64(inputs["qkv_weight"]))
        layer.qkv.bias.copy_(f64(inputs["qkv_bias"]))
        layer.proj.weight.copy_(f64(inputs["proj_weight"]))
        layer.proj.bias.copy_(f64(inputs["proj_bias"]))
        layer.relative_position_bias_table.copy_(f64(inputs["relative_position_bias_table"]))
    layer.eval()
    x = f64(inputs["x"], grad=True)
    out = layer(x)
    grad_output = f32(rng.normal(size=tuple(out.shape)))
    out.backward(torch.tensor(grad_output, dtype=torch.float64))
    grads = {"x": x.grad.numpy(), "qkv_weight": layer.qkv.weight.grad.numpy(), "qkv_bias": layer.qkv.bias.grad.numpy(),
             "proj_weight": layer.proj.weight.grad.numpy(), "proj_bias": layer.proj.bias.grad.numpy(),
             "relative_position_bias_table": layer.relative_position_bias_table.grad.numpy()}
    write_case(name, "shifted_window_attention_3d",
               "Dynamic-VFM models/swin_core.py ShiftedWindowAttention3d(dim, window_size, shift_size, num_heads) "
               "(relative_position_index is the module's own buffer for window_size)",
               {"window_size": list(window), "shift_size": list(shift), "num_heads": heads},
               inputs, out.detach().numpy(), grads, grad_output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--swin-core", help="path to Dynamic-VFM models/swin_core.py")
    args = parser.parse_args()
    poisson("poisson_loss_sum_v2", False, (4, 10), 11)
    poisson("poisson_loss_mean_v2", True, (3, 7), 12)
    # Window attention layout: q (batch, windows, heads, L, d), bias per head, mask per window.
    attention("sdpa_bias_mask_windows", (2, 3, 2, 6, 4), 6, 4, (2, 6, 6), (3, 1, 6, 6), 0.5, 21)
    attention("sdpa_bias_only", (3, 5, 8), 7, 3, (1, 5, 7), None, 8 ** -0.5, 22)
    attention("sdpa_mask_only", (2, 2, 4, 3), 5, 2, None, (4, 5), 0.9, 23)
    roll("roll_3d_negative", (2, 5, 4, 6, 3), (-2, -1, -3), (1, 2, 3), 31)
    roll("roll_wrap", (4, 7), (9, -15), (0, -1), 32)
    window_partition("window_partition_3d", (2, 4, 6, 8, 3), (2, 3, 4), 41)
    window_partition("window_partition_3d_unit_time", (1, 3, 4, 4, 2), (1, 2, 2), 42)
    window_reverse("window_reverse_3d", 2, (4, 6, 8), (2, 3, 4), 3, 43)
    if args.swin_core:
        # Padding on every axis and a shift on every axis.
        swin_attention(args.swin_core, "swin_attention_padded_shifted", 2, (5, 7, 6), 8, 2, (2, 3, 4), (1, 1, 2), 51)
        # T' <= window: that axis uses window T' and no shift; the bias index is the top-left block.
        swin_attention(args.swin_core, "swin_attention_adapted_time", 1, (3, 5, 6), 6, 3, (4, 3, 4), (2, 1, 2), 52)
        # No shift at all (no roll, no mask).
        swin_attention(args.swin_core, "swin_attention_unshifted", 2, (4, 4, 4), 4, 1, (2, 2, 2), (0, 0, 0), 53)
        # Every axis smaller than its window: a single window, no shift.
        swin_attention(args.swin_core, "swin_attention_single_window", 2, (2, 2, 3), 6, 2, (4, 3, 4), (2, 1, 2), 54)
    print("wrote", sorted(os.listdir(ROOT)))
