"""How much of the synthetic mice's main-track ceiling needs behaviour (Documentation/Validation.md,
"The demo's model: diagnosis and candidates").

    python3 Tools/diagnostics/python/behaviour_ceiling.py <data>   # <data>: demo-output/data

For the repeat groups of the main test tiers (live_test_main, final_test_main) of every mouse in
<data>, with the first 50 frames skipped as the metrics do: each trial's behaviour gain
g_r(t) = exp(clip(gain_running * (running - 5) / 8 + gain_pupil * (pupil - 21) / 4, -2, 2)) (the
generator's, from meta/synthetic and data/behavior), then per neuron the rates fitted as
floor + g_r(t) * u(t) by alternating least squares: u(t) is the stimulus drive without behaviour,
the same for every repeat. Prints rho_ta and rho_st (mean over neurons) of the true rates (the
ceiling), of u (a perfect stimulus-only model) and of the mean gain alone.
"""
import numpy as np, sys, os
root = sys.argv[1]
def corr(x, y):  # per-neuron over axis 1
    x = x - x.mean(1, keepdims=True); y = y - y.mean(1, keepdims=True)
    return (x*y).mean(1) / ((np.sqrt((x*x).mean(1))+1e-8)*(np.sqrt((y*y).mean(1))+1e-8))
res = {k: [] for k in ['ceil_ta','stim_ta','ceil_st','stim_st','gainonly_ta']}
for m in sorted(os.listdir(root)):
    d = os.path.join(root, m)
    if not os.path.isdir(d): continue
    tiers = np.load(f'{d}/meta/trials/tiers.npy'); hashes = np.load(f'{d}/meta/trials/condition_hashes.npy')
    gR = np.load(f'{d}/meta/synthetic/gain_running.npy')[:, None]; gP = np.load(f'{d}/meta/synthetic/gain_pupil.npy')[:, None]
    A = {k: [] for k in ['ra','ya','ua','ga']}; S = {k: [] for k in ['r','y','u']}
    for h in sorted(set(hashes[(tiers == 'live_test_main') | (tiers == 'final_test_main')])):
        idx = np.where(hashes == h)[0]
        R, Y, G = [], [], []
        for i in idx:
            r = np.load(f'{d}/data/rates/{i}.npy'); y = np.load(f'{d}/data/responses/{i}.npy'); b = np.load(f'{d}/data/behavior/{i}.npy')
            L = int(np.sum(~np.isnan(y[0])))
            g = np.exp(np.clip(gR*(b[1][None, :]-5)/8 + gP*(b[0][None, :]-21)/4, -2, 2))
            R.append(r[:, :L]); Y.append(y[:, :L]); G.append(g[:, :L])
        L = min(x.shape[1] for x in R)
        R = np.stack([x[:, 50:L] for x in R]); Y = np.stack([x[:, 50:L] for x in Y]); G = np.stack([x[:, 50:L] for x in G])
        # rates_r(t) ~ f + g_r(t) u(t): alternate floor f (per neuron) and u(t)
        f = R.min(axis=(0, 2)) * 0.5
        for _ in range(20):
            u = ((R - f[None, :, None]) * G).sum(0) / (G*G).sum(0)
            f = (R - G*u[None]).mean(axis=(0, 2))
        A['ra'].append(R.mean(0)); A['ya'].append(Y.mean(0)); A['ua'].append(u); A['ga'].append(G.mean(0))
        for k in range(R.shape[0]):
            S['r'].append(R[k]); S['y'].append(Y[k]); S['u'].append(u)
    cat = lambda v: np.concatenate(v, 1)
    res['ceil_ta'].append(corr(cat(A['ra']), cat(A['ya']))); res['stim_ta'].append(corr(cat(A['ua']), cat(A['ya'])))
    res['gainonly_ta'].append(corr(cat(A['ga']), cat(A['ya'])))
    res['ceil_st'].append(corr(cat(S['r']), cat(S['y']))); res['stim_st'].append(corr(cat(S['u']), cat(S['y'])))
for k, v in res.items(): print(k, round(float(np.mean(np.concatenate(v))), 4))
