#!/usr/bin/env python3
"""Checks that mouse folders (e.g. the SDK's synthetic mice) load, unchanged, through the
reference PyTorch loader: sensorium_2023's `mouse_video_loader` over neuralpredictors'
`MovieFileTreeDataset`.

Neither package is a dependency of the SDK. Make them importable first, e.g.

    pip install torch scikit-image tqdm pandas h5py
    # neuralpredictors from git (the PyPI 0.3.0 wheel predates the video transforms):
    git clone https://github.com/sinzlab/neuralpredictors <src>/np
    git clone https://github.com/ecker-lab/sensorium_2023 <src>/sensorium_2023
    PYTHONPATH=<src>/np:<src>/sensorium_2023 python Tools/verify_synthetic_with_reference.py <data>/*/

For every mouse it builds the baseline training loaders (batch 8, 80-frame clips, behaviour as
channels, pupil centre, normalisation) and iterates every batch of every tier, then builds the
submission loaders (to_cut=False, batch 1) and checks every full trial. With --swift-dump DIR
(written by the SDK, see Documentation/DataFormat.md) it also compares trial lengths and the
normalised arrays with the SDK's own reading, element by element.

Exit status 0 when every check passes.
"""
import argparse
import json
import os
import sys

import numpy as np


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check_mouse(path, swift_dump, frames, batch_size):
    import torch
    from sensorium.datasets.mouse_video_loaders import mouse_video_loader

    if not path.endswith("/"):
        path += "/"  # the reference names mice by path.split("/")[-2]
    name = path.split("/")[-2]
    tiers = np.load(os.path.join(path, "meta/trials/tiers.npy"))
    neurons = len(np.load(os.path.join(path, "meta/neurons/unit_ids.npy")))
    h, w, _ = np.load(os.path.join(path, "data/videos/0.npy")).shape
    summary = {"mouse": name, "neurons": neurons, "tiers": {}}

    # 1. Training-style loaders, every tier, every batch.
    loaders = mouse_video_loader(paths=[path], batch_size=batch_size, frames=frames, include_behavior=True,
                                 include_pupil_centers=True, include_pupil_centers_as_channels=False,
                                 to_cut=True, normalize=True, scale=1)
    expected_tiers = sorted(set(str(t) for t in tiers) - {"none"})
    if sorted(loaders.keys()) != expected_tiers:
        fail(f"{name}: reference loader tiers {sorted(loaders.keys())}, expected {expected_tiers}")
    for tier, by_mouse in loaders.items():
        loader = by_mouse[name]
        seen = 0
        for batch in loader:
            videos, responses, behavior, pupil = batch.videos, batch.responses, batch.behavior, batch.pupil_center
            b = videos.shape[0]
            if tuple(videos.shape) != (b, 3, frames, h, w):
                fail(f"{name}/{tier}: videos {tuple(videos.shape)}, expected ({b}, 3, {frames}, {h}, {w})")
            if tuple(responses.shape) != (b, neurons, frames):
                fail(f"{name}/{tier}: responses {tuple(responses.shape)}")
            if tuple(behavior.shape) != (b, 2, frames) or tuple(pupil.shape) != (b, 2, frames):
                fail(f"{name}/{tier}: behavior {tuple(behavior.shape)} pupil {tuple(pupil.shape)}")
            for label, x in (("videos", videos), ("responses", responses), ("behavior", behavior), ("pupil_center", pupil)):
                if not torch.isfinite(x).all():
                    fail(f"{name}/{tier}: non-finite {label} in a training batch")
            seen += b
        if seen != int((tiers == tier).sum()):
            fail(f"{name}/{tier}: iterated {seen} trials, tier has {(tiers == tier).sum()}")
        summary["tiers"][tier] = seen

    # 2. Submission-style loaders: full trials, cut by the reference's NaN rule.
    full = mouse_video_loader(paths=[path], batch_size=1, frames=frames, include_behavior=True,
                              include_pupil_centers=True, to_cut=False, normalize=True, scale=1)
    dataset = next(iter(full["train"].values())).dataset
    lengths = {}
    for i in range(len(tiers)):
        if tiers[i] == "none":
            continue
        item = dataset[i]
        t = item.videos.shape[1]
        lengths[i] = t
        if tuple(item.responses.shape) != (neurons, t):
            fail(f"{name} trial {i}: responses {tuple(item.responses.shape)} vs video length {t}")
        for label, x in zip(item._fields, item):
            if not torch.isfinite(x).all():
                fail(f"{name} trial {i}: non-finite {label} after the reference's NaN cut")
    summary["full_trials"] = len(lengths)
    summary["length_range"] = [min(lengths.values()), max(lengths.values())]

    # 3. Element-wise comparison with the SDK's reading.
    if swift_dump:
        dump = os.path.join(swift_dump, name)
        ours = np.load(os.path.join(dump, "lengths.npy"))
        for i, t in lengths.items():
            if ours[i] != t:
                fail(f"{name} trial {i}: SDK length {ours[i]}, reference {t}")
        compared, worst = 0, 0.0
        for f in sorted(os.listdir(dump)):
            if not f.endswith("_videos.npy"):
                continue
            i = int(f.split("_")[0][5:])
            item = dataset[i]
            pairs = [
                ("videos", np.load(os.path.join(dump, f"trial{i}_videos.npy"))[0], item.videos.numpy()),
                ("responses", np.load(os.path.join(dump, f"trial{i}_responses.npy"))[0].T, item.responses.numpy()),
                ("behavior", np.load(os.path.join(dump, f"trial{i}_behavior.npy"))[0], item.behavior.numpy()),
                ("pupil_center", np.load(os.path.join(dump, f"trial{i}_pupil_center.npy"))[0], item.pupil_center.numpy()),
            ]
            for label, a, b in pairs:
                if a.shape != b.shape:
                    fail(f"{name} trial {i} {label}: SDK shape {a.shape}, reference {b.shape}")
                diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)) / (1 + np.abs(b.astype(np.float64)))))
                worst = max(worst, diff)
                if diff > 1e-6:
                    fail(f"{name} trial {i} {label}: SDK and reference differ by {diff}")
            compared += 1
        summary["compared_trials"] = compared
        summary["max_relative_difference"] = worst
        summary["lengths_equal"] = len(lengths)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mice", nargs="+", help="mouse folders")
    parser.add_argument("--swift-dump", help="folder with the SDK's readings (one sub-folder per mouse)")
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    np.random.seed(0)
    results = [check_mouse(m, args.swift_dump, args.frames, args.batch_size) for m in args.mice]
    print(json.dumps(results, indent=1))
    print("OK: every tier of every mouse loads through the reference loader")


if __name__ == "__main__":
    main()
