#!/usr/bin/env python3
"""PyTorch calibration of the Sensorium-for-Swift demo factorised baseline.

Reproduces the reference recipe (neuralpredictors factorised 3D core + FullGaussian2d
readout + MLP shifter, Poisson loss) on the synthetic SENSORIUM-2023 mice, with switches
for the one-change-at-a-time experiments.
"""
import argparse, json, math, os, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

ROOT = '/tmp/demo1/data'
MICE = ['synthetic2023-0-Video', 'synthetic2023-1-Video']


def true_len(a):
    """first NaN index along the last axis (time)"""
    flat = a.reshape(-1, a.shape[-1])
    nan = np.isnan(flat).any(0)
    return int(np.argmax(nan)) if nan.any() else a.shape[-1]


class Mouse:
    def __init__(self, name, val_len=150):
        r = os.path.join(ROOT, name)
        st = lambda k, s: np.load(f'{r}/meta/statistics/{k}/all/{s}.npy').astype(np.float32)
        self.mv, self.sv = st('videos', 'mean'), st('videos', 'std')
        rstd = st('responses', 'std')
        thr = 0.01 * np.nanmean(rstd)
        self.prec = np.where(rstd > thr, 1.0 / np.maximum(rstd, 1e-12), 1.0 / thr).astype(np.float32)
        self.sb = st('behavior', 'std')
        self.mp, self.sp = st('pupil_center', 'mean'), st('pupil_center', 'std')
        tiers = np.load(f'{r}/meta/trials/tiers.npy', allow_pickle=True).astype(str)
        self.coords = np.load(f'{r}/meta/neurons/cell_motor_coordinates.npy').astype(np.float32)
        self.rf = np.load(f'{r}/meta/synthetic/rf_grid_positions.npy').astype(np.float32)
        self.train = [self.load(r, i) for i in np.where(tiers == 'train')[0]]
        self.oracle = [self.load(r, i, cut=val_len, rates=True) for i in np.where(tiers == 'oracle')[0]]
        self.K = len(self.train)
        self.N = self.coords.shape[0]
        allr = np.concatenate([t['y'] for t in self.train], 1)
        self.mean_resp = allr.mean(1)

    def load(self, r, i, cut=None, rates=False):
        v = np.load(f'{r}/data/videos/{i}.npy').astype(np.float32)
        y = np.load(f'{r}/data/responses/{i}.npy').astype(np.float32)
        b = np.load(f'{r}/data/behavior/{i}.npy').astype(np.float32)
        p = np.load(f'{r}/data/pupil_center/{i}.npy').astype(np.float32)
        L = min(true_len(v), true_len(y), true_len(b), true_len(p))
        if cut is not None:
            L = min(L, cut)
        v = (v[..., :L] - self.mv[..., :L]) / self.sv[..., :L]
        y = y[:, :L] * self.prec[:, :L]
        b = b[:, :L] / self.sb[:, :L]
        p = (p[:, :L] - self.mp[:, :L]) / self.sp[:, :L]
        d = dict(v=np.ascontiguousarray(v.transpose(2, 0, 1)), y=y, b=b, p=p, L=L)
        if rates:
            d['rates'] = np.load(f'{r}/data/rates/{i}.npy').astype(np.float32)[:, :L] * self.prec[:, :L]
        return d


def make_input(trials, starts, T):
    """-> x (B,3,T,36,64), y (B,N,T), p (B,2,T)"""
    xs, ys, ps = [], [], []
    for t, s in zip(trials, starts):
        v = t['v'][s:s + T]  # (T,36,64)
        b = t['b'][:, s:s + T]  # (2,T)
        H, W = v.shape[1:]
        x = np.concatenate([v[None], np.broadcast_to(b[:, :, None, None], (2, T, H, W))], 0)
        xs.append(x); ys.append(t['y'][:, s:s + T]); ps.append(t['p'][:, s:s + T])
    return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)), torch.from_numpy(np.stack(ps)))


class Core(nn.Module):
    def __init__(self, c0=16, c1=32, stride=2, momentum=0.7):
        super().__init__()
        self.s0 = nn.Conv3d(3, c0, (1, 11, 11), stride=(1, stride, stride))
        self.t0 = nn.Conv3d(c0, c0, (11, 1, 1))
        self.bn0 = nn.BatchNorm3d(c0, momentum=momentum)
        self.s1 = nn.Conv3d(c0, c1, (1, 5, 5))
        self.t1 = nn.Conv3d(c1, c1, (5, 1, 1))
        self.bn1 = nn.BatchNorm3d(c1, momentum=momentum)
        self.out_c = c1

    def forward(self, x):
        x = F.elu(self.bn0(self.t0(self.s0(x))))
        x = F.elu(self.bn1(self.t1(self.s1(x))))
        return x

    def laplace(self):
        w = self.s0.weight  # (oc, ic, 1, k, k)
        oc, ic, _, k1, k2 = w.shape
        lap = torch.tensor([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=w.dtype).view(1, 1, 3, 3)
        ww = w.view(oc * ic, 1, k1, k2)
        return F.conv2d(ww, lap, padding=1).pow(2).sum() / ww.pow(2).sum()


class Readout(nn.Module):
    """neuralpredictors FullGaussian2d, gauss_type='full', grid_mean_predictor (mlp) + shifter."""

    def __init__(self, C, mouse, init_sigma=1.0, bias_inv=False, true_pos=False):
        super().__init__()
        N = mouse.N
        self.features = nn.Parameter(torch.full((1, C, 1, N), 1.0 / C))
        self.sigma = nn.Parameter(torch.empty(1, N, 2, 2).uniform_(-init_sigma, init_sigma))
        src = mouse.coords[:, :2].copy()
        src = src - src.mean(0)
        src = src / np.abs(src).max()
        self.register_buffer('source_grid', torch.from_numpy(src))
        self.mu_transform = nn.Sequential(nn.Linear(2, 30), nn.ELU(), nn.Linear(30, 2), nn.Tanh())
        self.true_pos = true_pos
        if true_pos:
            self.register_buffer('mu_fixed', torch.from_numpy(mouse.rf))
        m = torch.from_numpy(mouse.mean_resp).float()
        if bias_inv:
            m = torch.where(m < 1, torch.log(m.clamp_min(1e-6)), m - 1)
        self.bias = nn.Parameter(m.clone())
        self.shifter = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 2), nn.Tanh())
        self.N = N

    def mu(self):
        if self.true_pos:
            return self.mu_fixed.view(1, self.N, 1, 2)
        return self.mu_transform(self.source_grid).view(1, self.N, 1, 2)

    def forward(self, x, pupil):
        # x (M,C,H,W), pupil (M,2)
        M = x.shape[0]
        mu = self.mu()
        if self.training:
            norm = torch.randn(M, self.N, 1, 2)
            grid = torch.clamp(torch.einsum('ancd,bnid->bnic', self.sigma, norm) + mu, -1, 1)
        else:
            grid = mu.expand(M, -1, -1, -1)
        grid = grid + self.shifter(pupil)[:, None, None, :]
        y = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=True)  # (M,C,N,1)
        y = (y.squeeze(-1) * self.features.view(1, -1, self.N)).sum(1)
        return y + self.bias


class Model(nn.Module):
    def __init__(self, mice, a):
        super().__init__()
        self.core = Core(a.c0, a.c1, a.stride)
        self.readouts = nn.ModuleList([Readout(self.core.out_c, m, a.init_sigma, a.bias_inv, a.true_pos) for m in mice])

    def forward(self, x, p, k):
        # x (B,3,T,H,W), p (B,2,T) -> (B,N,T')
        f = self.core(x)  # (B,C,T',h,w)
        B, C, Tp, h, w = f.shape
        f = f.permute(0, 2, 1, 3, 4).reshape(B * Tp, C, h, w)
        pp = p[:, :, -Tp:].permute(0, 2, 1).reshape(B * Tp, 2)
        y = self.readouts[k](f, pp)
        y = F.elu(y) + 1
        return y.view(B, Tp, -1).permute(0, 2, 1)


def corr_per_neuron(pred, y):
    pred = pred - pred.mean(0); y = y - y.mean(0)
    return (pred * y).sum(0) / np.sqrt((pred ** 2).sum(0) * (y ** 2).sum(0) + 1e-12)


@torch.no_grad()
def evaluate(model, mice, bn_train=False, skip=50):
    model.eval()
    if bn_train:
        model.core.train()  # batch statistics in BN (no running-stat update below would be ideal; we restore after)
        saved = {k: v.clone() for k, v in model.core.state_dict().items()}
    rhos, losses = [], []
    for k, m in enumerate(mice):
        P, Y = [], []
        for i in range(0, len(m.oracle), 5):
            tr = m.oracle[i:i + 5]
            T = min(t['L'] for t in tr)
            x, y, p = make_input(tr, [0] * len(tr), T)
            out = model(x, p, k)
            Tp = out.shape[-1]
            yy = y[:, :, -Tp:]
            s = skip - (T - Tp)
            P.append(out[:, :, s:].permute(0, 2, 1).reshape(-1, m.N).numpy())
            Y.append(yy[:, :, s:].permute(0, 2, 1).reshape(-1, m.N).numpy())
        P, Y = np.concatenate(P), np.concatenate(Y)
        rhos.append(corr_per_neuron(P, Y))
        losses.append(np.mean(P - Y * np.log(P + 1e-8)))
    if bn_train:
        model.core.load_state_dict(saved)
    model.train()
    return float(np.nanmean(np.concatenate(rhos))), float(np.mean(losses))


def ceiling(mice, skip=50):
    rhos, losses, cl = [], [], []
    for m in mice:
        R = np.concatenate([t['rates'][:, skip:].T for t in m.oracle])
        Y = np.concatenate([t['y'][:, skip:].T for t in m.oracle])
        rhos.append(corr_per_neuron(R, Y))
        losses.append(np.mean(R - Y * np.log(R + 1e-8)))
        c = np.maximum(m.mean_resp[None], 1e-8)
        cl.append(np.mean(c - Y * np.log(c + 1e-8)))
    return float(np.nanmean(np.concatenate(rhos))), float(np.mean(losses)), float(np.mean(cl))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=0, help='stop after this many optimizer steps (0 = epochs)')
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--eval_every', type=int, default=0, help='eval every n steps (0 = per epoch)')
    ap.add_argument('--lr', type=float, default=5e-3)
    ap.add_argument('--wd', type=float, default=0.01)
    ap.add_argument('--bs', type=int, default=8)
    ap.add_argument('--clip', type=int, default=80)
    ap.add_argument('--init_sigma', type=float, default=1.0)
    ap.add_argument('--bias_inv', action='store_true')
    ap.add_argument('--true_pos', action='store_true')
    ap.add_argument('--stride', type=int, default=2)
    ap.add_argument('--c0', type=int, default=16)
    ap.add_argument('--c1', type=int, default=32)
    ap.add_argument('--bn_train_eval', action='store_true')
    ap.add_argument('--gamma_lap', type=float, default=10.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--tag', default='ref')
    ap.add_argument('--out', default='/work/wt/calib/results.jsonl')
    a = ap.parse_args()
    torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)
    t0 = time.time()
    mice = [Mouse(n) for n in MICE]
    print(f'data loaded in {time.time()-t0:.1f}s; ceiling (rho_st, poisson, const-poisson) =', ceiling(mice), flush=True)
    model = Model(mice, a)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
    rho0, vl0 = evaluate(model, mice, a.bn_train_eval)
    print(f'step 0 val rho {rho0:.4f} val loss/elem {vl0:.4f}', flush=True)
    log = [dict(step=0, rho=rho0)]
    step, ep = 0, 0
    t0 = time.time()
    done = False
    while not done:
        ep += 1
        perms = [rng.permutation(m.K) for m in mice]
        nb = min(m.K for m in mice) // a.bs
        tl, tn = 0.0, 0
        for bi in range(nb):
            opt.zero_grad()
            for k, m in enumerate(mice):
                idx = perms[k][bi * a.bs:(bi + 1) * a.bs]
                tr = [m.train[i] for i in idx]
                starts = [int(rng.integers(0, t['L'] - a.clip + 1)) for t in tr]
                x, y, p = make_input(tr, starts, a.clip)
                out = model(x, p, k)
                yy = y[:, :, -out.shape[-1]:]
                pl = (out - yy * torch.log(out + 1e-8)).sum()
                loss = pl * math.sqrt(m.K / a.bs)
                if a.gamma_lap:
                    loss = loss + a.gamma_lap * model.core.laplace()
                loss.backward()
                tl += pl.item(); tn += yy.numel()
            opt.step()
            step += 1
            if a.eval_every and step % a.eval_every == 0:
                rho, vl = evaluate(model, mice, a.bn_train_eval)
                rho_bn, _ = evaluate(model, mice, True)
                print(f'  step {step} val rho {rho:.4f} (train-BN eval {rho_bn:.4f}) val loss/elem {vl:.4f} t {time.time()-t0:.0f}s', flush=True)
                log.append(dict(step=step, rho=rho, vloss=vl, rho_bntrain=rho_bn))
            if a.steps and step >= a.steps:
                done = True; break
        if not a.eval_every:
            rho, vl = evaluate(model, mice, a.bn_train_eval)
            log.append(dict(step=step, rho=rho, vloss=vl))
        else:
            rho, vl = log[-1]['rho'], log[-1].get('vloss', float('nan'))
        print(f'epoch {ep} step {step} train loss/elem {tl/tn:.4f} val rho {rho:.4f} val loss/elem {vl:.4f} '
              f'wall {time.time()-t0:.0f}s', flush=True)
        if not a.steps and ep >= a.epochs:
            done = True
    with open(a.out, 'a') as f:
        f.write(json.dumps(dict(tag=a.tag, args=vars(a), log=log)) + '\n')


if __name__ == '__main__':
    main()
