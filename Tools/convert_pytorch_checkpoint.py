#!/usr/bin/env python3
"""Turn a PyTorch checkpoint into a state-dictionary folder that Sensorium for Swift loads.

The folder holds one NumPy file per state_dict key, `<key>.npy` (e.g.
`core.features.layer0.conv_spatial.weight.npy`), the format of `VideoModel.loadPyTorchState(folder:)`
and of the model fixtures. Floating-point tensors are written as float32, integer tensors (such as
BatchNorm's `num_batches_tracked`) as int64, booleans as bool.

Accepted inputs (`.pth` / `.pt`, anything `torch.load` reads):
  * a plain state_dict (a mapping from keys to tensors), e.g. `torch.save(model.state_dict(), path)`;
  * a dict holding one under `model_state_dict`, `state_dict`, `model`, `net` or `nn_state_dict`
    (training checkpoints; DwiseNeuro's argus checkpoints use `nn_state_dict`, ViV1T's `model`);
    `--key NAME` picks another entry;
  * a whole pickled `nn.Module` (its `state_dict()` is used; needs `--unsafe`).

Usage:
  python3 Tools/convert_pytorch_checkpoint.py final.pth state/
  python3 Tools/convert_pytorch_checkpoint.py gru.pth state/ --make-video-model-args kit_args.json
  python3 Tools/convert_pytorch_checkpoint.py ckpt.pt state/ --key model_state_dict --strip-prefix module.

Every model the SENSORIUM 2023 starter kit's `make_video_model` builds converts this way: the
factorised baseline (3D_factorised core), the GRU baselines (2D or 2D_equivariant core, then
`gru_module.*`), the Gaussian or factorised readout, MLP or StaticAffine shifters. Give the
call's keyword arguments as JSON with `--make-video-model-args` and they are stored next to the
weights (`make_video_model.json`, checked for the keys the translation needs), so that

  sensorium import --state state/ MOUSE_FOLDERS... -o run/
  sensorium evaluate -m run/ MOUSE_FOLDERS...

rebuild exactly that model (see `StarterKitArguments` for the options it reads).

The released checkpoints of the SENSORIUM 2023 winners convert the same way; `sensorium import
--system` maps their keys (see `PyTorchCheckpointSystem`), and `--config` names the model (a
configuration file or a preset):

  python3 Tools/convert_pytorch_checkpoint.py fold_0.pth state/          # DwiseNeuro: nn_state_dict
  sensorium import --state state/ --system dwiseneuro --config dwiseneuro NEW_MICE... OLD_MICE... -o run/
  python3 Tools/convert_pytorch_checkpoint.py model_2_4_8_16.pth state/  # Dynamic-V1FM: module.* keys
  sensorium import --state state/ --system dynamicV1FM --config dynamicV1FM MICE... -o run/
  python3 Tools/convert_pytorch_checkpoint.py model_state.pt state/      # ViV1T: ckpt["model"]
  sensorium import --state state/ --system viv1t --config viv1t MICE... -o run/

DwiseNeuro's `readouts.<i>` and ViV1T's `readouts.<A..J>` follow each winner's own mouse order when
the mouse folders are the ten SENSORIUM 2023 mice; otherwise give the folders in the checkpoint's
readout order.

Or, in Swift:
  let model = try VideoModel(configuration: configuration, mice: mice)   // the same architecture
  try model.loadPyTorchState(folder: URL(fileURLWithPath: "state"))

Requires `torch` and `numpy` (pip install torch numpy); the Swift package itself never needs them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

STATE_KEYS = ("model_state_dict", "state_dict", "model", "net", "nn_state_dict")


def fail(message: str) -> "NoReturn":  # type: ignore[name-defined]
    print(f"convert_pytorch_checkpoint: {message}", file=sys.stderr)
    sys.exit(1)


def load_checkpoint(path: str, unsafe: bool):
    import torch

    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=not unsafe)
    except Exception as error:  # noqa: BLE001 - report any loading problem plainly
        hint = "" if unsafe else " (if the file pickles more than tensors and you trust it, pass --unsafe)"
        fail(f"{path}: torch.load failed: {error}{hint}")


def is_tensor_mapping(value) -> bool:
    import torch

    return isinstance(value, Mapping) and len(value) > 0 and all(
        isinstance(k, str) for k in value.keys()
    ) and any(isinstance(v, torch.Tensor) for v in value.values())


def find_state_dict(obj, key: str | None, path: str):
    import torch

    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "the module's state_dict()"
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            found = sorted(obj.keys()) if isinstance(obj, Mapping) else type(obj).__name__
            fail(f"{path}: expected an entry '{key}', found {found}")
        value = obj[key]
        if isinstance(value, torch.nn.Module):
            return value.state_dict(), f"'{key}'.state_dict()"
        if not is_tensor_mapping(value):
            fail(f"{path}: entry '{key}' is not a mapping of tensors")
        return value, f"entry '{key}'"
    if isinstance(obj, Mapping):
        for candidate in STATE_KEYS:
            if candidate in obj and is_tensor_mapping(obj[candidate]):
                return obj[candidate], f"entry '{candidate}'"
        if is_tensor_mapping(obj):
            return obj, "the top-level mapping"
        found = sorted(str(k) for k in obj.keys())
        fail(f"{path}: expected a state_dict or a dict with one of {', '.join(STATE_KEYS)}; found keys {found} (use --key)")
    if isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            if is_tensor_mapping(item):
                return item, f"item {i} of the saved {type(obj).__name__}"
    fail(f"{path}: expected a state_dict, found a {type(obj).__name__}")


def to_numpy(tensor):
    import numpy as np
    import torch

    t = tensor.detach().cpu()
    if t.is_floating_point() or t.is_complex():
        if t.is_complex():
            raise ValueError("complex tensors are not supported")
        return t.to(torch.float32).contiguous().numpy()
    if t.dtype == torch.bool:
        return t.contiguous().numpy().astype(np.bool_)
    return t.to(torch.int64).contiguous().numpy()


KIT_ARGUMENTS_FILE = "make_video_model.json"
KIT_REQUIRED = ("core_type", "core_dict", "readout_type", "readout_dict")


def read_kit_arguments(path: str) -> dict:
    """The make_video_model keyword arguments, checked for the entries the Swift side needs."""
    import json

    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            arguments = json.load(handle)
    except (OSError, ValueError) as error:
        fail(f"{path}: not a JSON file ({error})")
    if not isinstance(arguments, dict):
        fail(f"{path}: expected a JSON object of make_video_model's keyword arguments")
    missing = [key for key in KIT_REQUIRED if key not in arguments]
    if missing:
        fail(f"{path}: missing {', '.join(missing)} (the make_video_model call's keyword arguments)")
    arguments.pop("dataloaders", None)
    return arguments


def convert(args) -> int:
    import json

    import numpy as np
    import torch

    kit_arguments = read_kit_arguments(args.make_video_model_args) if args.make_video_model_args else None
    obj = load_checkpoint(args.checkpoint, args.unsafe)
    state, where = find_state_dict(obj, args.key, args.checkpoint)

    out = args.output
    if os.path.exists(out) and not os.path.isdir(out):
        fail(f"{out}: exists and is not a folder")
    if os.path.isdir(out) and any(name.endswith(".npy") for name in os.listdir(out)) and not args.force:
        fail(f"{out}: already holds .npy files; pass --force to replace them")
    os.makedirs(out, exist_ok=True)
    if args.force:
        for name in os.listdir(out):
            if name.endswith(".npy"):
                os.remove(os.path.join(out, name))

    written, skipped = 0, []
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            skipped.append(key)
            continue
        name = key
        if args.strip_prefix and name.startswith(args.strip_prefix):
            name = name[len(args.strip_prefix):]
        if not name or "/" in name or os.sep in name or name.startswith("."):
            fail(f"key '{key}' cannot be a file name")
        try:
            array = to_numpy(value)
        except ValueError as error:
            fail(f"key '{key}': {error}")
        np.save(os.path.join(out, name + ".npy"), array, allow_pickle=False)
        written += 1
        if args.verbose:
            print(f"{name}: {array.dtype} {tuple(array.shape)}")

    print(f"wrote {written} tensors from {where} of {args.checkpoint} to {out}")
    if kit_arguments is not None:
        if kit_arguments.get("use_gru") and not any(k.startswith("gru_module.") for k in state):
            fail("the arguments say use_gru, but the state has no gru_module.* keys")
        with open(os.path.join(out, KIT_ARGUMENTS_FILE), "w", encoding="utf-8") as handle:
            json.dump(kit_arguments, handle, indent=1, sort_keys=True)
        print(f"wrote {KIT_ARGUMENTS_FILE} ({kit_arguments['core_type']} core, {kit_arguments['readout_type']} readout)")
    if skipped:
        print(f"skipped {len(skipped)} entries that are not tensors: {', '.join(skipped[:10])}"
              + (" ..." if len(skipped) > 10 else ""))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Turn a PyTorch checkpoint (.pth/.pt state_dict, or a dict with 'model_state_dict') "
                    "into a folder of <key>.npy files for Sensorium for Swift.")
    parser.add_argument("checkpoint", help="the .pth / .pt file")
    parser.add_argument("output", help="the folder to write (created if needed)")
    parser.add_argument("--key", help="the entry of the checkpoint dict that holds the state_dict "
                                      f"(default: the first of {', '.join(STATE_KEYS)}, else the file itself)")
    parser.add_argument("--strip-prefix", default=None,
                        help="remove this prefix from every key (e.g. 'module.' from DataParallel models)")
    parser.add_argument("--force", action="store_true", help="replace .npy files already in the folder")
    parser.add_argument("--unsafe", action="store_true",
                        help="allow arbitrary pickled objects (torch.load(weights_only=False)); only for trusted files")
    parser.add_argument("--make-video-model-args", default=None, metavar="JSON",
                        help="the starter kit's make_video_model keyword arguments (JSON); stored as "
                             f"{KIT_ARGUMENTS_FILE} for `sensorium import`")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every tensor written")
    args = parser.parse_args(argv)
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        fail(f"needs torch and numpy ({error}); install them with: pip install torch numpy")
    return convert(args)


if __name__ == "__main__":
    sys.exit(main())
