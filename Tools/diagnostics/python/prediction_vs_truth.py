#!/usr/bin/env python3
"""How far a model's predictions are from a synthetic mouse's true rates, and what would close it.

Reads the main test tiers' predictions that `sensorium predict --format npy` wrote
(`<predictions>/<mouse>/{live,final}_test_main/<trial>.npy`, `(neurons, frames − skip)`), the
responses and the generator's noise-free rates of the same trials (`<data>/<mouse>/data/responses/`,
`data/rates/`), averages each tier's repeats, and prints per-neuron means of:

- ρ_ta of the predictions against the averaged responses, and of the true rates (the ceiling);
- the correlation of the averaged predictions with the averaged true rates (the model's fidelity);
- the same after a causal exponential smoothing of the predictions (is temporal smoothing missing?);
- after the best per-neuron power of the predictions and after a per-neuron linear filter of lags
  −4 … 4 fitted to the true rates (both fitted on the scored frames themselves: upper bounds of what
  an output nonlinearity or temporal filter could add).

Needs numpy. The pooling here (each tier's repeats averaged, per-neuron correlations averaged over
the tiers) is close to but not exactly `sensorium evaluate`'s; compare fractions of the ceiling.

    sensorium predict -m RUN DATA -o PRED --format npy
    python3 Tools/diagnostics/python/prediction_vs_truth.py PRED DATA
"""
import argparse
import glob
import os

import numpy as np

TIERS = ["live_test_main", "final_test_main"]


def correlation(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)


def load(predictions, data, skip):
    """Per mouse, per tier: the repeat averages (neurons, frames) of predictions, responses, rates."""
    mice = []
    for mouse in sorted(os.listdir(predictions)):
        if not os.path.isdir(os.path.join(predictions, mouse)):
            continue
        tiers = []
        for tier in TIERS:
            files = sorted(glob.glob(os.path.join(predictions, mouse, tier, "*.npy")))
            if not files:
                continue
            p, r, t = [], [], []
            for f in files:
                trial = os.path.basename(f)[:-4]
                x = np.load(f)
                p.append(x)
                r.append(np.load(os.path.join(data, mouse, "data", "responses", trial + ".npy"))[:, skip:skip + x.shape[1]])
                t.append(np.load(os.path.join(data, mouse, "data", "rates", trial + ".npy"))[:, skip:skip + x.shape[1]])
            frames = min(a.shape[1] for a in p + r + t)
            tiers.append(tuple(np.nanmean([a[:, :frames] for a in arrays], 0) for arrays in (p, r, t)))
        if tiers:
            mice.append(tiers)
    if not mice:
        raise SystemExit(f"no predictions of {TIERS} under {predictions}")
    return mice


def score(mice, transform=lambda p: p, target=1):
    """Per-neuron correlation of transformed predictions with responses (target 1) or rates (2)."""
    return np.concatenate([np.mean([correlation(transform(tier[0]), tier[target]) for tier in tiers], 0) for tiers in mice])


def causal(p, tau, taps=8):
    weights = np.exp(-np.arange(taps) / tau)
    weights /= weights.sum()
    out = np.zeros_like(p)
    for k, w in enumerate(weights):
        out += w * (p if k == 0 else np.concatenate([np.repeat(p[:, :1], k, 1), p[:, :p.shape[1] - k]], 1))
    return out


def fitted_filter(mice, lags):
    scores = []
    for tiers in mice:
        p = np.concatenate([t[0] for t in tiers], 1)
        rates = np.concatenate([t[2] for t in tiers], 1)
        design = np.stack([np.roll(p, lag, 1) for lag in lags] + [np.ones_like(p)], 2)
        # Only the frames whose every lag is inside the data (np.roll wraps around the ends).
        edge = max(abs(lag) for lag in lags)
        design, rates = design[:, edge:p.shape[1] - edge], rates[:, edge:p.shape[1] - edge]
        for i in range(p.shape[0]):
            w, *_ = np.linalg.lstsq(design[i], rates[i], rcond=None)
            scores.append(np.corrcoef(design[i] @ w, rates[i])[0, 1])
    return np.array(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions", help="the folder `sensorium predict --format npy` wrote")
    parser.add_argument("data", help="the folder of the synthetic mice")
    parser.add_argument("--skip-frames", type=int, default=50, help="the frames `sensorium predict` skipped (default 50)")
    args = parser.parse_args()
    mice = load(args.predictions, args.data, args.skip_frames)
    model = score(mice)
    ceiling = np.concatenate([np.mean([correlation(t[2], t[1]) for t in tiers], 0) for tiers in mice])
    print(f"ρ_ta {model.mean():.4f}, ceiling {ceiling.mean():.4f} ({model.mean() / ceiling.mean():.1%}), {len(model)} neurons")
    print(f"correlation with the true rates {score(mice, target=2).mean():.4f}")
    for tau in (0.5, 1, 2):
        print(f"causal smoothing τ = {tau} frames: ρ_ta {score(mice, lambda p: causal(p, tau)).mean():.4f}, "
              f"with the rates {score(mice, lambda p: causal(p, tau), 2).mean():.4f}")
    best = None
    for power in (0.5, 0.75, 1, 1.5, 2, 3):
        s = score(mice, lambda p: np.maximum(p, 1e-6) ** power)
        best = s if best is None else np.maximum(best, s)
    print(f"best per-neuron power (fitted on these frames): ρ_ta {best.mean():.4f}")
    print(f"per-neuron linear filter of lags −4 … 4 fitted to the rates: correlation {fitted_filter(mice, range(-4, 5)).mean():.4f} "
          f"(lag 0 alone: {fitted_filter(mice, [0]).mean():.4f})")


if __name__ == "__main__":
    main()
