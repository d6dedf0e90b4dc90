"""Makes the SDK's own DwiseNeuro winner-format fixture cases in Tests/Fixtures/winners, in the layout of
../shared/fixtures/winners (see its README): cases the shared fixtures do not cover. `dwiseneuro_b` has an
odd canvas (20 -> 10 -> 5 -> 3, where PyTorch's nearest shortcut reads rows 0, 1, 3 of 5), a frame that is
not centred on whole rows on both sides (9 x 14 in 20 x 20), odd neuron counts (the readout's rounded-up
outputs are cut), positional encodings with C = 6 (exactly 3k) and C = 8 (truncated), and readout biases
past the softplus threshold.

    python3 Tools/make_dwiseneuro_fixtures.py /path/to/lRomul/sensorium [output folder]

The reference files are loaded by path (src/models/dwiseneuro.py, src/inputs.py, src/utils.py), which
bypasses src/__init__.py. References are the float64 evaluation of the float32 weights and inputs.
"""
import importlib.util, json, math, os, shutil, sys
import numpy as np
import torch

repo = sys.argv[1]
out_root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "winners")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(repo, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dn = load("dwiseneuro", "src/models/dwiseneuro.py")
inputs_module = load("inputs", "src/inputs.py")
utils = load("utils", "src/utils.py")

CASES = {
    "dwiseneuro_b": dict(
        seed=2, canvas=20, frame=(9, 14), frames=5, batch=2,
        config=dict(in_channels=5, core_features=[6, 8, 8], spatial_strides=[2, 2, 2], spatial_kernel=3,
                    temporal_kernel=5, expansion_ratio=4, se_reduce_ratio=4, cortex_features=[16, 24], groups=2,
                    softplus_beta=0.07, drop_rate=0.4, drop_path_rate=0.1, readout_outputs=[5, 4]),
    ),
}


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(array, order="C"))  # (np.ascontiguousarray would make 0-d arrays 1-d)


def make(name, spec):
    torch.manual_seed(spec["seed"])
    rng = np.random.default_rng(spec["seed"])
    config = spec["config"]
    model = dn.DwiseNeuro(**config)
    utils.init_weights(model)
    # Well-scaled random weights: convolutions N(0, 1/fan_in), SE x2, readouts x6; biases N(0, 0.1),
    # readout biases N(0, 5); BatchNorm weight U(0.6, 1.4).
    with torch.no_grad():
        for module_name, m in model.named_modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv3d)):
                fan_in = m.weight[0].numel()
                scale = 6.0 if module_name.startswith("readouts") else 2.0 if ".se." in module_name else 1.0
                m.weight.normal_(0, scale / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.normal_(0, 5.0 if module_name.startswith("readouts") else 0.1)
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.6, 1.4)
                m.bias.normal_(0, 0.1)
        # Mouse 0, neuron 1 in the softplus's linear branch: beta * x ~ 100.
        model.readouts[0].layer[1].bias[1] = 100 / config["softplus_beta"]

    t, (h, w), canvas, batch = spec["frames"], spec["frame"], spec["canvas"], spec["batch"]
    processor = inputs_module.StackInputsProcessor(size=(canvas, canvas), pad_fill_value=0)
    mice = []
    raw = {}
    for index, neurons in enumerate(config["readout_outputs"]):
        mouse = f"mouse_{'abcdefghij'[index]}"
        video = rng.integers(0, 256, size=(batch, t, h, w)).astype(np.float32)
        behavior = np.stack([rng.uniform(0, 20, (batch, t)), rng.normal(0, 5, (batch, t))], axis=1).astype(np.float32)
        pupil = rng.normal(0, 30, (batch, 2, t)).astype(np.float32)
        x = np.stack([processor(video[b].transpose(1, 2, 0), behavior[b], pupil[b]).numpy() for b in range(batch)])
        raw[mouse] = (index, video, behavior, pupil, x.astype(np.float32))
        mice.append(dict(name=mouse, readout_index=index, neurons=neurons,
                         readout_channels=math.ceil(neurons / config["groups"]) * config["groups"]))

    # BatchNorm running statistics: measured on the fixture's inputs (training-mode passes), then perturbed.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for mouse, (index, *_, x) in raw.items():
            model(torch.from_numpy(x), index)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean += 0.2 * m.running_var.sqrt() * torch.randn_like(m.running_mean)
                m.running_var *= torch.exp(0.3 * torch.randn_like(m.running_var))
                m.momentum = 0.1
    model.eval()

    folder = os.path.join(out_root, name)
    shutil.rmtree(folder, ignore_errors=True)
    state = model.state_dict()
    keys = []
    parameters = dict(model.named_parameters())
    for key, value in state.items():
        array = value.numpy()
        save(os.path.join(folder, "state", f"{key}.npy"), array if array.dtype == np.int64 else array.astype(np.float32))
        keys.append(dict(key=key, shape=list(value.shape), dtype=str(array.dtype),
                         kind="parameter" if key in parameters else "buffer"))

    reference = model.double()
    intermediates = {}
    hooks = [reference.core.stem.register_forward_hook(lambda m, i, o: intermediates.__setitem__("stem", o))]
    blocks = list(reference.core.blocks)
    for i in range(len(config["core_features"])):
        hooks.append(blocks[2 * i + 1].register_forward_hook(lambda m, inp, o, i=i: intermediates.__setitem__(f"block{i}", o)))
    hooks.append(reference.cortex.register_forward_hook(lambda m, i, o: intermediates.__setitem__("cortex", o)))
    hooks.append(reference.readouts[0].layer.register_forward_hook(lambda m, i, o: intermediates.__setitem__("readout_logits", o)))
    for mouse, (index, video, behavior, pupil, x) in raw.items():
        save(os.path.join(folder, f"video.{mouse}.npy"), video)
        save(os.path.join(folder, f"behavior.{mouse}.npy"), behavior)
        save(os.path.join(folder, f"pupil_center.{mouse}.npy"), pupil)
        save(os.path.join(folder, f"input.{mouse}.npy"), x)
        xin = torch.from_numpy(x).double().requires_grad_(index == 0)
        y = reference(xin, index)
        save(os.path.join(folder, f"output.{mouse}.npy"), y.detach().numpy().astype(np.float32))
        if index == 0:
            core = intermediates["block%d" % (len(config["core_features"]) - 1)]
            intermediates["core"] = core
            intermediates["pool"] = core.mean((3, 4))
            for key, value in intermediates.items():
                save(os.path.join(folder, "intermediates", f"{key}.npy"), value.detach().numpy().astype(np.float32))
            grad_output = torch.from_numpy(rng.normal(0, 1, y.shape).astype(np.float32))
            save(os.path.join(folder, "grad_output.npy"), grad_output.numpy())
            (y * grad_output.double()).sum().backward()
            save(os.path.join(folder, "grad_input.npy"), xin.grad.numpy().astype(np.float32))
            for key, p in reference.named_parameters():
                grad = p.grad if p.grad is not None else torch.zeros_like(p)
                save(os.path.join(folder, "grad", f"{key}.npy"), grad.numpy().astype(np.float32))
    for hook in hooks:
        hook.remove()

    derived, side = [], canvas
    features, strides = config["core_features"], config["spatial_strides"]
    for i, (c_in, s) in enumerate(zip(features, strides)):
        c_out = features[min(i + 1, len(features) - 1)]
        mid = c_in * config["expansion_ratio"]
        out = math.ceil(side / s)
        derived.append(dict(block=i, pe_key_prefix=f"core.blocks.{2 * i}", block_key_prefix=f"core.blocks.{2 * i + 1}",
                            c_in=c_in, c_out=c_out, stride=s, mid=mid, se_hidden=mid // config["se_reduce_ratio"],
                            hw_in=side, hw_out=out, drop_path_rate=config["drop_path_rate"] * i / len(features)))
        side = out
    description = dict(
        winner="DwiseNeuro (SENSORIUM 2023, 1st place)",
        source=dict(repo="lRomul/sensorium", file="src/models/dwiseneuro.py", cls="DwiseNeuro",
                    generator="Tools/make_dwiseneuro_fixtures.py (Sensorium for Swift)"),
        variant=name[-1], seed=spec["seed"], config=config, derived_blocks=derived, mice=mice,
        inputs=dict(canvas=canvas, frame=list(spec["frame"]), frames=t, batch=batch),
        output=dict(layout="B,N,T", call="model(input, index=readout_index)"),
        intermediates=sorted(intermediates.keys()),
        gradients=dict(grad_output="random, shape of output.mouse_a.npy",
                       structurally_zero=[k for k in parameters if k.startswith("readouts.") and not k.startswith("readouts.0.")]),
        state=dict(keys=keys),
        tol=dict(output=dict(rtol=1e-4, atol=1e-5), intermediates=dict(rtol=1e-4, atol_rel_to_max=1e-5),
                 grad=dict(rtol=1e-3, atol_rel_to_max=1e-4)),
    )
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(description, f, indent=1)
    print(name, "written to", os.path.normpath(folder))


for name, spec in CASES.items():
    make(name, spec)
