"""Receptive-field mapping on a synthetic mouse folder, against the ground truth (numpy, scipy).

    python3 Tools/diagnostics/python/rf_mapping.py <data>/synthetic2023-0-Video

where <data> is a folder of synthetic mice (`demo-output/data` after `make demo`, or
`swift run sensorium synth --output <data>`).

For several energy representations of the frames (band pass, squared, blurred, pooled), correlates
every neuron's response with the energy 3..7 frames earlier, takes the smoothed map's peak, and
reports the error against the true centres (meta/synthetic/rf_grid_positions.npy), then the error
of a robust quadratic retinotopic fit from cortical coordinates through the significant centres.
This is how the defaults of ReceptiveFieldMap.Options were chosen (DoG 1.5-4 px, energy blur 4 px,
2x2 pooling: raw median error 2.3 px, quadratic fit median 1.0 px on the 50-trial mice).
"""
import sys
import numpy as np
import scipy.ndimage as nd

if len(sys.argv) != 2:
    sys.exit(__doc__)
root = sys.argv[1]
tiers = np.load(root + '/meta/trials/tiers.npy')
train = [i for i, t in enumerate(tiers) if t == 'train']
gt = np.load(root + '/meta/synthetic/rf_grid_positions.npy')
H, W = 36, 64
gc, gr = (gt[:, 0] + 1) / 2 * (W - 1), (gt[:, 1] + 1) / 2 * (H - 1)
vids, resp = [], []
for i in train:
    v = np.load(f'{root}/data/videos/{i}.npy')
    r = np.load(f'{root}/data/responses/{i}.npy')
    nan = np.where(np.isnan(v).any(axis=(0, 1)))[0]
    L = nan[0] if len(nan) else v.shape[2]
    vids.append(np.moveaxis(v[:, :, :L], 2, 0).astype(np.float32))
    resp.append(r[:, :L].T.astype(np.float32))
xyz = np.load(root + '/meta/neurons/cell_motor_coordinates.npy')
u = xyz[:, :2] - xyz[:, :2].mean(0)
u /= np.abs(u).max()
F = np.stack([np.ones(len(u)), u[:, 0], u[:, 1], u[:, 0] ** 2, u[:, 0] * u[:, 1], u[:, 1] ** 2], 1)


def dog(s1, s2, b):
    return lambda v: nd.gaussian_filter((nd.gaussian_filter(v, (0, s1, s1)) - nd.gaussian_filter(v, (0, s2, s2))) ** 2, (0, b, b))


def highpass(s, b):
    return lambda v: nd.gaussian_filter((v - nd.gaussian_filter(v, (0, s, s))) ** 2, (0, b, b))


def evaluate(name, feature, lags=range(3, 8), pool=2, threshold=4):
    X, Y, m = [], [], max(lags)
    for v, r in zip(vids, resp):
        e = feature(v)
        T = e.shape[0]
        e = e[:, :H // pool * pool, :W // pool * pool].reshape(T, H // pool, pool, W // pool, pool).mean((2, 4)).reshape(T, -1)
        x = sum(e[m - l:T - l] for l in lags) / len(lags)
        y = r[m:T]
        X.append(x - x.mean(0))
        Y.append(y - y.mean(0))
    X, Y = np.concatenate(X), np.concatenate(Y)
    C = (X.T @ Y) / np.sqrt((X ** 2).sum(0)[:, None] * (Y ** 2).sum(0)[None, :])
    C = nd.gaussian_filter(C.reshape(H // pool, W // pool, -1), (0.8, 0.8, 0)).reshape(-1, Y.shape[1])
    idx = C.argmax(0)
    rr, cc = (idx // (W // pool)) * pool + (pool - 1) / 2, (idx % (W // pool)) * pool + (pool - 1) / 2
    med = np.median(C, 0)
    sig = (C.max(0) - med) / (np.median(np.abs(C - med), 0) * 1.4826)
    err = np.hypot(rr - gr, cc - gc)
    inliers = np.where(sig >= threshold)[0]
    for _ in range(4):
        bx = np.linalg.lstsq(F[inliers], cc[inliers], rcond=None)[0]
        by = np.linalg.lstsq(F[inliers], rr[inliers], rcond=None)[0]
        res = np.hypot(F @ bx - cc, F @ by - rr)
        significant = np.where(sig >= threshold)[0]
        inliers = significant[res[significant] <= max(1.0, 3 * 1.4826 * np.median(res[significant]))]
    fit = np.hypot(F @ by - gr, F @ bx - gc)
    print(f'{name:22s} raw median {np.median(err):5.2f} px, <3 px {np.mean(err < 3):.2f}; '
          f'{len(inliers)} significant inliers; quadratic fit median {np.median(fit):.2f} px, 90% {np.percentile(fit, 90):.2f} px')


evaluate('high-pass 2, blur 2', highpass(2, 2))
evaluate('DoG 1-3, blur 2', dog(1, 3, 2))
evaluate('DoG 1.5-4, blur 4', dog(1.5, 4, 4))
evaluate('DoG 2-5, blur 4', dog(2, 5, 4))
