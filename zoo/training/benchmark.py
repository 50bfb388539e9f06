"""`zoo bench accuracy --family local|global`: every model of a family, tiny presets, fixed seeds and one fixed
budget, evaluated with several clips per video.

- ``local`` (issue 4's models and C3D) on digit-actions (with optical flow), in the form of Karpathy et al. 2014's
  Table 1: clip hit@1, video hit@1, video hit@5, plus their "CNN average" row (the per-video average of the
  single-frame, early, late and slow fusion models' predictions) and the two-stream fusions.
- ``global`` (issue 5's recurrent models, on RGB and, for LRCN and the deep LSTM, with the papers' optical flow
  (Farneback), with C3D, slow fusion and an order-free pooling model for contrast) on
  digit-actions and on digit-actions-order, whose classes differ only in the order of two motions. The recurrent
  models take a clip that spans the whole video (their frames ``frame_step`` apart; on digit-actions at most 2
  apart, `MAX_FRAME_STEP`: farther apart the fastest motions alias); C3D and slow fusion see one
  short window of consecutive frames, as they were designed, and their clips' predictions are averaged, which
  cannot tell "A then B" from "B then A" unless a window happens to straddle the switch: about 0.5 at best.
  LRCN's RGB and flow networks are trained apart and fused as in the paper (`GLOBAL_FUSED`), from their saved test
  predictions. Baccouche et al.'s model trains in its paper's two steps (`FIRST_STEP`): the 3D ConvNet on 9-frame
  windows, then the LSTM over three consecutive windows (27 frames) with the ConvNet frozen, each step with the
  budget, on frames upsampled to 48 x 48 (see `GLOBAL`); its table row also gives the first step's own result.
  LRCN and the deep LSTM also have rows whose frame CNN is pretrained first (`PRETRAINED`), as the papers' CNNs were
  on ImageNet: a CNN fitted to digit-actions' torus ("small-caffenet-torus") trained to tell the digit's pose and
  place in single frames (`zoo.training.pretrain`), then frozen under the LSTM.

The table goes to ``docs/bench-accuracy-<family>.md`` and ``.json`` with the commit, the budget and the machine; the
global family's JSON also keeps every row's test confusion matrix, drawn side by side in
``docs/global/confusion-<dataset>.png``.
"""

import datetime
import json
import os
import subprocess
import time

import keras
import numpy as np

import zoo
from pipelines import datasets
from zoo.training import figures, fusion, metrics, pretrain, run
from zoo.training.data import release_iterators

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
# (row name, model, overrides, whether its clip spans the whole video): issue 5's models and, for contrast, models
# that see one short window (C3D, slow fusion) or pool frames without their order (conv pooling).
GLOBAL = [
    ("C3D (one short window)", "c3d", {}, False),
    ("Slow fusion (one short window)", "slow-fusion", {}, False),
    ("Beyond Short Snippets: conv pooling (order-free)", "snippets-conv-pooling", {}, True),
    ("Beyond Short Snippets: deep LSTM", "snippets-lstm", {}, True),
    ("Beyond Short Snippets: deep LSTM, frame CNN pretrained on digit poses", "snippets-lstm",
     {"backbone": "small-caffenet-torus"}, True),
    ("Beyond Short Snippets: deep LSTM + flow", "snippets-lstm-flow", {}, True),
    ("LRCN", "lrcn", {}, True),
    ("LRCN, frame CNN pretrained on digit poses", "lrcn", {"backbone": "small-caffenet-torus"}, True),
    ("LRCN (flow)", "lrcn-flow", {}, True),
    ("GRU-RCN", "gru-rcn", {}, True),
    ("ConvLSTM RCN", "convlstm-rcn", {}, True),
    # consecutive windows; 48 x 48 frames (32 x 32 upsampled): at the tiny 32 x 32 the paper's layers leave C3 2 x 2
    # maps (20 values a window), at 48 x 48 6 x 6 (180; the paper's 54 x 34 boxes: 8 x 3, 120)
    ("Baccouche et al.: 3D ConvNet, then LSTM over its windows (48 x 48 frames)", "baccouche",
     {"height": 48, "width": 48}, False),
]
# Models trained in two steps (Baccouche et al. 2011, Sec. 4): first the model named here, with the row's overrides,
# on the same data with the same budget (windows of consecutive frames at random offsets), then the row's model with
# it frozen underneath.
FIRST_STEP = {"baccouche": "baccouche-3dcnn"}
# Rows whose frame CNN (the row's ``backbone``) is pretrained first, as the papers' CNNs were on ImageNet: on posed
# single frames of digit-actions' digits (`zoo.training.pretrain.digit_poses`, its fixed recipe: 60,000 frames, 10
# epochs, outside the budget as ImageNet is), once per bench run and backbone; then the recurrent part trains on it
# frozen. Fine-tuned with the LSTM at the budget's learning rate, the CNN lost what it had learned (LRCN on
# digit-actions, the same pretrained CNN and seed: 0.700 video hit@1 fine-tuned, 0.943 frozen).
PRETRAINED = ("Beyond Short Snippets: deep LSTM, frame CNN pretrained on digit poses",
              "LRCN, frame CNN pretrained on digit poses")
# Rows fused from other rows' test predictions, nothing trained: name -> ((member row, weight), ...), shown after
# the last member. LRCN trains its RGB and flow networks separately and averages their predictions with the weights
# 1/3 RGB, 2/3 flow (Donahue et al. 2015, Sec. 4, Table 1).
GLOBAL_FUSED = {"LRCN (RGB + flow: weighted average, 1/3 : 2/3)": (("LRCN", 1 / 3), ("LRCN (flow)", 2 / 3))}
FAMILIES = {"local": LOCAL, "global": GLOBAL}
GLOBAL_DATA = ("digit-actions", "digit-actions-order")
# The largest frame step that still samples a dataset's fastest periodic motion above the Nyquist rate. digit-actions
# oscillates with a period of 6-10 frames and zooms through a cycle every 10-17 frames: frames 3 apart give a 6-frame
# oscillation 2 samples a period (the Nyquist limit), 4 apart 1.5, and a zoom moves up to 0.4 of its cycle between
# samples 4 apart, near the 0.5 at which zoom-in and zoom-out look alike. Its motion is the same all along the video,
# so a clip need not span it. digit-actions-order (translations only) has no such limit: its clips span the video.
MAX_FRAME_STEP = {"digit-actions": 2}


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _write(out, name, result, to_markdown):
    """``out``/NAME.json and NAME.md; returns ``result``."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(to_markdown(result))
    return result


def _predictions(run_dir):
    with np.load(os.path.join(run_dir, "predictions-test.npz")) as f:
        order = np.argsort(f["ids"])
        return f["ids"][order], f["labels"][order], f["probabilities"][order]


def _ensemble(run_dirs, weights=None):
    """The (weighted) mean of runs' test probabilities, view by view (equal weights: Karpathy et al.'s "CNN
    average"): its metrics and its confusion matrix."""
    members = [_predictions(d) for d in run_dirs]
    ids, labels = members[0][0], members[0][1]
    if any(not np.array_equal(m[0], ids) or m[2].shape != members[0][2].shape for m in members):
        raise RuntimeError("the ensemble's members were evaluated on different videos or views")
    probs = np.average([m[2] for m in members], axis=0, weights=weights)
    confusion = metrics.confusion_matrix(probs.mean(axis=1).argmax(-1), labels, probs.shape[-1])
    return dict(metrics.video_metrics(probs, labels), confusion=confusion.tolist())


def accuracy(out="docs", *, family="local", epochs=12, batch_size=16, seed=0, num_clips=4, runs="runs/bench",
             dense_trajectories=True, only=None):
    """Train and evaluate every model of ``family``; returns the result dict and writes the table."""
    if family not in FAMILIES:
        raise run.ZooError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if family == "global":
        return _global(out, epochs=epochs, batch_size=batch_size, seed=seed, num_clips=num_clips, runs=runs,
                       only=only)
    data = datasets.video_dir("digit-actions", flow="farneback")
    started = time.time()
    rows, path = {}, os.path.join(out, f"bench-accuracy-{family}.json")
    if only and os.path.exists(path):  # rerun some models: the others' rows (and run directories) stay
        with open(path) as f:
            previous = json.load(f)
        rows = {k: v for k, v in previous["rows"].items() if "run_dir" not in v or os.path.isdir(v["run_dir"])}
    commit = _commit()
    rerun = f"{previous['commit']}; {', '.join(only)} rerun at {commit}" if rows else commit
    for name, model, overrides in FAMILIES[family]:
        if only and model not in only:
            continue
        t = time.time()
        run_dir = os.path.join(runs, f"{family}-{name.lower().replace(' ', '-').replace(':', '').replace('.', '')}")
        run.train(model, data, overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed,
                  run_dir=run_dir, verbose=2)
        rows[name] = dict(run.evaluate(run_dir, num_clips=num_clips), run_dir=run_dir, model=model,
                          seconds=time.time() - t, commit=commit)
        rows[name].pop("confusion", None)
        print(f"{name}: {rows[name]['video_hit@1']:.3f} video hit@1", flush=True)
    if all(n in rows for n in CNN_AVERAGE):
        rows["CNN average (single + early + late + slow)"] = _ensemble([rows[n]["run_dir"] for n in CNN_AVERAGE])
        rows["CNN average (single + early + late + slow)"].pop("confusion")
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
    result = {"family": family, "data": "digit-actions (flow: farneback)", "commit": rerun,
              "date": datetime.date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
              "budget": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "preset": "tiny",
                         "clips_per_video": num_clips, "optimizer": "Adam 1e-3, cosine decay"},
              "chance": 1 / datasets.info("digit-actions").num_classes, "rows": rows,
              "seconds": time.time() - started}
    return _write(out, f"bench-accuracy-{family}", result, markdown)


def clip_step(data_name, frames):
    """The frame step of a clip of ``frames`` frames that spans a video of ``data_name``, unless its frames would
    then alias the motion (`MAX_FRAME_STEP`); None for a model without a frame count."""
    if not frames:
        return None
    length = datasets.info(data_name).shape[0]
    return max(1, min(length // frames, MAX_FRAME_STEP.get(data_name, length)))


def _clip_frames(model, overrides):
    """Frames (or flow fields) of one clip of the tiny preset: its ``frames`` argument, or the length of its clip
    input (Baccouche et al.'s model counts windows of 9 frames)."""
    args = zoo.resolve(model, "tiny", **overrides)
    if "frames" in args or zoo.model_info(model).input != "clip":
        return args.get("frames")
    return int(zoo.build(model, "tiny", **overrides).input.shape[1])


def _global(out, *, epochs, batch_size, seed, num_clips, runs, only, data=GLOBAL_DATA):
    """The global family on both datasets (see the module docstring). With ``only`` (models or row names; empty:
    none, the fused rows recomputed) or ``data`` (one of the datasets), the other rows of an earlier run in ``out``
    stay."""
    rows, commit, trained = {}, _commit(), set()
    path = os.path.join(out, "bench-accuracy-global.json")
    previous = None
    if (only is not None or tuple(data) != GLOBAL_DATA) and os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        rows = previous["rows"]
    pretrained = {}  # backbone -> `pretrain.digit_poses`' result: its file and its held-out accuracies
    for name, model, overrides, spans in GLOBAL:
        if only is not None and model not in only and name not in only:
            continue
        rows.setdefault(name, {"model": model})
        frames = _clip_frames(model, overrides)  # the same on every dataset (a clip model may be built to count)
        backbone = overrides.get("backbone")
        if name in PRETRAINED and backbone not in pretrained:  # outside the row's time, as ImageNet is
            t = time.time()
            weights = os.path.join(runs, f"pretrained-{backbone}-digit-poses.keras")
            pretrained[backbone] = dict(pretrain.digit_poses(weights, backbone, verbose=2), seconds=time.time() - t)
            print(f"{backbone} pretrained on digit poses: {pretrained[backbone]}", flush=True)
        for data_name in data:
            step = clip_step(data_name, frames) if spans else None  # None: consecutive frames (C3D, slow fusion)
            t = time.time()
            run_dir = os.path.join(runs, f"global-{data_name}-{model}" + ("-pretrained" if name in PRETRAINED else ""))
            source = data_name  # flow models: the dataset with its Farneback flow, as in the local family
            if zoo.model_info(model).input != "clip":
                source = datasets.video_dir(data_name, flow="farneback")
            first, kw = FIRST_STEP.get(model), dict(overrides)
            if first:
                first_dir = os.path.join(runs, f"global-{data_name}-{first}")
                run.train(first, source, overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed,
                          run_dir=first_dir, verbose=2)
                first_result = run.evaluate(first_dir, num_clips=num_clips)
                kw.update(backbone_weights=os.path.join(first_dir, "model.keras"), train_backbone=False)
            if name in PRETRAINED:
                kw.update(backbone_weights=pretrained[backbone]["path"], train_backbone=False)
            run.train(model, source, overrides=kw, epochs=epochs, batch_size=batch_size, seed=seed,
                      run_dir=run_dir, verbose=2, frame_step=step)
            r = run.evaluate(run_dir, num_clips=num_clips)
            rows[name][data_name] = {k: r[k] for k in ("clip_hit@1", "video_hit@1", "video_hit@5", "confusion")}
            if name in PRETRAINED:
                rows[name][data_name]["pretraining"] = pretrained[backbone]
            if first:
                rows[name][data_name]["first_step"] = {"model": first, "run_dir": first_dir,
                                                       **{k: first_result[k] for k in ("clip_hit@1", "video_hit@1")}}
            rows[name][data_name].update(run_dir=run_dir, seconds=time.time() - t, frames=frames, frame_step=step,
                                         commit=commit)
            print(f"{name} on {data_name}: {r['video_hit@1']:.3f} video hit@1", flush=True)
            trained.add((name, data_name))
    _fuse_global(rows, trained, commit)
    order = [name for name, *_ in GLOBAL]
    for name, members in GLOBAL_FUSED.items():
        order.insert(max(order.index(m) for m, _ in members) + 1, name)
    rows = {name: rows[name] for name in order if name in rows}  # in the table's order
    os.makedirs(os.path.join(out, "global"), exist_ok=True)
    for data_name in GLOBAL_DATA:  # what every model confuses, side by side ("not run": a row without a matrix)
        figures.confusion_grid([(name, r.get(data_name, {}).get("confusion")) for name, r in rows.items()],
                               datasets.info(data_name).class_names,
                               os.path.join(out, "global", f"confusion-{data_name}.png"))
    if previous:
        models = [n if only and n in only else m for n, m, _, _ in GLOBAL if only is None or m in only or n in only]
        commit = f"{previous['commit']}; " + (f"{', '.join(models)} on {', '.join(data)} rerun at {commit}" if models
                                              else f"{', '.join(GLOBAL_FUSED)} fused at {commit}")
    result = {"family": "global", "data": list(GLOBAL_DATA), "commit": commit,
              "date": datetime.date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
              "budget": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "preset": "tiny",
                         "clips_per_video": num_clips, "optimizer": "Adam 1e-3, cosine decay"},
              "chance": {d: 1 / datasets.info(d).num_classes for d in GLOBAL_DATA}, "rows": rows,
              "seconds": sum(r[d]["seconds"] for r in rows.values() for d in GLOBAL_DATA if d in r)}  # all runs
    return _write(out, "bench-accuracy-global", result, markdown)


def _fuse_global(rows, trained, commit):
    """Compute the `GLOBAL_FUSED` rows of ``rows`` on every dataset whose members' runs are on disk; a fused cell
    that cannot be recomputed stays from an earlier run unless a member was retrained (``trained``: (row, dataset)
    pairs), and is then dropped, with a line that says so."""
    for name, members in GLOBAL_FUSED.items():
        for data_name in GLOBAL_DATA:
            parts = [rows.get(m, {}).get(data_name) for m, _ in members]
            if all(p and os.path.isdir(p.get("run_dir") or "") for p in parts):
                r = _ensemble([p["run_dir"] for p in parts], [w for _, w in members])
                cell = {k: r[k] for k in ("clip_hit@1", "video_hit@1", "video_hit@5", "confusion")}
                cell.update(frames=parts[0]["frames"], frame_step=parts[0]["frame_step"], seconds=0.0, commit=commit)
                rows.setdefault(name, {"model": rows[members[0][0]]["model"], "unit": "frames + flow fields"})[
                    data_name] = cell
                print(f"{name} on {data_name}: {r['video_hit@1']:.3f} video hit@1", flush=True)
            elif any((m, data_name) in trained for m, _ in members) and rows.get(name, {}).pop(data_name, None):
                print(f"{name} on {data_name}: dropped (a member was retrained, the other's test predictions are "
                      "not on this machine)", flush=True)


def _global_markdown(result):
    b, (short, long_) = result["budget"], result["data"]
    lines = [f"# Accuracy, global family, on {short} and {long_}", "",
             f"Continues [the local family's table](bench-accuracy-local.md) under the same budget rules. Commit "
             f"{result['commit']}, {result['date']}, {result['cores']} CPU cores. Budget: {b['preset']} presets, "
             f"{b['epochs']} epochs, batch {b['batch_size']}, seed {b['seed']}, {b['optimizer']}; evaluation on the "
             f"test split with {b['clips_per_video']} clips per video. Chance: {result['chance'][short]:.2f} on "
             f"{short}, {result['chance'][long_]:.2f} on {long_}. A model that averages windows which each see one "
             f"motion reaches about 0.5 on {long_} (it cannot order the two motions); an order-free model reaches "
             f"about 0.6 on {short} (it cannot tell a motion from its reverse: right / left, up / down, clockwise / "
             "anticlockwise, zoom in / out). The clips of the models that span the video have their frames "
             f"{', '.join(f'at most {n} apart on {d}' for d, n in MAX_FRAME_STEP.items())} (farther apart, the "
             "fastest motions alias).", "",
             f"| Model | Clip ({short}) | {short} Video Hit@1 | Clip ({long_}) | {long_} Clip Hit@1 | "
             f"{long_} Video Hit@1 |", "|---|---|---|---|---|---|"]

    def clip(r, unit):
        if not r["frames"]:
            return "-"
        return f"{r['frames']} {unit}" + (f", step {r['frame_step']}" if r["frame_step"] else ", consecutive")

    missing = {"frames": None, "frame_step": None, "clip_hit@1": float("nan"), "video_hit@1": float("nan")}
    for name, r in result["rows"].items():  # a partial run (``data``: one dataset) leaves the other one empty
        a, o = r.get(short, missing), r.get(long_, missing)
        unit = r.get("unit") or {"flow": "flow fields", "rgb+flow": "frames + flow"}.get(
            zoo.model_info(r["model"]).input, "frames")
        lines.append(f"| {name} | {clip(a, unit)} | {a['video_hit@1']:.3f} | {clip(o, unit)} | "
                     f"{o['clip_hit@1']:.3f} | {o['video_hit@1']:.3f} |")
    for name, r in result["rows"].items():
        steps = {d: r[d]["first_step"] for d in result["data"] if "first_step" in r.get(d, {})}
        if steps:
            model = next(iter(steps.values()))["model"]
            lines += ["", f"{name}: its first step alone, `{model}` (one window of consecutive frames, "
                      f"{b['clips_per_video']} windows averaged per video), " + ", ".join(
                          f"{s['video_hit@1']:.3f} video hit@1 on {d}" for d, s in steps.items()) + "."]
        pre = next((r[d]["pretraining"] for d in result["data"] if "pretraining" in r.get(d, {})), None)
        if pre:
            took = f", {pre['seconds'] / 60:.0f} minutes" if "seconds" in pre else ""
            lines += ["", f"{name}: its frame CNN, `{pre['backbone']}`, pretrained on {pre['frames']:,} posed frames "
                      f"of the training digits ({pre['epochs']} epochs{took}; `zoo.training.pretrain.digit_poses`); "
                      f"on {pre['held_out']:,} frames of the test digits: angle bin {pre['angle']:.2f} (within one "
                      f"bin {pre['angle_within_one_bin']:.2f}), scale bin {pre['scale']:.2f}, place "
                      f"{pre['place']:.2f}; then frozen under the recurrent part."]
    lines += ["", f"Total time: {result['seconds'] / 60:.1f} minutes.", "",
              "What each model confuses (test split, rows: the true class, normalized): "
              + ", ".join(f"[{d}](global/confusion-{d}.png)" for d in result["data"]) + ".", ""]
    return "\n".join(lines)


def markdown(result):
    if result["family"] == "global":
        return _global_markdown(result)
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


# ------------------------------------------------------------------------------------------------ generative

# (row name, registered model): issue 6's models, tiny presets, on the embedded MNIST.
GENERATIVE = [
    ("Autoencoder: linear + sigmoid", "autoencoder-linear"),
    ("Autoencoder: tied weights", "autoencoder-tied"),
    ("Autoencoder: deep (random init)", "autoencoder-deep"),
    ("Autoencoder: deep, RBM-pretrained (Hinton & Salakhutdinov)", "autoencoder-deep-rbm"),
    ("Autoencoder: conv", "autoencoder-conv"),
    ("RBM (CD-1)", "rbm"),
    ("VAE (Bernoulli decoder)", "vae"),
    ("VAE, conv", "vae-conv"),
    ("GAN (MLP, Goodfellow et al.)", "gan"),
    ("DCGAN", "dcgan"),
    ("LAPGAN", "lapgan"),
    ("DeePSiM (reconstructions)", "deepsim"),
]


def _sample_checks(net, train, figures_dir, name, test):
    """For a model that samples: its nearest-neighbour figure and how far samples lie from their nearest training
    image, relative to how far held-out test digits lie from theirs (a copy would be ~0); for a model with
    ``noise`` and ``generate``: the interpolation figure and its smoothness (the largest step between neighbouring
    images as a share of the path's length in pixels: 1/(steps-1) if even, near 1 for a jump)."""
    from zoo.training import gan_figures

    out = {}
    gan_figures.nearest_neighbours_figure(net, train, os.path.join(figures_dir, f"{name}-nn.png"), num=32)
    _, distances = gan_figures.nearest_neighbours(np.asarray(net.sample(256, seed=1), np.float32),
                                                  train.astype(np.float32) / 255.0)
    _, reference = gan_figures.nearest_neighbours(test[:256].astype(np.float32) / 255.0,
                                                  train.astype(np.float32) / 255.0)
    out["nn_distance_ratio"] = float(np.median(distances[:, 0]) / np.median(reference[:, 0]))
    out["nn_min_distance"] = float(distances.min())
    if hasattr(net, "noise") and hasattr(net, "generate"):
        _, images = gan_figures.interpolation_figure(net, os.path.join(figures_dir, f"{name}-interpolation.png"))
        steps = np.linalg.norm(np.diff(images.reshape(*images.shape[:2], -1), axis=1), axis=-1)
        out["interpolation_largest_step"] = float(np.mean(steps.max(1) / steps.sum(1)))
        out["interpolation_steps"] = images.shape[1]
    return out


def _rbm_pretrained(train, epochs, batch_size, seed):
    """The tiny `autoencoder-deep` (784-64-32-8) pretrained as a stack of RBMs (CD-1, ``epochs`` each), unrolled and
    fine-tuned for ``epochs`` (Hinton & Salakhutdinov 2006, Fig. 1)."""
    from zoo.generative import rbm

    keras.utils.set_random_seed(seed)
    args = zoo.resolve("autoencoder-deep", "tiny")
    net = rbm.unroll(rbm.stack(train, sizes=(*args["hidden"], args["code"]), epochs=epochs, batch_size=100,
                               seed=seed))
    net.compile()
    net.fit(train.astype("float32") / 255.0, epochs=epochs, batch_size=batch_size, verbose=2)
    release_iterators()
    return net


def generative(out="docs", *, epochs=10, batch_size=64, seed=0, runs="runs/bench", only=None, fid_samples=1000,
               nll_samples=1000, nll_examples=1000):
    """Train every model of `GENERATIVE` on the embedded MNIST with one budget and judge it on the test split:
    reconstruction error (autoencoders, RBM, DeePSiM), ELBO and importance-weighted NLL (VAEs), FID and KID on the
    digit classifier's features (models that sample; DeePSiM: its reconstructions), with sample images, nearest
    neighbours and interpolations in ``out``/generative/."""
    import shutil

    from zoo.training import judge

    figures_dir = os.path.join(out, "generative")
    os.makedirs(figures_dir, exist_ok=True)
    train = datasets.image_arrays("mnist", "train")[0]
    test = datasets.image_arrays("mnist", "test")[0]
    started, rows, commit = time.time(), {}, _commit()
    for name, model in GENERATIVE:
        if only and model not in only:
            continue
        t = time.time()
        run_dir = os.path.join(runs, f"generative-{model}")
        if model == "autoencoder-deep-rbm":
            net, row = _rbm_pretrained(train, epochs, batch_size, seed), {}
        else:
            run.train(model, "mnist", epochs=epochs, batch_size=batch_size, seed=seed, run_dir=run_dir, verbose=2)
            r = run.evaluate(run_dir, nll_samples=nll_samples, nll_examples=nll_examples, fid_samples=fid_samples)
            row = {k: r[k] for k in ("elbo", "nll", "fid", "kid", "kid_std") if k in r}
            net = run.load_model(run_dir)
        if hasattr(net, "reconstruct"):
            x = test.astype(np.float32) / 255.0
            recon = np.concatenate([np.asarray(net.reconstruct(x[i:i + 250])) for i in range(0, len(x), 250)])
            row["mse"] = float(((recon - x) ** 2).mean())
            if model == "deepsim":  # a feature inverter: judged on its reconstructions of the test digits
                space = judge.feature_space(test.shape[1:])
                row["fid"] = judge.fid(space(recon), space(x))
        if hasattr(net, "sample"):
            row.update(_sample_checks(net, train, figures_dir, model, test))
        for figure in ("samples", "reconstructions"):
            path = os.path.join(run_dir, "figures", f"{figure}.png")
            if os.path.exists(path):
                shutil.copy(path, os.path.join(figures_dir, f"{model}-{figure}.png"))
        if model == "autoencoder-deep-rbm":
            x = test[:32].astype(np.float32) / 255.0
            pairs = np.stack([x, np.asarray(net.reconstruct(x))], axis=1).reshape(-1, *x.shape[1:])
            figures.image_grid(pairs, os.path.join(figures_dir, f"{model}-reconstructions.png"), columns=16)
        rows[name] = dict(row, model=model, run_dir=run_dir, seconds=time.time() - t)
        print(f"{name}: {json.dumps({k: round(v, 4) for k, v in row.items()})}", flush=True)
    result = {"benchmark": "generative", "data": "mnist (embedded: 4,000 train / 1,000 test real digits)",
              "commit": commit, "date": datetime.date.today().isoformat(), "cores": len(os.sched_getaffinity(0)),
              "budget": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "preset": "tiny",
                         "optimizer": "each paper's (`compile()` defaults)", "fid_samples": fid_samples,
                         "nll_samples": nll_samples, "nll_examples": nll_examples},
              "rows": rows, "seconds": time.time() - started}
    return _write(out, "bench-generative", result, generative_markdown)


def generative_markdown(result):
    b = result["budget"]
    cell = lambda r, k, fmt: format(r[k], fmt) if k in r else "-"
    lines = [f"# Generative models on {result['data']}", "",
             f"Commit {result['commit']}, {result['date']}, {result['cores']} CPU cores. Budget: {b['preset']} "
             f"presets, {b['epochs']} epochs, batch {b['batch_size']}, seed {b['seed']}, {b['optimizer']}. On the "
             f"test split: reconstruction MSE per pixel; ELBO and importance-weighted NLL (k={b['nll_samples']}, "
             f"first {b['nll_examples']} digits) in nats per image; FID and KID of {b['fid_samples']} samples "
             "against as many test digits on the project's digit classifier's features (lower is better). "
             "NN ratio: median pixel distance of samples to their nearest training digit over that of held-out "
             "test digits to theirs (a copy would give ~0). Interpolation: the largest step between neighbouring "
             "images as a share of the path (1/9 = 0.11 for an even walk, near 1 for a jump). Figures in "
             "[generative/](generative/).", "",
             "| Model | Recon. MSE | ELBO | NLL | FID | KID | NN ratio | Interpolation |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        lines.append(f"| {name} | {cell(r, 'mse', '.4f')} | {cell(r, 'elbo', '.1f')} | {cell(r, 'nll', '.1f')} | "
                     f"{cell(r, 'fid', '.1f')} | {cell(r, 'kid', '.3f')} | {cell(r, 'nn_distance_ratio', '.2f')} | "
                     f"{cell(r, 'interpolation_largest_step', '.2f')} |")
    lines += ["", f"Total time: {result['seconds'] / 60:.1f} minutes.", ""]
    return "\n".join(lines)
