"""PyTorch side of the strided first-layer timing in Documentation/Performance.md."""
import time
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
x = torch.randn(8, 3, 80, 36, 64)
w = torch.randn(16, 3, 1, 11, 11, requires_grad=True)
for rep in range(4):
    t0 = time.perf_counter()
    y = F.conv3d(x, w, stride=(1, 2, 2))
    t1 = time.perf_counter()
    y.sum().backward()
    t2 = time.perf_counter()
    w.grad = None
    print(f"rep {rep} fwd {t1 - t0:.3f} s  bwd {t2 - t1:.3f} s")
