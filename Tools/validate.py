#!/usr/bin/env python3
"""`make validate`: the SDK and the PyTorch reference trained side by side with the same recipe on
the same synthetic mice, several seeds each, scored the same way (Documentation/Validation.md).

    python3 Tools/validate.py --output validation-output [--sensorium BIN] [--starter-kit KIT]
                              [--neuralpredictors NP] [--seeds 1 2 3] [--epochs N] [--jobs J]
                              [--only reference|sdk]

The recipe (synthetic mice, core sizes, epochs, clip length, batch size, seeds) is Tools/validate.json
(`--recipe` for another). Steps, each skipped when its result is already in the output folder:

 1. `sensorium synth` writes the mice into OUT/data.
 2. Reference: Tools/reference_training.py trains the starter kit's factorised baseline with its own
    `standard_trainer`, one process per seed (`--jobs` in parallel, one torch thread each), and
    scores it (OUT/reference/seed<S>.json). Its weights then go through
    Tools/convert_pytorch_checkpoint.py and `sensorium import` into a run folder that
    `sensorium evaluate` scores as well: the same model scored by both implementations of the metrics.
 3. SDK: `sensorium train --config OUT/sdk-config.json --seed S --epochs N` (the factorizedBaseline
    preset with the same core sizes and data settings) and `sensorium evaluate`, per seed.
 4. OUT/comparison.json and OUT/comparison.md: per seed and per side, validation / main / bonus ρ_st
    and ρ_ta, CPU seconds, and the means, standard deviations and ranges over seeds.

The starter kit and neuralpredictors checkouts come from --starter-kit / --neuralpredictors or
SENSORIUM_STARTER_KIT / SENSORIUM_NEURALPREDICTORS (see Tools/reference_training.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kwargs):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def children_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def synth(sensorium, recipe, out):
    s = recipe["synthetic"]
    data = os.path.join(out, "data")
    marker = os.path.join(data, "validate-synthetic.json")
    names = [f"synthetic{s['seed']}-{i}-Video" for i in range(s["mice"])]
    mice = [os.path.join(data, n) for n in names]
    if os.path.exists(marker) and json.load(open(marker)) == s and all(os.path.isdir(m) for m in mice):
        return mice
    run([sensorium, "synth", "--output", data, "--mice", str(s["mice"]), "--neurons", str(s["neurons"]),
         "--seed", str(s["seed"]), "--train-trials", str(s["trainTrials"]), "--oracle-clips", str(s["oracleClips"]),
         "--repeats", str(s["repeats"]), "--test-clips", str(s["testClips"]), "--frames", str(s["frames"]),
         "--overwrite"])
    json.dump(s, open(marker, "w"))
    return mice


def sdk_configuration(recipe) -> dict:
    """The factorizedBaseline preset with the recipe's core sizes and data settings."""
    core = recipe["core"]
    stride = core.get("stride", 1)
    return {
        "model": {"core": {
            "hiddenChannels": core["hiddenChannels"], "spatialInputKernel": core["spatialInputKernel"],
            "temporalInputKernel": core["temporalInputKernel"],
            "spatialHiddenKernels": [core["spatialHiddenKernel"]], "temporalHiddenKernels": [core["temporalHiddenKernel"]],
            "stride": stride if isinstance(stride, list) else [stride]}},
        "trainer": {"optimizer": {"type": "adamW", "learningRate": recipe["trainer"]["learningRate"]},
                    "earlyStopping": {"maxEpochs": recipe["trainer"]["epochs"], "patience": recipe["trainer"]["patience"],
                                      "lrDecaySteps": recipe["trainer"]["lrDecaySteps"]},
                    "schedule": {"type": "reduceOnPlateau", "patience": recipe["trainer"]["patience"]}},
        # Whole oracle trials, one per batch: the objective the reference side is given too.
        "data": {"batchSize": recipe["data"]["batchSize"], "frames": recipe["data"]["frames"], "validationBatchSize": 1},
    }


def scores_from_evaluation(path) -> dict:
    e = json.load(open(path))
    g = e["groups"]
    out = {"validation": g["oracle"], "main": g["main"], "bonus": g["bonus"]}
    return {k: {"single_trial": v["singleTrial"], "to_average": v["toAverage"]} for k, v in out.items()}


def evaluate(sensorium, run_folder, mice) -> dict:
    path = os.path.join(run_folder, "evaluation.json")
    if not os.path.exists(path):
        run([sensorium, "evaluate", "-m", run_folder, *mice, "--output", run_folder])
    return scores_from_evaluation(path)


def reference_side(args, recipe_path, recipe, mice, out, seeds, sensorium):
    folder = os.path.join(out, "reference")
    os.makedirs(folder, exist_ok=True)
    pending = [s for s in seeds if not os.path.exists(os.path.join(folder, f"seed{s}.json"))]
    procs = []
    base = [sys.executable, os.path.join(HERE, "reference_training.py"), *mice, "--recipe", recipe_path,
            "--work", folder, "--threads", str(args.threads)]
    if args.starter_kit:
        base += ["--starter-kit", args.starter_kit]
    if args.neuralpredictors:
        base += ["--neuralpredictors", args.neuralpredictors]
    while pending or procs:
        while pending and len(procs) < args.jobs:
            s = pending.pop(0)
            log = open(os.path.join(folder, f"seed{s}.log"), "w")
            cmd = base + ["--seeds", str(s), "--output", os.path.join(folder, f"seed{s}.json")]
            print("+", " ".join(cmd), f"> {log.name}", flush=True)
            procs.append((s, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(2)
        for item in list(procs):
            s, p, log = item
            if p.poll() is not None:
                procs.remove(item)
                log.close()
                if p.returncode != 0:
                    sys.exit(f"reference seed {s} failed; see {log.name}")
    runs = []
    for s in seeds:
        r = json.load(open(os.path.join(folder, f"seed{s}.json")))["runs"][0]
        seed_folder = os.path.join(folder, f"seed{s}")
        state, run_folder = os.path.join(seed_folder, "state"), os.path.join(seed_folder, "run")
        if not os.path.exists(os.path.join(run_folder, "model.h5")):
            run([sys.executable, os.path.join(HERE, "convert_pytorch_checkpoint.py"), r["state"], state,
                 "--make-video-model-args", os.path.join(folder, "make_video_model.json")])
            run([sensorium, "import", "--state", state, *mice, "-o", run_folder])
        r["sdk_scores_of_reference_model"] = evaluate(sensorium, run_folder, mice)
        r["cpu_seconds"] = r["train_cpu_seconds"]
        runs.append(r)
    return runs


def sdk_side(args, recipe, mice, out, seeds, sensorium):
    folder = os.path.join(out, "sdk")
    os.makedirs(folder, exist_ok=True)
    config = os.path.join(out, "sdk-config.json")
    json.dump(sdk_configuration(recipe), open(config, "w"), indent=1)
    runs = []
    for s in seeds:
        run_folder = os.path.join(folder, f"seed{s}")
        timing = os.path.join(folder, f"seed{s}-timing.json")
        if not os.path.exists(timing):
            cpu, wall = children_cpu(), time.time()
            run([sensorium, "train", *mice, "-o", run_folder, "--config", config, "--seed", str(s),
                 "--epochs", str(recipe["trainer"]["epochs"]), "--plain", "--overwrite"])
            json.dump({"cpu_seconds": children_cpu() - cpu, "wall_seconds": time.time() - wall}, open(timing, "w"))
        t = json.load(open(timing))
        history = json.load(open(os.path.join(run_folder, "run.json")))
        runs.append({"seed": s, "cpu_seconds": t["cpu_seconds"], "wall_seconds": t["wall_seconds"],
                     "scores": evaluate(sensorium, run_folder, mice), "run": history.get("facts")})
    return runs


def summary(runs, key):
    out = {}
    for group in ("validation", "main", "bonus"):
        for metric in ("single_trial", "to_average"):
            values = [r[key][group][metric] for r in runs]
            out[f"{group}.{metric}"] = {"mean": statistics.mean(values),
                                        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                                        "range": max(values) - min(values), "values": values}
    out["cpu_seconds"] = {"mean": statistics.mean(r["cpu_seconds"] for r in runs),
                          "values": [r["cpu_seconds"] for r in runs]}
    return out


def markdown(result) -> str:
    ref, sdk = result.get("reference"), result.get("sdk")
    lines = [f"# Validation: SDK vs PyTorch reference ({result['epochs']} epochs, seeds {result['seeds']})", ""]
    lines += ["| side | seed | val ρ_st | val ρ_ta | main ρ_st | main ρ_ta | bonus ρ_st | bonus ρ_ta | CPU s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, runs in (("reference (PyTorch)", ref and ref["runs"]), ("SDK", sdk and sdk["runs"])):
        for r in runs or []:
            s = r["scores"]
            lines.append(f"| {name} | {r['seed']} | {s['validation']['single_trial']:.4f} | {s['validation']['to_average']:.4f} | "
                         f"{s['main']['single_trial']:.4f} | {s['main']['to_average']:.4f} | {s['bonus']['single_trial']:.4f} | "
                         f"{s['bonus']['to_average']:.4f} | {r['cpu_seconds']:.0f} |")
    lines += ["", "| metric | reference mean ± std (range) | SDK mean ± std (range) | difference of means | larger std | within |",
              "|---|---|---|---|---|---|"]
    if ref and sdk:
        for k, v in result["difference"].items():
            a, b = ref["summary"][k], sdk["summary"][k]
            lines.append(f"| {k} | {a['mean']:.4f} ± {a['std']:.4f} ({a['range']:.4f}) | {b['mean']:.4f} ± {b['std']:.4f} "
                         f"({b['range']:.4f}) | {v['difference']:+.4f} | {v['larger_std']:.4f} | "
                         f"{'yes' if v['within_larger_std'] else 'no'} |")
    if ref:
        lines += ["", "Metric check (reference models scored by Tools/reference_training.py and by `sensorium evaluate` "
                  f"after `sensorium import`): largest absolute difference {result['metric_check_max_abs_difference']:.2e}."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="validation-output")
    parser.add_argument("--recipe", default=os.path.join(HERE, "validate.json"))
    parser.add_argument("--sensorium", help="the sensorium binary (default: the release build of this checkout)")
    parser.add_argument("--starter-kit")
    parser.add_argument("--neuralpredictors")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--jobs", type=int, default=1, help="reference seeds trained at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per reference process")
    parser.add_argument("--only", choices=["reference", "sdk"])
    args = parser.parse_args()

    recipe = json.load(open(args.recipe))
    if args.epochs:
        recipe["trainer"]["epochs"] = args.epochs
    seeds = args.seeds or recipe["seeds"]
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    recipe_path = os.path.join(out, "recipe.json")
    json.dump(recipe, open(recipe_path, "w"), indent=1)
    sensorium = args.sensorium
    if not sensorium:
        root = os.path.dirname(HERE)
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True,
                                  capture_output=True, text=True).stdout.strip()
        sensorium = os.path.join(bin_path, "sensorium")
    mice = synth(sensorium, recipe, out)

    result_path = os.path.join(out, "comparison.json")
    result = json.load(open(result_path)) if os.path.exists(result_path) else {}
    result.update({"epochs": recipe["trainer"]["epochs"], "seeds": seeds, "recipe": recipe,
                   "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                               "load_average_at_end": os.getloadavg()}})
    if args.only != "sdk":
        runs = reference_side(args, recipe_path, recipe, mice, out, seeds, sensorium)
        diffs = [abs(r["scores"][g][m] - r["sdk_scores_of_reference_model"][g][m])
                 for r in runs for g in ("validation", "main", "bonus") for m in ("single_trial", "to_average")]
        result["reference"] = {"runs": runs, "summary": summary(runs, "scores")}
        result["metric_check_max_abs_difference"] = max(diffs)
    if args.only != "reference":
        runs = sdk_side(args, recipe, mice, out, seeds, sensorium)
        result["sdk"] = {"runs": runs, "summary": summary(runs, "scores")}
    if "reference" in result and "sdk" in result:
        result["difference"] = {}
        for k in result["sdk"]["summary"]:
            if k == "cpu_seconds":
                continue
            a, b = result["reference"]["summary"][k], result["sdk"]["summary"][k]
            d = b["mean"] - a["mean"]
            larger = max(a["std"], b["std"])
            result["difference"][k] = {"difference": d, "larger_std": larger, "within_larger_std": abs(d) <= larger,
                                       "larger_range": max(a["range"], b["range"]),
                                       "within_larger_range": abs(d) <= max(a["range"], b["range"])}
    json.dump(result, open(result_path, "w"), indent=1)
    with open(os.path.join(out, "comparison.md"), "w") as f:
        f.write(markdown(result))
    print(open(os.path.join(out, "comparison.md")).read())


if __name__ == "__main__":
    main()
