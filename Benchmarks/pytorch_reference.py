#!/usr/bin/env python3
"""PyTorch side of the Sensorium for Swift benchmarks (see Documentation/Performance.md).

    python3 Benchmarks/pytorch_reference.py WORKLOAD [--runs N] [--threads T] [--mouse DIR]

Runs one workload with the same shapes and thread count as `sensorium-bench WORKLOAD` and prints
one JSON object on stdout. The models are written in plain torch (no neuralpredictors), following
the SENSORIUM 2023 factorized baseline: Factorized3dCore -> FullGaussian2d readout (full
covariance, sampled in training, bilinear grid_sample with align_corners=True) with an MLP shifter,
ELU + 1, summed Poisson loss, AdamW.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


def rss_bytes():
    """Current resident set size (VmRSS) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes():
    """Peak resident set size so far (ru_maxrss, KiB on Linux) in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------------------------
# Model pieces (plain torch)

class FactorizedCore(nn.Module):
    """Spatial (1,k,k) conv (padded, 'same'), temporal (k,1,1) conv (valid), BatchNorm3d, ELU per layer."""

    def __init__(self, in_channels, channels, spatial_kernels, temporal_kernels, momentum=0.7):
        super().__init__()
        layers = []
        c_in = in_channels
        for c, ks, kt in zip(channels, spatial_kernels, temporal_kernels):
            layers += [
                nn.Conv3d(c_in, c, (1, ks, ks), padding=(0, ks // 2, ks // 2)),
                nn.Conv3d(c, c, (kt, 1, 1)),
                nn.BatchNorm3d(c, momentum=momentum),
                nn.ELU(),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)


class MLPShifter(nn.Module):
    """2 -> 5 -> 5 -> 2, tanh after every Linear."""

    def __init__(self, hidden=5, layers=3):
        super().__init__()
        mods = []
        prev = 2
        for _ in range(layers - 1):
            mods += [nn.Linear(prev, hidden), nn.Tanh()]
            prev = hidden
        mods += [nn.Linear(prev, 2), nn.Tanh()]
        self.mlp = nn.Sequential(*mods)

    def forward(self, pupil):
        return self.mlp(pupil)


class FullGaussian2d(nn.Module):
    """Full-covariance Gaussian readout: position mu + sigma z (training) or mu (eval), clamped,
    plus the shift; bilinear grid_sample (zeros, align_corners=True), dot with per-neuron features."""

    def __init__(self, channels, neurons, init_mu_range=0.2, init_sigma=1.0):
        super().__init__()
        self.neurons = neurons
        self.mu = nn.Parameter(torch.empty(1, neurons, 1, 2).uniform_(-init_mu_range, init_mu_range))
        self.sigma = nn.Parameter(torch.empty(1, neurons, 2, 2).uniform_(-init_sigma, init_sigma))
        self.features = nn.Parameter(torch.full((1, channels, 1, neurons), 1.0 / channels))
        self.bias = nn.Parameter(torch.zeros(neurons))

    def forward(self, x, shift):
        # x: (N, C, T, H, W) -> (N*T, C, H, W); shift: (N*T, 2)
        n, c, t, h, w = x.shape
        x = x.transpose(1, 2).reshape(n * t, c, h, w)
        m = n * t
        with torch.no_grad():
            self.mu.clamp_(-1, 1)
        if self.training:
            z = torch.randn(m, self.neurons, 1, 2)
            grid = self.mu + torch.einsum("ancd,bnid->bnic", self.sigma, z)
        else:
            grid = self.mu.expand(m, self.neurons, 1, 2)
        grid = torch.clamp(grid, -1, 1) + shift[:, None, None, :]
        y = F.grid_sample(x, grid, align_corners=True)          # (M, C, n, 1)
        y = (y.squeeze(-1) * self.features.view(1, c, self.neurons)).sum(1)
        return y + self.bias                                     # (M, n)


class Model(nn.Module):
    def __init__(self, channels, neurons):
        super().__init__()
        self.core = FactorizedCore(3, channels, [11, 7, 7], [11, 7, 7])
        self.readout = FullGaussian2d(channels[-1], neurons)
        self.shifter = MLPShifter()

    def forward(self, x, pupil):
        """x: (N, 3, T, H, W); pupil: (N, T', 2) for the T' output frames."""
        f = self.core(x)                                         # (N, C, T', H, W)
        n, t = f.shape[0], f.shape[2]
        shift = self.shifter(pupil.reshape(n * t, 2))
        y = self.readout(f, shift)
        return (F.elu(y) + 1).view(n, t, -1)


def poisson_loss(output, target, eps=1e-12):
    return (output - target * torch.log(output + eps)).sum()


# ---------------------------------------------------------------------------------------------
# Workloads: each returns (step function, flops per step or None)

def sgemm_1024(args):
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    return (lambda: torch.mm(a, b)), 2.0 * 1024 ** 3


def conv_layer(kernel, padding):
    x = torch.randn(4, 32, 40, 36, 64, requires_grad=True)
    conv = nn.Conv3d(32, 32, kernel, padding=padding)
    y = conv(x)
    g = torch.randn_like(y)
    out_positions = y[0, 0].numel()
    flops = 2.0 * 4 * 32 * out_positions * 32 * kernel[0] * kernel[1] * kernel[2]

    def step():
        x.grad = None
        conv.zero_grad(set_to_none=True)
        conv(x).backward(g)

    return step, 3 * flops


def conv_spatial(args):
    return conv_layer((1, 7, 7), (0, 3, 3))


def conv_temporal(args):
    return conv_layer((7, 1, 1), (0, 0, 0))


def core_flops(batch, frames, channels, h=36, w=64):
    """Multiply-adds x 2 of the core's convolutions (forward)."""
    total = 0.0
    c_in, t = 3, frames
    for c, ks, kt in zip(channels, [11, 7, 7], [11, 7, 7]):
        total += 2.0 * batch * c * t * h * w * c_in * ks * ks
        t -= kt - 1
        total += 2.0 * batch * c * t * h * w * c * kt
        c_in = c
    return total


def factorized_small(args):
    torch.manual_seed(0)
    batch, frames, neurons = 4, 40, 1000
    model = Model([32, 32, 32], neurons)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x = torch.randn(batch, 3, frames, 36, 64)
    out_frames = frames - 10 - 6 - 6
    pupil = torch.randn(batch, out_frames, 2)
    target = torch.rand(batch, out_frames, neurons)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = poisson_loss(model(x, pupil), target)
        loss.backward()
        opt.step()

    # forward + backward (input and weight gradients) of the convolutions; the first layer's
    # spatial conv needs no input gradient.
    fwd = core_flops(batch, frames, [32, 32, 32])
    first = 2.0 * batch * 32 * frames * 36 * 64 * 3 * 121
    return step, 3 * fwd - first


def factorized_paper(args):
    torch.manual_seed(0)
    batch, frames, neurons = 8, 80, 8000
    model = Model([64, 64, 64], neurons)
    model.eval()
    x = torch.randn(batch, 3, frames, 36, 64)
    pupil = torch.randn(batch, frames - 22, 2)

    def step():
        with torch.no_grad():
            model(x, pupil)

    return step, core_flops(batch, frames, [64, 64, 64])


def readout_8k(args):
    torch.manual_seed(0)
    batch, channels, frames, neurons = 4, 64, 18, 8000
    readout = FullGaussian2d(channels, neurons)
    readout.train()
    x = torch.randn(batch, channels, frames, 36, 64, requires_grad=True)
    shift = (torch.rand(batch * frames, 2) - 0.5) * 0.2
    g = torch.randn(batch * frames, neurons)

    def step():
        x.grad = None
        readout.zero_grad(set_to_none=True)
        readout(x, shift).backward(g)

    return step, None


def first_nan_frame(a):
    """The first frame (last axis) at which any element is NaN; the frame count when none is."""
    bad = np.isnan(a.reshape(-1, a.shape[-1])).any(0)
    return int(np.argmax(bad)) if bad.any() else a.shape[-1]


class SyntheticMouseClips(torch.utils.data.Dataset):
    """Random 40-frame clips of the train tier of a SENSORIUM 2023 mouse folder, normalised as the
    Swift loader (and neuralpredictors' NeuroNormalizer) does, on whole trials: videos and pupil
    centre (x - mean) / std, behaviour x / std, responses x * precision (1 / std, floored at 1% of
    the mean std); behaviour appended to the video as two channels."""

    def __init__(self, root, frames=40):
        self.root, self.frames = root, frames
        tiers = np.load(os.path.join(root, "meta/trials/tiers.npy"))
        self.trials = [i for i, t in enumerate(tiers) if str(t) == "train"]
        stat = lambda f, s: np.load(os.path.join(root, "meta/statistics", f, "all", s + ".npy"))
        self.video_mean, self.video_std = stat("videos", "mean"), stat("videos", "std")
        std = stat("responses", "std")
        threshold = 0.01 * np.nanmean(std)
        self.response_precision = np.where(std > threshold, 1 / std, 1 / threshold).astype(np.float32)
        self.behavior_precision = (1 / stat("behavior", "std")).astype(np.float32)
        self.pupil_mean, self.pupil_std = stat("pupil_center", "mean"), stat("pupil_center", "std")

    def __len__(self):
        return len(self.trials)

    def load(self, field, i):
        return np.load(os.path.join(self.root, "data", field, f"{i}.npy"))

    def __getitem__(self, k):
        i = self.trials[k]
        video = (self.load("videos", i) - self.video_mean) / self.video_std            # (H, W, T)
        responses = self.load("responses", i) * self.response_precision               # (neurons, T)
        behavior = self.load("behavior", i) * self.behavior_precision                 # (2, T)
        pupil = (self.load("pupil_center", i) - self.pupil_mean) / self.pupil_std     # (2, T)
        length = min(first_nan_frame(a) for a in (video, responses, behavior, pupil))
        start = np.random.randint(0, max(length - self.frames, 1))
        s = slice(start, start + self.frames)
        v = np.transpose(video[..., s], (2, 0, 1))[None]                              # (1, T, H, W)
        b = np.broadcast_to(behavior[:, s, None, None], (2,) + v.shape[1:])
        inputs = np.concatenate([v, b], axis=0)                                       # (3, T, H, W)
        return (torch.from_numpy(np.ascontiguousarray(inputs)),
                torch.from_numpy(np.ascontiguousarray(responses[:, s].T)),            # (T, neurons)
                torch.from_numpy(np.ascontiguousarray(behavior[:, s])),               # (2, T)
                torch.from_numpy(np.ascontiguousarray(pupil[:, s])))                  # (2, T)


def loader(args):
    if not args.mouse:
        sys.exit("loader: pass --mouse DIR (the synthetic mouse folder that `sensorium-bench loader` prints)")
    dataset = SyntheticMouseClips(args.mouse)
    batch = 4
    dl = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=0, drop_last=True)
    clips = (len(dataset) // batch) * batch

    def step():
        for _ in dl:
            pass

    step.clips = clips
    return step, None


# ---------------------------------------------------------------------------------------------
# Dynamic-V1FM (swin-step): the small preset's model in plain torch (same computation as
# zhuyu-cs/Dynamic-VFM's SwinCore + adaptive hierarchical readout + MLP shifter, not its code)

class SwinBlock(nn.Module):
    """Behaviour MLP add, shifted-window attention with relative-position bias and the Swin mask,
    SwiGLU + depth-wise 3x3x3 conv + GELU MLP; residuals, no in-block LayerNorm."""

    def __init__(self, dim, heads, window, mlp_dim, behavior_dim=4, frames_per_token=2):
        super().__init__()
        self.dim, self.heads, self.window = dim, heads, window
        self.shift = [w // 2 for w in window]
        self.behavior = nn.Sequential(nn.Linear(behavior_dim, dim // 2), nn.Tanh(),
                                      nn.Linear(dim // 2, dim // frames_per_token), nn.Tanh())
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        wd, wh, ww = window
        self.table = nn.Parameter(torch.randn((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), heads) * 0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        rel[:, :, 0] += wd - 1
        rel[:, :, 1] += wh - 1
        rel[:, :, 2] += ww - 1
        rel[:, :, 0] *= (2 * wh - 1) * (2 * ww - 1)
        rel[:, :, 1] *= 2 * ww - 1
        self.register_buffer("index", rel.sum(-1))
        self.fc1 = nn.Linear(dim, 2 * mlp_dim)
        self.dwconv = nn.Conv3d(mlp_dim, mlp_dim, 3, padding=1, groups=mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)
        self.masks = {}

    def partition(self, x):
        b, t, h, w, c = x.shape
        wd, wh, ww = self.window
        x = x.view(b, t // wd, wd, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 5, 2, 4, 6, 7)
        return x.reshape(-1, wd * wh * ww, c)

    def reverse(self, x, b, t, h, w):
        wd, wh, ww = self.window
        x = x.view(b, t // wd, h // wh, w // ww, wd, wh, ww, -1).permute(0, 1, 4, 2, 5, 3, 6, 7)
        return x.reshape(b, t, h, w, -1)

    def mask(self, t, h, w):
        if (t, h, w) not in self.masks:
            img = torch.zeros(1, t, h, w, 1)
            count = 0
            for a in (slice(0, -self.window[0]), slice(-self.window[0], -self.shift[0]), slice(-self.shift[0], None)):
                for b in (slice(0, -self.window[1]), slice(-self.window[1], -self.shift[1]), slice(-self.shift[1], None)):
                    for c in (slice(0, -self.window[2]), slice(-self.window[2], -self.shift[2]), slice(-self.shift[2], None)):
                        img[:, a, b, c, :] = count
                        count += 1
            windows = self.partition(img).squeeze(-1)
            m = windows[:, None, :] - windows[:, :, None]
            self.masks[(t, h, w)] = m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)
        return self.masks[(t, h, w)]

    def attention(self, x):
        b, t, h, w, c = x.shape
        pads = [(-s) % k for s, k in zip((t, h, w), self.window)]
        x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        tp, hp, wp = t + pads[0], h + pads[1], w + pads[2]
        x = torch.roll(x, shifts=[-s for s in self.shift], dims=(1, 2, 3))
        tokens = self.partition(x)
        nw_b, n, _ = tokens.shape
        qkv = self.qkv(tokens).view(nw_b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        scores = scores + self.table[self.index.view(-1)].view(n, n, -1).permute(2, 0, 1)[None]
        m = self.mask(tp, hp, wp)
        scores = scores.view(b, m.shape[0], self.heads, n, n) + m[None, :, None]
        out = (scores.view(-1, self.heads, n, n).softmax(-1) @ v).transpose(1, 2).reshape(nw_b, n, c)
        out = self.reverse(self.proj(out), b, tp, hp, wp)
        out = torch.roll(out, shifts=self.shift, dims=(1, 2, 3))
        return out[:, :t, :h, :w].contiguous()

    def mlp(self, x):
        value, gate = self.fc1(x).chunk(2, dim=-1)
        y = (F.silu(gate) * value).permute(0, 4, 1, 2, 3)
        y = F.gelu(self.dwconv(y)).permute(0, 2, 3, 4, 1)
        return self.fc2(y)

    def forward(self, x, behavior):
        b, t = x.shape[:2]
        x = x + self.behavior(behavior).reshape(b, t, 1, 1, -1)
        x = x + self.attention(x)
        return x + self.mlp(x)


class SwinCore(nn.Module):
    def __init__(self, dim=32, blocks=2, heads=2, window=(4, 6, 8), mlp_dim=64):
        super().__init__()
        self.patch = nn.Conv3d(1, dim, 2, stride=2)
        self.norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList([SwinBlock(dim, heads, list(window), mlp_dim) for _ in range(blocks)])

    def forward(self, video, behavior):
        x = self.norm(self.patch(video).permute(0, 2, 3, 4, 1))
        for block in self.blocks:
            x = block(x, behavior)
        return x.permute(0, 4, 1, 2, 3)


class HierarchicalReadout(nn.Module):
    """Full-covariance Gaussian positions from cortical coordinates, levels 1, 2, 4, 8, 16 along the
    neuron axis with per-level scalar refinement MLPs, adaptive (SE-style) fusion, bias."""

    def __init__(self, channels, neurons, levels=(2, 4, 8, 16)):
        super().__init__()
        self.levels = levels
        self.neurons = neurons
        self.register_buffer("coords", torch.randn(neurons, 2))
        self.mu = nn.Sequential(nn.Linear(2, 32), nn.ELU(), nn.Linear(32, 2), nn.Tanh())
        self.sigma = nn.Parameter(torch.rand(1, neurons, 2, 2) * 0.4 - 0.2)
        self.features = nn.ParameterList([nn.Parameter(torch.full((channels, neurons // k), 1 / channels))
                                          for k in (1,) + tuple(levels)])
        self.refine = nn.ModuleList([nn.Sequential(nn.Conv1d(1, h, 1), nn.ELU(), nn.Conv1d(h, 1, 1, bias=False))
                                     for h in (32, 64, 128, 256)])
        count = len(levels) + 1
        self.fusion = nn.Sequential(nn.Linear(count, count), nn.ReLU(), nn.Linear(count, count), nn.Sigmoid())
        self.bias = nn.Parameter(torch.zeros(neurons))

    def forward(self, x, shift):
        b, c, t, h, w = x.shape
        x = x.transpose(1, 2).reshape(b * t, c, h, w)
        mu = self.mu(self.coords)[None]
        noise = torch.randn(b * t, self.neurons, 2)
        grid = (mu + (self.sigma @ noise[..., None]).squeeze(-1)).clamp(-1, 1) + shift[:, None, :]
        sampled = F.grid_sample(x, grid[:, :, None, :], align_corners=True).squeeze(-1)  # (bt, c, n)
        outputs = [(sampled * self.features[0]).sum(1)]
        for level, (k, refine) in enumerate(zip(self.levels, self.refine)):
            down = (torch.arange(self.neurons // k) * k).clamp(max=self.neurons - 1)
            coarse = (sampled[:, :, down] * self.features[level + 1]).sum(1)
            up = F.interpolate(coarse[:, None], size=self.neurons, mode="nearest")
            outputs.append(refine(up).squeeze(1))
        stacked = torch.stack(outputs, 1).view(b, t, len(outputs), self.neurons).transpose(1, 2)
        gates = self.fusion(stacked.mean((2, 3)))
        return (stacked * gates[:, :, None, None]).sum(1) + self.bias


class DynamicV1FMSmall(nn.Module):
    def __init__(self, neurons):
        super().__init__()
        self.core = SwinCore()
        self.readout = HierarchicalReadout(32, neurons)
        self.shifter = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2), nn.Tanh())

    def forward(self, video, behavior, pupil):
        features = self.core(video, torch.cat([behavior, pupil], 1).transpose(1, 2))
        b, _, t = features.shape[:3]
        shift = self.shifter(pupil[:, :, -t:].transpose(1, 2).reshape(b * t, 2))
        return F.elu(self.readout(features, shift)) + 1


def swin_step(args):
    torch.manual_seed(0)
    batch, frames, neurons = 8, 30, 512
    model = DynamicV1FMSmall(neurons)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05)
    video = torch.randn(batch, 1, frames, 36, 64)
    behavior = torch.randn(batch, 2, frames)
    pupil = torch.randn(batch, 2, frames)
    target = torch.rand(batch, frames, neurons) * 2

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(video, behavior, pupil)
        t = target[:, -out.shape[1]:]
        loss = ((out + 1e-8) - (t + 1e-8) * torch.log(out + 1e-8)).sum()
        loss.backward()
        opt.step()

    return step, None


# ViV1T (vivit-step): the viv1tSmall preset's model and recipe in plain torch, as bryanlimy/ViV1T
# writes them (tubelet unfold, LayerNorm -> Linear -> LayerNorm -> Dropout, learned spatial and
# temporal position tables, parallel blocks with one fused projection, SDPA, DropPath; ViV1T
# Gaussian readout with the behaviour state vector; poisson_correlation; AdamW with a core group).

class ViViTTokenizer(nn.Module):
    def __init__(self, channels, tp, sp, ss, emb, grid, max_frames=300, p=0.1338):
        super().__init__()
        self.tp, self.sp, self.ss = tp, sp, ss
        patch = channels * tp * sp * sp
        self.norm1, self.linear, self.norm2 = nn.LayerNorm(patch), nn.Linear(patch, emb), nn.LayerNorm(emb)
        self.dropout = nn.Dropout(p)
        self.spatial_pos = nn.Parameter(torch.randn(1, 1, grid, emb))
        self.temporal_pos = nn.Parameter(torch.randn(1, max_frames - tp + 1, 1, emb))

    def forward(self, x):                                        # (B, C, T, H, W)
        x = x.unfold(2, self.tp, 1).unfold(3, self.sp, self.ss).unfold(4, self.sp, self.ss)
        b, c, t, h, w = x.shape[:5]
        x = x.permute(0, 2, 3, 4, 1, 5, 6, 7).reshape(b, t, h * w, -1)   # b t (h w) (c pt ph pw)
        x = self.dropout(self.norm2(self.linear(self.norm1(x))))
        return x + self.spatial_pos + self.temporal_pos[:, :t]


class ParallelBlock(nn.Module):
    def __init__(self, emb, heads, head_dim, mlp, p_attn=0.358, p_ff=0.0592, drop_path=0.0505):
        super().__init__()
        self.heads, self.head_dim, self.mlp = heads, head_dim, mlp
        inner = heads * head_dim
        self.norm = nn.LayerNorm(emb)
        self.fused_linear = nn.Linear(emb, 3 * inner + mlp, bias=False)
        self.attn_dropout = nn.Dropout(p_attn)
        self.attn_out = nn.Linear(inner, emb, bias=False)
        self.ff_out = nn.Sequential(nn.GELU(), nn.Dropout(p_ff), nn.Linear(mlp, emb, bias=False))
        self.drop_path = drop_path

    def path(self, x):
        if not self.training or self.drop_path == 0:
            return x
        keep = 1 - self.drop_path
        return x * x.new_empty(x.shape[0], 1, 1).bernoulli_(keep) / keep

    def forward(self, x):                                        # (B, N, emb)
        b, n, _ = x.shape
        inner = self.heads * self.head_dim
        q, k, v, ff = self.fused_linear(self.norm(x)).split([inner, inner, inner, self.mlp], dim=-1)
        q, k, v = (t.view(b, n, self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, inner)
        a = self.attn_out(self.attn_dropout(a))
        return x + self.path(a) + self.path(self.ff_out(ff))


def find_shape(p):
    h = int(np.ceil(np.sqrt(p)))
    while p % h:
        h -= 1
    return h, p // h


class ViViTCore(nn.Module):
    def __init__(self, channels=5, tp=5, sp=6, ss=4, emb=32, heads=4, head_dim=16, mlp=48, spatial=1, temporal=2,
                 h=36, w=64):
        super().__init__()
        grid = ((h - sp) // ss + 1) * ((w - sp) // ss + 1)
        self.shape = find_shape(grid)
        self.tokenizer = ViViTTokenizer(channels, tp, sp, ss, emb, grid)
        self.spatial = nn.Sequential(*[ParallelBlock(emb, heads, head_dim, mlp) for _ in range(spatial)])
        self.temporal = nn.Sequential(*[ParallelBlock(emb, heads, head_dim, mlp) for _ in range(temporal)])

    def forward(self, x):
        x = self.tokenizer(x)                                    # (B, T', P, emb)
        b, t, p, c = x.shape
        x = self.spatial(x.reshape(b * t, p, c)).view(b, t, p, c)
        x = self.temporal(x.transpose(1, 2).reshape(b * p, t, c)).view(b, p, t, c)
        return x.permute(0, 3, 2, 1).reshape(b, c, t, *self.shape)   # (B, C, T', h, w)


class ViV1TReadout(nn.Module):
    def __init__(self, channels, neurons):
        super().__init__()
        self.neurons = neurons
        self.register_buffer("source_grid", torch.rand(neurons, 2) * 2 - 1)
        self.mu_transform = nn.Sequential(nn.Linear(2, 30), nn.ELU(), nn.Linear(30, 2), nn.Tanh())
        self.sigma = nn.Parameter(torch.empty(1, neurons, 2, 2).uniform_(-1, 1))
        self.features = nn.Parameter(torch.full((1, channels, neurons), 1.0 / channels))
        self.bias = nn.Parameter(torch.zeros(neurons))
        self.state_encoder = nn.Sequential(nn.Linear(4, channels), nn.LayerNorm(channels), nn.GELU(), nn.Dropout(0.0),
                                           nn.Linear(channels, channels), nn.Tanh())

    def forward(self, x, shift, state):                          # (B, C, T, h, w), (M, 2), (M, 4)
        b, c, t, h, w = x.shape
        m = b * t
        x = x.transpose(1, 2).reshape(m, c, h, w)
        mu = self.mu_transform(self.source_grid)[None, :, None, :]
        z = torch.randn(m, self.neurons, 1, 2)
        grid = torch.clamp(mu + torch.einsum("ancd,bnid->bnic", self.sigma, z), -1, 1) + shift[:, None, None, :]
        y = F.grid_sample(x, grid, align_corners=True).squeeze(-1)   # (M, C, n)
        y = y + self.state_encoder(state)[:, :, None]
        return (y * self.features).sum(1) + self.bias                # (M, n)


class ViV1TModel(nn.Module):
    def __init__(self, neurons):
        super().__init__()
        self.core = ViViTCore()
        self.readout = ViV1TReadout(32, neurons)
        self.shifter = MLPShifter()

    def forward(self, x, behavior, pupil):                       # (B, 5, T, H, W), (B, 2, T), (B, 2, T)
        f = self.core(x)
        b, t = f.shape[0], f.shape[2]
        beh, pup = behavior[..., -t:], pupil[..., -t:]
        state = torch.cat([beh, pup], 1).transpose(1, 2).reshape(b * t, 4)     # dilation, speed, pupil x, y
        shift = self.shifter(pup.transpose(1, 2).reshape(b * t, 2))
        y = self.readout(f, shift, state)
        return torch.exp(y).view(b, t, -1)


def poisson_correlation(y_true, y_pred, ds_size, batch, eps=torch.finfo(torch.float32).eps):
    poisson = torch.sum((y_pred + eps) - (y_true + eps) * torch.log(y_pred + eps))
    a = y_true.reshape(-1, y_true.shape[-1])
    b = y_pred.reshape(-1, y_pred.shape[-1])
    a = (a - a.mean(0, keepdim=True)) / (a.std(0, unbiased=False, keepdim=True) + eps)
    b = (b - b.mean(0, keepdim=True)) / (b.std(0, unbiased=False, keepdim=True) + eps)
    corr = (a * b).mean(0)
    return (poisson + 1000 * torch.sum(2 - (corr + 1))) * np.sqrt(ds_size / batch)


def vivit_step(args):
    torch.manual_seed(0)
    batch, frames, neurons = 6, 40, 512
    model = ViV1TModel(neurons)
    model.train()
    core = list(model.core.parameters())
    core_ids = {id(p) for p in core}
    rest = [p for p in model.parameters() if id(p) not in core_ids]
    opt = torch.optim.AdamW([{"params": core, "lr": 4.8e-3, "weight_decay": 0.1789}, {"params": rest}],
                            lr=3.6e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.3939)
    x = torch.randn(batch, 5, frames, 36, 64)
    behavior, pupil = torch.rand(batch, 2, frames), torch.rand(batch, 2, frames)
    target = torch.rand(batch, frames, neurons)

    def step():
        opt.zero_grad(set_to_none=True)
        y = model(x, behavior, pupil)
        loss = poisson_correlation(target[:, -y.shape[1]:], y, 100, batch)
        loss.backward()
        opt.step()

    steps, patches = frames - 5 + 1, 8 * 15
    tokens = batch * steps * patches
    emb, inner, mlp = 32, 64, 48
    projections = tokens * (emb * (3 * inner + mlp) + inner * emb + mlp * emb)
    blocks = (projections + batch * steps * 2 * patches * patches * inner) \
        + 2 * (projections + batch * patches * 2 * steps * steps * inner)
    return step, 3 * 2 * (tokens * 5 * 5 * 6 * 6 * emb + blocks)


# ---------------------------------------------------------------------------------------------
# DwiseNeuro (dwiseneuro-step): the paper-size core, cortex and one 8,000-neuron readout in plain
# torch, the same computation as lRomul/sensorium's DwiseNeuro (winners-spec.md §1.2-§1.5), not its code.

def dwise_drop_path(x, p, training):
    """Per-sample stochastic depth, kept samples scaled by 1 / keep."""
    if not training or p == 0:
        return x
    keep = 1 - p
    return x * x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep) / keep


def tile_channels(x, channels):
    """[c0 .. c_{C-1}, c0 ..] cut to `channels` (axis 1)."""
    c = x.shape[1]
    if c == channels:
        return x
    reps = [1] * x.dim()
    reps[1] = -(-channels // c)
    return x.repeat(*reps)[:, :channels]


def sinusoid_3d(channels, t, h, w):
    """Fixed encoding (1, C, T, H, W): k = 2 ceil(C / 6) channels per axis, [sin(p f_j).., cos(p f_j)..]
    over frame, row and column index, f_j = 10000^(-2j / k), truncated to C channels."""
    k = -(-channels // 6) * 2
    freqs = 1.0 / (10000 ** (torch.arange(0, k, 2).float() / k))
    out = torch.zeros(3 * k, t, h, w)
    for axis, n in enumerate((t, h, w)):
        angles = freqs[:, None] * torch.arange(n).float()[None]          # (k/2, n)
        e = torch.cat([angles.sin(), angles.cos()], 0)                     # (k, n)
        shape = [k, 1, 1, 1]
        shape[axis + 1] = n
        out[axis * k:(axis + 1) * k] = e.view(shape)
    return out[None, :channels].contiguous()


class DwisePositionalEncoding(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.cache = {}

    def forward(self, x):
        size = tuple(x.shape[2:])
        if size not in self.cache:
            self.cache[size] = sinusoid_3d(self.channels, *size)
        return x + self.cache[size]


class DwiseInvertedResidual(nn.Module):
    """1x1x1 expansion, depth-wise (1,3,3) stride (1,s,s), depth-wise (5,1,1), each BN + SiLU;
    squeeze-excitation over T, H, W; 1x1x1 projection + BN; DropPath; shortcut: nearest resize,
    channel tile, BN."""

    def __init__(self, c_in, c_out, stride, expansion=6, se_ratio=32, drop_path=0.0, ks=3, kt=5):
        super().__init__()
        mid = c_in * expansion
        self.stride, self.c_out, self.drop_path = stride, c_out, drop_path
        self.expand = nn.Sequential(nn.Conv3d(c_in, mid, 1, bias=False), nn.BatchNorm3d(mid), nn.SiLU(inplace=True))
        self.spatial = nn.Sequential(nn.Conv3d(mid, mid, (1, ks, ks), stride=(1, stride, stride),
                                               padding=(0, ks // 2, ks // 2), groups=mid, bias=False),
                                     nn.BatchNorm3d(mid), nn.SiLU(inplace=True))
        self.temporal = nn.Sequential(nn.Conv3d(mid, mid, (kt, 1, 1), padding=(kt // 2, 0, 0), groups=mid, bias=False),
                                      nn.BatchNorm3d(mid), nn.SiLU(inplace=True))
        self.se = nn.Sequential(nn.Conv3d(mid, mid // se_ratio, 1), nn.SiLU(inplace=True),
                                nn.Conv3d(mid // se_ratio, mid, 1), nn.Sigmoid())
        self.project = nn.Sequential(nn.Conv3d(mid, c_out, 1, bias=False), nn.BatchNorm3d(c_out))
        self.shortcut_bn = nn.BatchNorm3d(c_out)

    def forward(self, x):
        y = self.temporal(self.spatial(self.expand(x)))
        y = self.project(y * self.se(y.mean((2, 3, 4), keepdim=True)))
        s = x
        if self.stride > 1:
            t, h, w = x.shape[2:]
            s = F.interpolate(s, size=(t, -(-h // self.stride), -(-w // self.stride)), mode="nearest")
        return dwise_drop_path(y, self.drop_path, self.training) + self.shortcut_bn(tile_channels(s, self.c_out))


class DwiseCore(nn.Module):
    def __init__(self, in_channels=5, features=(64, 64, 64, 64, 128, 128, 128, 256, 256),
                 strides=(2, 1, 1, 1, 2, 1, 1, 2, 1), drop_path=0.1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(in_channels, features[0], 1, bias=False), nn.BatchNorm3d(features[0]))
        blocks, n = [], len(features)
        for i in range(n):
            blocks += [DwisePositionalEncoding(features[i]),
                       DwiseInvertedResidual(features[i], features[min(i + 1, n - 1)], strides[i],
                                             drop_path=drop_path * i / n)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        if not getattr(self, "checkpoint_blocks", False):
            return self.blocks(self.stem(x))
        # torch.utils.checkpoint per inverted-residual block (dwiseneuro-step --checkpoint): for
        # comparison with the Swift side's gradientCheckpointing (torch's replay updates the
        # BatchNorm running statistics a second time; the timing and memory are what matter here).
        x = self.stem(x)
        for layer in self.blocks:
            if isinstance(layer, DwiseInvertedResidual) and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return x


class DwiseShuffleLayer(nn.Module):
    """Grouped 1x1 Conv1d (no bias), BN + SiLU, channel shuffle, DropPath; plus tiled shortcut + BN."""

    def __init__(self, c_in, c_out, groups=2, drop_path=0.1):
        super().__init__()
        self.groups, self.c_out, self.drop_path = groups, c_out, drop_path
        self.conv = nn.Conv1d(c_in, c_out, 1, groups=groups, bias=False)
        self.bn = nn.BatchNorm1d(c_out)
        self.shortcut_bn = nn.BatchNorm1d(c_out)

    def forward(self, x):
        y = F.silu(self.bn(self.conv(x)), inplace=True)
        b, c, t = y.shape
        y = y.view(b, self.groups, c // self.groups, t).transpose(1, 2).reshape(b, c, t)
        return dwise_drop_path(y, self.drop_path, self.training) + self.shortcut_bn(tile_channels(x, self.c_out))


class DwiseReadout(nn.Module):
    """Dropout1d(0.4), grouped 1x1 Conv1d with bias to ceil(n/g) g outputs (first n kept), Softplus(beta 0.07)."""

    def __init__(self, c_in, neurons, groups=2, p=0.4, beta=0.07):
        super().__init__()
        self.neurons = neurons
        self.dropout = nn.Dropout1d(p)
        self.conv = nn.Conv1d(c_in, -(-neurons // groups) * groups, 1, groups=groups)
        self.gate = nn.Softplus(beta=beta)

    def forward(self, x):
        return self.gate(self.conv(self.dropout(x))[:, :self.neurons])


class DwiseNeuroOneMouse(nn.Module):
    def __init__(self, neurons):
        super().__init__()
        self.core = DwiseCore()
        self.cortex = nn.Sequential(*[DwiseShuffleLayer(a, b) for a, b in ((256, 1024), (1024, 2048), (2048, 4096))])
        self.readout = DwiseReadout(4096, neurons)
        for m in self.modules():                       # conv weights N(0, 2 / fan_out), biases 0
            if isinstance(m, (nn.Conv1d, nn.Conv3d)):
                fan_out = m.weight[0].numel() // m.weight.shape[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, (2.0 / fan_out) ** 0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):                              # (B, 5, T, H, W) -> (B, n, T)
        return self.readout(self.cortex(self.core(x).mean((3, 4))))


def dwiseneuro_step(args):
    """Forward and backward of a summed Poisson loss, no optimizer step (as `sensorium-bench dwiseneuro-step`)."""
    torch.manual_seed(0)
    batch, neurons = 4, 8000
    model = DwiseNeuroOneMouse(neurons)
    model.core.checkpoint_blocks = getattr(args, "checkpoint", False)
    model.train()
    x = torch.rand(batch, 5, 16, 64, 64)
    target = torch.rand(batch, neurons, 16)            # (B, n, T): the Swift side's (B, T, n), transposed
    core_times = []

    def step():
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        features = model.core(x)
        core_times.append(time.perf_counter() - t0)
        out = model.readout(model.cortex(features.mean((3, 4))))
        (out - target * torch.log(out + 1e-8)).sum().backward()

    step.parameters = sum(p.numel() for p in model.parameters())
    step.core_times = core_times
    return step, None


WORKLOADS = {
    "sgemm-1024": sgemm_1024,
    "conv-spatial": conv_spatial,
    "conv-temporal": conv_temporal,
    "factorized-small": factorized_small,
    "factorized-paper": factorized_paper,
    "readout-8k": readout_8k,
    "loader": loader,
    "swin-step": swin_step,
    "vivit-step": vivit_step,
    "dwiseneuro-step": dwiseneuro_step,
}

DEFAULT_RUNS = {"sgemm-1024": 20, "factorized-paper": 3, "loader": 3, "dwiseneuro-step": 3}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mouse", default=None)
    p.add_argument("--checkpoint", action="store_true",
                   help="dwiseneuro-step: torch.utils.checkpoint around every inverted-residual block")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runs = args.runs or DEFAULT_RUNS.get(args.workload, 5)

    base_rss = rss_bytes()
    step, flops = WORKLOADS[args.workload](args)
    step()  # warm-up (first-touch allocations, oneDNN primitive creation)
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = cpu_seconds(), time.perf_counter()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds() - c0)
    med = statistics.median(wall)
    result = {
        "workload": args.workload,
        "implementation": "pytorch",
        "version": torch.__version__,
        "median_s": med,
        "min_s": min(wall),
        "max_s": max(wall),
        "cpu_median_s": statistics.median(cpu),
        "runs": runs,
        "threads": torch.get_num_threads(),
        "peak_rss_bytes": peak_rss_bytes(),
        "workload_peak_bytes": peak_rss_bytes() - base_rss,
        "blas": ("mkl" if torch.backends.mkl.is_available() else "native")
        + ("+onednn" if torch.backends.mkldnn.is_available() else ""),
    }
    if flops:
        result["gflops"] = flops / med / 1e9
        result["gflop_per_cpu_s"] = flops / statistics.median(cpu) / 1e9
    if hasattr(step, "clips"):
        result["clips_per_s"] = step.clips / med
    if hasattr(step, "core_times"):
        result["core_forward_median_s"] = statistics.median(step.core_times[-runs:])
    if hasattr(step, "parameters"):
        result["parameters"] = step.parameters
    if args.checkpoint:
        result["gradient_checkpointing"] = 1
    print(json.dumps(result))


if __name__ == "__main__":
    main()
