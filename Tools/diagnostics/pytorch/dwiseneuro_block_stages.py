"""PyTorch side of `sensorium-bench dwiseneuro-block-stages`: each stage of DwiseNeuro's first two
inverted-residual blocks (64 -> 64, expansion 6, stride 2 then 1) on (4, 64, 16, 64, 64), forward and
backward timed separately, training mode, float32, CPU. Loads the reference model file by path:

    python3 dwiseneuro_block_stages.py /path/to/lRomul/sensorium/src/models/dwiseneuro.py [runs]
"""
import importlib.util, json, statistics, sys, time
import torch

spec = importlib.util.spec_from_file_location("dwiseneuro", sys.argv[1])
dn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dn)
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.manual_seed(1)
act = lambda: torch.nn.SiLU()
stages = []
side = 64
for b, stride in enumerate([2, 1]):
    block = dn.InvertedResidual3d(64, 64, spatial_kernel=3, temporal_kernel=5, spatial_stride=stride,
                                  expansion_ratio=6, se_reduce_ratio=32, act_layer=act)
    pe = dn.PositionalEncoding3d(64)
    steps = [("positional encoding", pe), ("pointwise expansion + BN + SiLU", block.conv_pw),
             (f"depth-wise spatial (1,3,3) s{stride} + BN + SiLU", block.spat_covn_dw),
             ("depth-wise temporal (5,1,1) + BN + SiLU", block.temp_covn_dw),
             ("squeeze-excitation", block.se), ("pointwise projection + BN", block.conv_pwl),
             ("shortcut (nearest, tile, BN)", block.interpolate_shortcut)]
    x = torch.randn(4, 64, 16, side, side, requires_grad=True)
    block_input = x
    for label, layer in steps:
        inp = block_input if label.startswith("shortcut") else x
        y = layer(inp)
        g = torch.randn_like(y)
        fw, bw = [], []
        for _ in range(runs):
            block.zero_grad(); inp.grad = None
            t0 = time.perf_counter(); y = layer(inp); t1 = time.perf_counter()
            y.backward(g); t2 = time.perf_counter()
            fw.append(t1 - t0); bw.append(t2 - t1)
        stages.append({"block": b, "stage": label, "output": list(y.shape),
                       "forward_s": statistics.median(fw), "backward_s": statistics.median(bw)})
        if not label.startswith("shortcut"):
            x = y.detach().clone().requires_grad_(True)
    side = (side + stride - 1) // stride
print(json.dumps({"workload": "dwiseneuro-block-stages", "implementation": "pytorch", "threads": torch.get_num_threads(),
                  "stages": stages}))
