"""Generates the extra core fixtures in this folder from neuralpredictors (PyTorch), covering options
the shared fixtures do not (Basic3dCore, padding, bias/scale variants, skip connections, stacking,
dilation, averaged LaplaceL2 regulariser, hidden layers that take the width-Winograd convolution path).

Run once with PyTorch and a neuralpredictors checkout on PYTHONPATH:
    PYTHONPATH=/path/to/neuralpredictors python3 generate.py
Each case folder holds core.json (the constructor arguments), state/<key>.npy, input.npy,
output.npy (eval mode) and regularizer.npy (sum of the regularizer's terms), all float32.
"""
import json, os, shutil, sys, types



class _Stub(types.ModuleType):
    """Stands in for optional dependencies the cores never call (plotting, progress bars, ...)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None})


for m in ["matplotlib", "matplotlib.pyplot", "torchvision", "torchvision.models", "tqdm"]:
    try:
        __import__(m)
    except ImportError:
        sys.modules[m] = _Stub(m)
import numpy as np
import torch

from neuralpredictors.layers.cores.conv3d import Basic3dCore, Factorized3dCore
from neuralpredictors.layers.cores.conv2d import Stacked2dCore, RotationEquivariant2dCore

HERE = os.path.dirname(os.path.abspath(__file__))


def randomize(core, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in core.named_parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if name.endswith("norm.weight") else 0.0))
        for name, b in core.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def save(name, cls, kwargs, input_shape, seed):
    torch.manual_seed(seed)
    core = cls(**kwargs)
    randomize(core, seed)
    core.eval()
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        y = core(x)
        reg = core.regularizer()
        reg = sum(reg) if isinstance(reg, tuple) else reg
    folder = os.path.join(HERE, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "state"))
    for key, value in core.state_dict().items():
        np.save(os.path.join(folder, "state", key + ".npy"), value.numpy().astype(np.float32))
    np.save(os.path.join(folder, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(folder, "output.npy"), y.numpy().astype(np.float32))
    np.save(os.path.join(folder, "regularizer.npy"), np.float32(reg.item()))
    with open(os.path.join(folder, "core.json"), "w") as f:
        json.dump({"core": cls.__name__, "kwargs": kwargs, "tol": {"rtol": 1e-3, "atol": 1e-4}}, f, indent=1)
    print(name, tuple(y.shape), float(reg))


save("basic3d_padded", Basic3dCore,
     dict(input_channels=2, hidden_channels=[3, 4], input_kernel=[5, 3, 3], hidden_kernel=[3, 3, 3], layers=2,
          padding=True, momentum=0.7, gamma_input_spatial=10.0, gamma_input_temporal=0.01, final_nonlin=True),
     (2, 2, 9, 7, 8), 11)
save("factorized3d_nobias_padded", Factorized3dCore,
     dict(input_channels=2, hidden_channels=[3, 4], spatial_input_kernel=(5, 5), temporal_input_kernel=3,
          spatial_hidden_kernel=(3, 3), temporal_hidden_kernel=2, final_nonlin=False, layers=2, bias=False,
          padding=True, momentum=0.3, gamma_input_spatial=2.0, gamma_input_temporal=0.5),
     (1, 2, 8, 9, 10), 12)
# Hidden layers wide enough for the width-Winograd path of the per-frame spatial convolutions
# (at least 8 input channels, 5- to 7-wide kernels, rows of at least 8 outputs).
save("factorized3d_winograd_7x7_padded", Factorized3dCore,
     dict(input_channels=3, hidden_channels=[12, 16], spatial_input_kernel=(7, 7), temporal_input_kernel=3,
          spatial_hidden_kernel=(7, 7), temporal_hidden_kernel=3, final_nonlin=True, layers=2, bias=True,
          padding=True, momentum=0.7, gamma_input_spatial=10.0, gamma_input_temporal=0.01),
     (2, 3, 6, 14, 23), 15)
save("factorized3d_winograd_5x5_valid", Factorized3dCore,
     dict(input_channels=2, hidden_channels=[9, 8, 10], spatial_input_kernel=(5, 5), temporal_input_kernel=2,
          spatial_hidden_kernel=(5, 5), temporal_hidden_kernel=2, final_nonlin=True, layers=3, bias=True,
          padding=False, momentum=0.7, gamma_input_spatial=10.0, gamma_input_temporal=0.01),
     (1, 2, 5, 17, 29), 16)
save("stacked2d_skip_stack_dilation", Stacked2dCore,
     dict(input_channels=2, hidden_channels=3, input_kern=5, hidden_kern=3, layers=3, skip=2, pad_input=True,
          batch_norm_scale=False, final_batchnorm_scale=False, final_nonlinearity=True, hidden_dilation=2,
          gamma_input=3.0, gamma_hidden=7.0, input_regularizer="LaplaceL2", laplace_padding=0, use_avg_reg=True),
     (2, 2, 9, 10), 13)
save("rotation_equivariant2d_all_layers", RotationEquivariant2dCore,
     dict(input_channels=1, hidden_channels=2, input_kern=3, hidden_kern=3, layers=3, num_rotations=3, upsampling=1,
          pad_input=True, final_nonlinearity=True, batch_norm_scale=False, final_batchnorm_scale=False,
          gamma_input=5.0, gamma_hidden=11.0, input_regularizer="LaplaceL2norm", laplace_padding=None,
          use_avg_reg=False, stack=None),
     (2, 1, 7, 6), 14)
