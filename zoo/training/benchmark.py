"""`zoo bench accuracy --family local`: every model of a family, tiny presets, fixed seeds and one fixed budget, on
the same digit-actions data (with optical flow), evaluated with several clips per video, in the form of Karpathy et
al. 2014's Table 1: clip hit@1, video hit@1, video hit@5, plus their "CNN average" row (the per-video average of the
single-frame, early, late and slow fusion models' predictions).

The table goes to ``docs/bench-accuracy-<family>.md`` and ``.json`` with the commit, the budget and the machine.
"""

import datetime
import json
import os
import subprocess
import time

import numpy as np

from pipelines import datasets
from zoo.training import fusion, metrics, run

# (row name, registered model, builder overrides): the local-motion family of the lecture (issue 4) and C3D.
LOCAL = [
    ("Single frame", "single-frame", {}),
    ("Single frame + multires", "multiresolution", {}),
    ("Single frame fovea only", "multiresolution", {"streams": ("fovea",)}),
    ("Single frame context only", "multiresolution", {"streams": ("context",)}),
    ("Early fusion", "early-fusion", {}),
    ("Late fusion", "late-fusion", {}),
    ("Slow fusion", "slow-fusion", {}),
    ("C3D", "c3d", {}),
    ("Ji et al. 3D CNN", "ji-3dcnn", {}),
    ("Two-stream: spatial", "two-stream-spatial", {}),
    ("Two-stream: temporal", "two-stream-temporal", {}),
]
CNN_AVERAGE = ("Single frame", "Early fusion", "Late fusion", "Slow fusion")
FAMILIES = {"local": LOCAL}


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _predictions(run_dir):
    with np.load(os.path.join(run_dir, "predictions-test.npz")) as f:
        order = np.argsort(f["ids"])
        return f["ids"][order], f["labels"][order], f["probabilities"][order]


def _ensemble(rows, names):
    """Karpathy et al.'s "CNN average": the mean of the members' per-video probabilities."""
    members = [_predictions(rows[n]["run_dir"]) for n in names]
    ids, labels = members[0][0], members[0][1]
    if any(not np.array_equal(m[0], ids) for m in members):
        raise RuntimeError("the ensemble's members were evaluated on different videos")
    probs = np.mean([m[2] for m in members], axis=0)
    out = metrics.video_metrics(probs[:, None, :], labels)
    out["clip_hit@1"] = float(np.mean([rows[n]["clip_hit@1"] for n in names]))  # per-clip: the members' mean
    return out


def accuracy(out="docs", *, family="local", epochs=12, batch_size=16, seed=0, num_clips=4, runs="runs/bench",
             dense_trajectories=True, only=None):
    """Train and evaluate every model of ``family``; returns the result dict and writes the table."""
    if family not in FAMILIES:
        raise run.ZooError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    data = datasets.video_dir("digit-actions", flow="farneback")
    started = time.time()
    rows = {}
    for name, model, overrides in FAMILIES[family]:
        if only and model not in only:
            continue
        t = time.time()
        run_dir = os.path.join(runs, f"{family}-{name.lower().replace(' ', '-').replace(':', '').replace('.', '')}")
        run.train(model, data, overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed,
                  run_dir=run_dir, verbose=2)
        rows[name] = dict(run.evaluate(run_dir, num_clips=num_clips), run_dir=run_dir, model=model,
                          seconds=time.time() - t)
        rows[name].pop("confusion", None)
        print(f"{name}: {rows[name]['video_hit@1']:.3f} video hit@1", flush=True)
    if all(n in rows for n in CNN_AVERAGE):
        rows["CNN average (single + early + late + slow)"] = _ensemble(rows, CNN_AVERAGE)
    streams = ("Two-stream: spatial", "Two-stream: temporal")
    if all(n in rows for n in streams):
        for method in ("average", "svm"):
            fused = fusion.fuse_runs(rows[streams[0]]["run_dir"], rows[streams[1]]["run_dir"], method,
                                     run_dir=os.path.join(runs, f"{family}-two-stream-{method}"))
            rows[f"Two-stream: fusion by {'averaging' if method == 'average' else 'SVM'}"] = dict(
                run.evaluate(fused, num_clips=num_clips), run_dir=fused, model="two-stream")
    if dense_trajectories and (not only or "dense-trajectories" in only):
        from zoo.features import dense_trajectories as dt

        t = time.time()
        result = dt.evaluate(data, dt.config("tiny"), codebook_size=256)  # 4000 in the paper: 256 suits 32x32
        rows["Dense trajectories (Wang et al. 2013)"] = dict(
            {k: result[k] for k in ("clip_hit@1", "video_hit@1", "video_hit@5")}, seconds=time.time() - t,
            model="dense-trajectories")
    result = {"family": family, "data": "digit-actions (flow: farneback)", "commit": _commit(),
              "date": datetime.date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
              "budget": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "preset": "tiny",
                         "clips_per_video": num_clips, "optimizer": "Adam 1e-3, cosine decay"},
              "chance": 1 / datasets.info("digit-actions").num_classes, "rows": rows,
              "seconds": time.time() - started}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"bench-accuracy-{family}.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    with open(os.path.join(out, f"bench-accuracy-{family}.md"), "w") as f:
        f.write(markdown(result))
    return result


def markdown(result):
    b = result["budget"]
    lines = [f"# Accuracy, {result['family']} family, on {result['data']}", "",
             f"Commit {result['commit']}, {result['date']}, {result['cores']} CPU cores. Budget: {b['preset']} "
             f"presets, {b['epochs']} epochs, batch {b['batch_size']}, seed {b['seed']}, {b['optimizer']}; "
             f"evaluation on the test split with {b['clips_per_video']} clips per video. Chance: "
             f"{result['chance']:.2f}.", "",
             "| Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 |", "|---|---|---|---|"]
    for name, r in result["rows"].items():
        lines.append(f"| {name} | {r['clip_hit@1']:.3f} | {r['video_hit@1']:.3f} | {r['video_hit@5']:.3f} |")
    lines += ["", f"Total time: {result['seconds'] / 60:.1f} minutes.", ""]
    return "\n".join(lines)
