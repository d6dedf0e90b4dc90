#!/usr/bin/env python3
"""Train the SENSORIUM 2023 reference factorised baseline with the starter kit's own code, for a
fixed number of epochs and several seeds, and score it the way `sensorium evaluate` does.

This is the PyTorch side of `make validate` (Tools/validate.py, Documentation/Validation.md). It
never becomes part of the Swift package; it imports, unchanged:

  * the `sensorium_2023` starter kit (ecker-lab/sensorium_2023): `mouse_video_loader`,
    `make_video_model` and `standard_trainer`, from a checkout given by `--starter-kit PATH` or the
    environment variable SENSORIUM_STARTER_KIT (the folder that holds `sensorium/`);
  * `neuralpredictors` from `--neuralpredictors PATH` / SENSORIUM_NEURALPREDICTORS (a checkout of
    sinzlab/neuralpredictors holding `neuralpredictors/`), else whatever `import neuralpredictors`
    finds. Use its HEAD (measured with a2055cd): the commit the kit pins (43faeded) cannot build a
    factorised core with a per-layer channel list (BatchNorm3d gets the list), and the PyPI wheel
    (`pip install neuralpredictors`, 0.3.0) predates the video loaders and 3-D cores altogether
    (and fails to import on Python >= 3.10):

      git clone https://github.com/sinzlab/neuralpredictors np
      git clone https://github.com/ecker-lab/sensorium_2023 kit
      python3 Tools/reference_training.py MICE... --starter-kit kit --neuralpredictors np \
          --recipe Tools/validate.json --seeds 1 2 3 --output reference.json --work work/

  `nnfabrik` (only `set_random_seed`), `wandb` (imported, unused with use_wandb=False) and
  `torchvision` (imported by neuralpredictors for a core not used here) are replaced by small
  stand-ins when they are not installed; torch, numpy, pandas, h5py, tqdm, scikit-image and
  matplotlib are needed (`pip install torch pandas h5py tqdm scikit-image matplotlib`).

The model and recipe come from a recipe JSON (`--recipe`, see Tools/validate.json): the core's
sizes (`core`), the trainer's epochs, and the data's clip length and batch size. Everything else is
the kit's benchmark notebook (`notebooks/benchmarks_training.ipynb`): factorised 3-D core with the
notebook's regularisers and batch norm, `FullGaussian2d` readouts with the cortex grid predictor,
MLP shifters, ELU + 1, Poisson loss summed and scaled by sqrt(K / B), AdamW lr 5e-3,
ReduceLROnPlateau (patience 5, factor 0.3), early stopping with 4 decay steps, restore best.
One deliberate change: the trainer's validation loaders (its `dataloaders["oracle"]`) hold whole
oracle trials, one per batch, as the SDK validates (Documentation/Training.md), instead of random
80-frame crops, so that the early-stopping objective is the same function on both sides.

Scores, per seed (the JSON written to `--output`): ρ_st and ρ_ta of the validation tier (oracle),
the main track (live_test_main and final_test_main pooled) and the bonus track (the mean over the
out-of-distribution families of both bonus tiers), computed as `sensorium evaluate` does: whole
trials cut to their true length and to at most 300 frames, the first 50 frames skipped, each
neuron's correlation over all kept frames of all trials of the group (ρ_st), or over the videos
averaged frame by frame over their repeats (ρ_ta), then the mean over all neurons of all mice.
With `--work DIR` each seed's trained weights (`DIR/seed<S>/final.pth`) and the `make_video_model`
keyword arguments (`DIR/make_video_model.json`) are kept, for `Tools/convert_pytorch_checkpoint.py`
and `sensorium import`, which lets the SDK score the very same model (Tools/validate.py does).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import types

import numpy as np

TESTED_NEURALPREDICTORS = "a2055cdad9de1f0c07033484d628588d8aa7acc4"


# --------------------------------------------------------------------------- environment

def _install_stand_ins():
    """nnfabrik and wandb are imported by the kit but not needed for training on a CPU."""
    try:
        import nnfabrik.utility.nn_helpers  # noqa: F401
    except ImportError:
        import torch

        def set_random_seed(seed, deterministic=True):
            # nnfabrik.utility.nn_helpers.set_random_seed
            random.seed(seed)
            np.random.seed(seed)
            if deterministic:
                torch.backends.cudnn.benchmark = False
                torch.backends.cudnn.deterministic = True
            torch.manual_seed(seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed(seed)

        nnfabrik = types.ModuleType("nnfabrik")
        utility = types.ModuleType("nnfabrik.utility")
        helpers = types.ModuleType("nnfabrik.utility.nn_helpers")
        helpers.set_random_seed = set_random_seed
        nnfabrik.utility = utility
        utility.nn_helpers = helpers
        sys.modules.update({"nnfabrik": nnfabrik, "nnfabrik.utility": utility, "nnfabrik.utility.nn_helpers": helpers})
    try:
        import wandb  # noqa: F401
    except ImportError:
        sys.modules["wandb"] = types.ModuleType("wandb")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        # neuralpredictors imports it at module level for TransferLearningCore only.
        sys.modules["torchvision"] = types.ModuleType("torchvision")


def _adapt_torch():
    """The kit passes `verbose=` to ReduceLROnPlateau, which newer torch no longer accepts."""
    import inspect

    import torch
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    if "verbose" not in inspect.signature(plateau.__init__).parameters:
        class ReduceLROnPlateau(plateau):
            def __init__(self, *args, verbose=False, **kwargs):
                super().__init__(*args, **kwargs)
        torch.optim.lr_scheduler.ReduceLROnPlateau = ReduceLROnPlateau


def setup_imports(starter_kit: str | None, neuralpredictors: str | None):
    kit = starter_kit or os.environ.get("SENSORIUM_STARTER_KIT")
    if not kit or not os.path.isdir(os.path.join(kit, "sensorium")):
        sys.exit("error: give the sensorium_2023 starter kit checkout with --starter-kit PATH or SENSORIUM_STARTER_KIT "
                 f"(a folder holding sensorium/); got {kit!r}")
    npath = neuralpredictors or os.environ.get("SENSORIUM_NEURALPREDICTORS")
    if npath:
        if not os.path.isdir(os.path.join(npath, "neuralpredictors")):
            sys.exit(f"error: {npath} holds no neuralpredictors/ package")
        sys.path.insert(0, os.path.abspath(npath))
    sys.path.insert(0, os.path.abspath(kit))
    _install_stand_ins()
    _adapt_torch()
    try:
        import neuralpredictors.data.transforms as transforms
        from neuralpredictors.layers.cores.conv3d import Factorized3dCore  # noqa: F401
        if not hasattr(transforms, "CutVideos"):
            raise ImportError("neuralpredictors.data.transforms has no CutVideos")
    except ModuleNotFoundError as error:
        if error.name and not error.name.startswith("neuralpredictors"):
            sys.exit(f"error: neuralpredictors needs {error.name} (pip install {error.name.replace('skimage', 'scikit-image')})")
        sys.exit(f"error: no usable neuralpredictors ({error}): give a checkout of sinzlab/neuralpredictors "
                 f"(tested: {TESTED_NEURALPREDICTORS}) with --neuralpredictors PATH")
    except Exception as error:  # noqa: BLE001
        sys.exit(f"error: neuralpredictors lacks the video code the starter kit needs ({error}); the PyPI wheel "
                 f"predates it: give a checkout of sinzlab/neuralpredictors (tested: {TESTED_NEURALPREDICTORS}) "
                 "with --neuralpredictors PATH")


# --------------------------------------------------------------------------- recipe

def kit_arguments(recipe: dict) -> dict:
    """The `make_video_model` keyword arguments of the notebook's factorised baseline, with the
    core's sizes from the recipe."""
    core = recipe.get("core", {})
    layers = len(core.get("hiddenChannels", [32, 64, 128]))
    core_dict = dict(
        input_channels=3,
        hidden_channels=core.get("hiddenChannels", [32, 64, 128]),
        spatial_input_kernel=tuple(core.get("spatialInputKernel", [11, 11])),
        temporal_input_kernel=core.get("temporalInputKernel", 11),
        spatial_hidden_kernel=tuple(core.get("spatialHiddenKernel", [5, 5])),
        temporal_hidden_kernel=core.get("temporalHiddenKernel", 5),
        stride=core.get("stride", 1),
        layers=layers,
        gamma_input_spatial=10,
        gamma_input_temporal=0.01,
        bias=True,
        hidden_nonlinearities="elu",
        x_shift=0,
        y_shift=0,
        batch_norm=True,
        laplace_padding=None,
        input_regularizer="LaplaceL2norm",
        padding=False,
        final_nonlin=True,
        momentum=0.7,
    )
    shifter_dict = dict(gamma_shifter=0, shift_layers=3, input_channels_shifter=2, hidden_channels_shifter=5)
    readout_dict = dict(
        bias=True, init_mu_range=0.2, init_sigma=1.0, gamma_readout=0.0, gauss_type="full",
        grid_mean_predictor={"type": "cortex", "input_dimensions": 2, "hidden_layers": 1, "hidden_features": 30,
                             "final_tanh": True},
        share_features=False, share_grid=False, shared_match_ids=None, gamma_grid_dispersion=0.0,
    )
    return dict(core_dict=core_dict, core_type="3D_factorised", readout_dict=readout_dict, readout_type="gaussian",
                use_gru=False, gru_dict=None, use_shifter=True, shifter_dict=shifter_dict, shifter_type="MLP")


# --------------------------------------------------------------------------- scoring (as `sensorium evaluate`)

SKIP_FRAMES = 50
MAX_FRAMES = 300


def _corr_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-column Pearson correlation (frames × neurons), float64; 0 where a column is constant."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    num = (x * y).sum(0)
    den = np.sqrt((x * x).sum(0) * (y * y).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r[~np.isfinite(r)] = 0.0
    return r


def _whole_trial_predictions(model, dataset, indices, data_key):
    """(responses, predictions) per trial, each (frames − 50, neurons), of trials cut to their true
    length (the kit's to_cut=False loader) and to at most 300 frames."""
    import torch
    out = {}
    model.eval()
    with torch.no_grad():
        for i in indices:
            item = dataset[int(i)]
            t = min(item.videos.shape[1], MAX_FRAMES)
            batch = {k: getattr(item, k)[..., :t].unsqueeze(0) for k in item._fields}
            pred = model(batch["videos"], data_key=data_key, **batch)[0].numpy()  # (t', neurons)
            resp = batch["responses"][0].numpy().T[SKIP_FRAMES:]                  # (t − 50, neurons)
            if pred.shape[0] < resp.shape[0]:
                raise RuntimeError(f"prediction of {pred.shape[0]} frames is shorter than the {resp.shape[0]} scored")
            out[int(i)] = (resp, pred[-resp.shape[0]:])
    return out


def _group_scores(trials: dict, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron ρ_st and ρ_ta over the trials of one group of one mouse."""
    order = sorted(trials)
    resp = np.concatenate([trials[i][0] for i in order])
    pred = np.concatenate([trials[i][1] for i in order])
    rho_st = _corr_columns(resp, pred)
    videos: dict = {}
    for i in order:
        videos.setdefault(hashes[i], []).append(i)
    avg_r, avg_p = [], []
    for key in sorted(videos, key=lambda k: min(videos[k])):
        members = videos[key]
        length = max(trials[i][0].shape[0] for i in members)
        n = trials[members[0]][0].shape[1]
        sr, sp, count = np.zeros((length, n)), np.zeros((length, n)), np.zeros((length, 1))
        for i in members:
            r, p = trials[i]
            sr[:r.shape[0]] += r
            sp[:r.shape[0]] += p
            count[:r.shape[0]] += 1
        avg_r.append(sr / count)
        avg_p.append(sp / count)
    rho_ta = _corr_columns(np.concatenate(avg_r), np.concatenate(avg_p))
    return rho_st, rho_ta


def score_model(model, full_datasets: dict, mouse_paths: dict) -> dict:
    """Validation, main and bonus scores (neuron-weighted over mice) of a model."""
    per_group: dict[str, list] = {}
    for name, dataset in full_datasets.items():
        path = mouse_paths[name]
        tiers = np.load(os.path.join(path, "meta/trials/tiers.npy")).astype(str)
        hashes = np.load(os.path.join(path, "meta/trials/condition_hashes.npy"), allow_pickle=True).astype(str)
        types_path = os.path.join(path, "meta/trials/types.npy")
        kinds = np.load(types_path, allow_pickle=True).astype(str) if os.path.exists(types_path) else None
        groups = {
            "validation": np.where(tiers == "oracle")[0],
            "main": np.where((tiers == "live_test_main") | (tiers == "final_test_main"))[0],
        }
        bonus = np.where((tiers == "live_test_bonus") | (tiers == "final_test_bonus"))[0]
        if len(bonus):
            if kinds is None:
                groups["bonus"] = bonus
            else:
                for family in sorted(set(kinds[bonus])):
                    groups[f"bonus/{family}"] = bonus[kinds[bonus] == family]
        needed = sorted(set(np.concatenate(list(groups.values())).tolist()))
        trials = _whole_trial_predictions(model, dataset, needed, name)
        for group, idx in groups.items():
            if len(idx) == 0:
                continue
            st, ta = _group_scores({int(i): trials[int(i)] for i in idx}, hashes)
            per_group.setdefault(group, []).append((st, ta))
    scores = {}
    for group, parts in per_group.items():
        st = np.concatenate([p[0] for p in parts])
        ta = np.concatenate([p[1] for p in parts])
        scores[group] = {"single_trial": float(st.mean()), "to_average": float(ta.mean()), "neurons": int(st.size)}
    families = [g for g in scores if g.startswith("bonus/")]
    if families:
        scores["bonus"] = {"single_trial": float(np.mean([scores[f]["single_trial"] for f in families])),
                           "to_average": float(np.mean([scores[f]["to_average"] for f in families])),
                           "families": len(families)}
    return scores


# --------------------------------------------------------------------------- training

def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def train_seed(seed: int, mice: list[str], recipe: dict, work: str | None, threads: int) -> dict:
    import torch
    from sensorium.datasets.mouse_video_loaders import mouse_video_loader
    from sensorium.models.make_model import make_video_model
    from sensorium.training.video_training_loop import standard_trainer

    torch.set_num_threads(threads)
    data = recipe.get("data", {})
    trainer = recipe.get("trainer", {})
    paths = [m if m.endswith("/") else m + "/" for m in mice]
    names = [p.split("/")[-2] for p in paths]
    start_cpu, start_wall = cpu_seconds(), time.time()

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    loaders = mouse_video_loader(paths=paths, batch_size=data.get("batchSize", 8), scale=1, max_frame=None,
                                 frames=data.get("frames", 80), offset=-1, include_behavior=True,
                                 include_pupil_centers=True, cuda=False)
    whole = mouse_video_loader(paths=paths, batch_size=1, scale=1, max_frame=None, frames=data.get("frames", 80),
                               offset=-1, include_behavior=True, include_pupil_centers=True, cuda=False, to_cut=False)
    dataloaders = {"train": loaders["train"], "oracle": whole["oracle"]}

    arguments = kit_arguments(recipe)
    model = make_video_model(loaders["train"], seed, deeplake_ds=False, **copy.deepcopy(arguments))  # it edits readout_dict
    parameters = int(sum(p.numel() for p in model.parameters() if p.requires_grad))

    history = []
    import sensorium.training.video_training_loop as loop
    original_correlations = loop.get_correlations

    def recording_correlations(*args, **kwargs):
        value = original_correlations(*args, **kwargs)
        if kwargs.get("per_neuron") is False and not kwargs.get("as_dict", False):
            history.append(float(value))
        return value

    loop.get_correlations = recording_correlations
    with tempfile.TemporaryDirectory() as scratch:
        best, _, _ = standard_trainer(
            model, dataloaders, seed, device="cpu", use_wandb=False, verbose=False,
            lr_init=trainer.get("learningRate", 0.005), lr_decay_steps=trainer.get("lrDecaySteps", 4),
            patience=trainer.get("patience", 5), max_iter=trainer.get("epochs", 200),
            save_checkpoints=False, checkpoint_save_path=scratch + "/")
    loop.get_correlations = original_correlations
    train_cpu, train_wall = cpu_seconds() - start_cpu, time.time() - start_wall

    dataset = {name: whole["oracle"][name].dataset for name in names}  # one dataset serves every tier
    scores = score_model(model, dataset, dict(zip(names, paths)))
    result = {
        "seed": seed, "parameters": parameters, "epochs": trainer.get("epochs", 200),
        "best_training_validation": float(best),
        "training_validation_per_epoch": history,
        "train_cpu_seconds": train_cpu, "train_wall_seconds": train_wall,
        "score_cpu_seconds": cpu_seconds() - start_cpu - train_cpu,
        "scores": scores,
    }
    if work:
        folder = os.path.join(work, f"seed{seed}")
        os.makedirs(folder, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(folder, "final.pth"))
        with open(os.path.join(work, "make_video_model.json"), "w") as f:
            json.dump(dict(arguments, seed=seed), f, indent=1)
        result["state"] = os.path.join(folder, "final.pth")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mice", nargs="+", help="mouse folders (e.g. written by `sensorium synth`)")
    parser.add_argument("--recipe", required=True, help="recipe JSON (Tools/validate.json)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--output", required=True, help="JSON file for the per-seed scores")
    parser.add_argument("--work", help="folder for trained weights and make_video_model arguments")
    parser.add_argument("--starter-kit", help="sensorium_2023 checkout (default: $SENSORIUM_STARTER_KIT)")
    parser.add_argument("--neuralpredictors", help="neuralpredictors checkout (default: $SENSORIUM_NEURALPREDICTORS)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()

    setup_imports(args.starter_kit, args.neuralpredictors)
    import torch
    with open(args.recipe) as f:
        recipe = json.load(f)
    runs = []
    for seed in args.seeds:
        print(f"reference: seed {seed}", flush=True)
        runs.append(train_seed(seed, args.mice, recipe, args.work, args.threads))
        r = runs[-1]
        print(f"reference: seed {seed}: validation ρ_st {r['scores']['validation']['single_trial']:.4f}, main ρ_st "
              f"{r['scores']['main']['single_trial']:.4f} ρ_ta {r['scores']['main']['to_average']:.4f}, "
              f"{r['train_cpu_seconds']:.0f} CPU s", flush=True)
        with open(args.output, "w") as f:
            json.dump({"side": "reference", "recipe": recipe, "torch": torch.__version__, "python": platform.python_version(),
                       "threads": args.threads, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
