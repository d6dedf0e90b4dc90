"""PyTorch side of `sensorium-bench dwiseneuro-step`: the reference DwiseNeuro at the paper's size with one
8,000-neuron readout, a Poisson training step (forward + backward) on (4, 5, 16, 64, 64), float32, CPU.

    python3 dwiseneuro_step.py /path/to/lRomul/sensorium/src/models/dwiseneuro.py [runs]
"""
import importlib.util, json, resource, statistics, sys, time
import torch

spec = importlib.util.spec_from_file_location("dwiseneuro", sys.argv[1])
dn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dn)
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.manual_seed(1)
model = dn.DwiseNeuro(readout_outputs=(8000,))
model.train()
x = torch.rand(4, 5, 16, 64, 64)
target = torch.rand(4, 8000, 16)
times, core_times = [], []
for i in range(runs + 1):
    model.zero_grad()
    t0 = time.perf_counter()
    features = model.core(x)
    t1 = time.perf_counter()
    out = model.readouts[0](model.cortex(model.pool(features).squeeze(-1).squeeze(-1)))
    (out - target * torch.log(out + 1e-8)).sum().backward()
    t2 = time.perf_counter()
    if i > 0:
        times.append(t2 - t0); core_times.append(t1 - t0)
print(json.dumps({"workload": "dwiseneuro-step", "implementation": "pytorch", "threads": torch.get_num_threads(),
                  "median_s": statistics.median(times), "core_forward_median_s": statistics.median(core_times),
                  "parameters": sum(p.numel() for p in model.parameters()),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
