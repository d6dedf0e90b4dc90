import sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.argv=[sys.argv[0]]
torch.set_num_threads(2)
exec(open('/work/wt/calib/calib.py').read().split('def make_input')[0])
m = Mouse(MICE[0])
for t in m.train: t['rates'] = None
import os
r = os.path.join(ROOT, MICE[0]); tiers = np.load(f'{r}/meta/trials/tiers.npy', allow_pickle=True).astype(str)
tr_idx = np.where(tiers == 'train')[0]
for t, i in zip(m.train, tr_idx):
    t['rates'] = np.load(f'{r}/data/rates/{i}.npy').astype(np.float32)[:, :t['L']] * m.prec[:, :t['L']]
LAG = int(os.environ.get('LAG', '4')); TARGET = os.environ.get('TARGET', 'rates')
CLIP = int(os.environ.get('CLIP', '1'))
def frames(trials, n, rng):
    X, Y = [], []
    for k in range(n):
        if k % CLIP == 0:
            t = trials[rng.integers(len(trials))]; f0 = rng.integers(LAG + 2, t['L'] - CLIP)
        f = f0 + k % CLIP
        X.append(t['v'][f - LAG - 2:f - LAG + 1]); Y.append(t[TARGET][:, f] if TARGET == 'rates' else t['y'][:, f])
    return torch.from_numpy(np.stack(X)), torch.from_numpy(np.stack(Y))
class Net(nn.Module):
    def __init__(s, N):
        super().__init__()
        s.c0 = nn.Conv2d(3, 32, 11, padding=5); s.b0 = nn.BatchNorm2d(32)
        s.c1 = nn.Conv2d(32, 32, 7, padding=3); s.b1 = nn.BatchNorm2d(32)
        s.feat = nn.Parameter(torch.randn(N, 32) * 0.1); s.bias = nn.Parameter(torch.zeros(N))
        s.grid = torch.from_numpy(m.rf)[None, :, None, :]
    def forward(s, x):
        h = F.elu(s.b0(s.c0(x))); h = F.elu(s.b1(s.c1(h)))
        z = F.grid_sample(h, s.grid.expand(x.shape[0], -1, -1, -1), align_corners=True)[..., 0]  # B,C,N
        return (z * s.feat.t()[None]).sum(1) + s.bias
net = Net(m.N); opt = torch.optim.Adam(net.parameters(), lr=float(os.environ.get('LR', '3e-3')))
rng = np.random.default_rng(0)
Xv, Yv = [], []
for t in m.oracle:
    for f in range(LAG + 2, t['L']): Xv.append(t['v'][f - LAG - 2:f - LAG + 1]); Yv.append(t['rates'][:, f])
Xv = torch.from_numpy(np.stack(Xv)); Yv = torch.from_numpy(np.stack(Yv))
def corr(p, y):
    p = p - p.mean(0); y = y - y.mean(0)
    return ((p * y).sum(0) / (p.norm(dim=0) * y.norm(dim=0) + 1e-8)).mean().item()
t0 = time.time()
for step in range(int(os.environ.get('STEPS', '300')) + 1):
    net.train(); x, y = frames(m.train, 64, rng)
    loss = F.mse_loss(net(x), y); opt.zero_grad(); loss.backward(); opt.step()
    if step % 50 == 0:
        net.eval()
        with torch.no_grad(): pv = net(Xv)
        print(f'step {step} loss {loss.item():.4f} val corr(pred, rates) {corr(pv, Yv):.3f}  {time.time()-t0:.0f}s', flush=True)
