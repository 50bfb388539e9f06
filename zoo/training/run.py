"""The path every model walks: train -> evaluate -> export -> reload, around a run directory.

    runs/<model>-<data>-<time>/
      config.json         how to rebuild the model and its data (model, preset, arguments, dataset, classes)
      model.keras         the trained model (reloads with safe_mode=True)
      checkpoints/        last.keras after every epoch, best.keras by validation loss
      history.csv         Keras' CSVLogger
      logs/               TensorBoard
      figures/            curves.png; classifiers: confusion.png; generative: samples, reconstructions, manifold
      metrics.json        what `evaluate` measured
      export/             the SavedModel (`export`)
"""

import contextlib
import datetime
import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

import zoo
from pipelines import datasets, service
from zoo.errors import ZooError
from zoo.training import data as zdata
from zoo.training import figures, judge, metrics
from zoo.training.callbacks import AtomicCheckpoint, NaNStop, StepBackup, StopAtStep
from zoo.training.export import export_saved_model, verify_in_fresh_process
from zoo.training.strategy import cluster, get_strategy, is_chief, jit_compile

CONFIG = "config.json"


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    os.replace(tmp, path)


def load_config(run_dir):
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(path):
        raise ZooError(f"{run_dir!r} is not a run directory (no {CONFIG}); `zoo train` makes one")
    with open(path) as f:
        return json.load(f)


@contextlib.contextmanager
def _global_policy(precision):
    """Keras' global dtype policy set to ``precision`` inside the block, restored after it."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def load_model(run_dir):
    """The trained model of a run, reloaded from .keras with safe_mode (no arbitrary code), under the run's
    precision: a mixed_float16 model compiles with its LossScaleOptimizer again and gets its saved state back
    (loaded under float32, Keras gave it a plain optimizer, warned and left the optimizer's state behind)."""
    config = load_config(run_dir)
    path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(path):
        raise ZooError(f"{run_dir!r} holds no model.keras: its training did not finish")
    zoo.list_models()  # registers the zoo's serializable classes
    with _global_policy(config.get("precision", "float32")):
        return keras.saving.load_model(path, safe_mode=True)


def custom_gradients():
    """The names of the gradient functions of `tf.custom_gradient` ops in TensorFlow's global gradient registry."""
    from tensorflow.python.framework import ops

    return {name for name in ops._gradient_registry._registry if name.startswith("CustomGradient-")}


def forget_custom_gradients(keep=()):
    """Drop the gradient functions of `tf.custom_gradient` ops traced in graphs that are gone (all but ``keep``).

    TensorFlow 2.17 registers the gradient function of every `tf.custom_gradient` traced in a graph in a global
    registry for good, and its closure holds the whole traced graph (tensorflow#97697, fixed after 2.17). Keras makes
    one in every train function (the optimizer's gradient all-reduce), so each model trained in a process keeps its
    train graph alive (measured: ~8 MB per tuner trial of the VAE). Call it only when the graphs of the dropped
    entries are no longer used: after `keras.backend.clear_session()` when the models trained before are gone."""
    from tensorflow.python.framework import ops

    for name in custom_gradients() - set(keep):
        del ops._gradient_registry._registry[name]


def _compile(model, info, learning_rate, jit, decay_steps=None):
    """Classifiers: Adam (1e-3 unless given) with sparse categorical cross-entropy. Generative models compile
    themselves (their train_step has its own losses; a GAN has two optimizers): with no learning rate they take the
    paper's optimizers, with one an Adam at that rate. With a known number of steps the given learning rate follows
    a cosine decay over the run."""
    if learning_rate is None and info.task == "classification":
        learning_rate = 1e-3
    if learning_rate is not None and decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=0.01)
    if info.task == "classification":
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")],
                      jit_compile=jit)
    elif learning_rate is None:
        model.compile(jit_compile=jit)
    else:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit)
    build_training_state(model, info)


def build_training_state(model, info):
    """Create the optimizer's variables (and a classifier's metric and loss state) of a compiled ``model`` now,
    eagerly. Without a distribution strategy Keras creates them inside the first trace of the train step, which
    tf.function must then trace again without them (Keras 3.15's `TensorFlowTrainer._maybe_symbolic_build` builds
    first only under a strategy): the first `train_on_batch` of the tiny bidirectional GRU-RCN took 16.5 s with
    them unbuilt and 8.7 s with them built first, this call included (Intel Xeon; `make bench` measures it). It also
    keeps the variables' initializer graphs out of TensorFlow's function library (tuning: memory stays flat over
    many trials)."""
    if info.task == "classification":  # Keras' own train step: its state comes from one symbolic pass
        labels = keras.KerasTensor(model.outputs[0].shape[:1], "int32")
        model._symbolic_build(data_batch=(model.input, labels))
    if model.optimizer is not None and not model.optimizer.built:  # a generative model's own train step
        model.optimizer.build(model.trainable_variables)


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _frame_step(info, arguments, frame_step):
    """The clip's frame step: the model's, or ``frame_step`` where the architecture does not fix it."""
    if frame_step is None:
        return info.clip_stride(arguments)
    if info.input not in ("clip", "flow", "rgb+flow") or info.task != "classification":
        raise ZooError(f"{info.name!r} does not take clips: a frame step does not apply")
    if isinstance(info.stride, str):
        raise ZooError(f"{info.name!r} fixes its frame step in the architecture: set {info.stride}=N instead")
    if not isinstance(frame_step, int) or frame_step < 1:
        raise ZooError(f"the frame step must be a positive integer, not {frame_step!r}")
    return frame_step


def train(model, data, *, preset="tiny", overrides=None, epochs=10, batch_size=32, learning_rate=None,
          run_dir=None, runs_root="runs", strategy="auto", jit=False, seed=0, verbose="auto", callbacks=(),
          precision="float32", backup_every=100, frame_step=None, data_service=None, clips_per_video=1):
    """Train registered model ``model`` on dataset ``data``; returns the run directory.

    ``frame_step``: the step between the frames of an input clip (default: the model's own, 1 for most), e.g. 6 for
    an 8-frame recurrent model to span a 48-frame video; also between the flow fields of a model that takes flow
    alone or one field per frame (`pipelines.video.clips`); evaluation uses the same. ``data_service``: the address
    of a tf.data service (`pipelines.service`) that runs the training pipeline. ``clips_per_video``: training clips
    taken from every video read (`pipelines.video.clips`; an epoch then has that many clips of every video).

    The run backs itself up every ``backup_every`` steps and at each epoch end: the same call after a crash resumes
    from there and ends with the same number of steps. ``precision``: a Keras dtype policy (mixed precision keeps
    softmax outputs, distributions and discriminator logits in float32; float16 losses are scaled)."""
    info = zoo.model_info(model)
    data_info = datasets.info(data)
    overrides = dict(overrides or {})
    zdata.check(info, data_info, num_classes=overrides.get("num_classes"))
    if info.task == "classification" and "num_classes" in info.arguments():
        overrides.setdefault("num_classes", data_info.num_classes)
    arguments = zoo.resolve(model, preset, **overrides)
    if batch_size < 1 or epochs < 1 or backup_every < 1 or clips_per_video < 1:
        raise ZooError("epochs, batch size, backup interval and clips per video must be positive")
    if precision not in PRECISIONS:
        raise ZooError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")

    if strategy == "multiworker":  # before any other TensorFlow work: the collectives start with the strategy
        strategy = get_strategy(strategy)
        task_type, task_index, _ = cluster()
        if run_dir is None:
            raise ZooError("--strategy multiworker needs --run-dir (the same on every worker)")
        if not is_chief(task_type, task_index):  # the other workers keep their own copy, as Keras' callbacks do
            run_dir = os.path.join(run_dir, "workers", f"{task_type}-{task_index}")
    if run_dir is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = os.path.join(runs_root, f"{model}-{os.path.basename(data.rstrip('/'))}-{stamp}")
    os.makedirs(os.path.join(run_dir, "figures"), exist_ok=True)
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)

    keras.utils.set_random_seed(seed)
    strategy = get_strategy(strategy) if isinstance(strategy, str) else strategy
    jit = jit_compile(jit, precision)
    with _global_policy(precision), strategy.scope():
        net = zoo.build(model, preset, **overrides)
    zdata.check(info, data_info, model=net)
    val_split = "val" if "val" in data_info.splits else "test"
    stride = _frame_step(info, arguments, frame_step)
    train_ds = zdata.dataset(info, net, data, "train", batch_size, training=True, seed=seed, stride=stride,
                             clips_per_video=clips_per_video)
    val_ds = zdata.dataset(info, net, data, val_split, batch_size, training=False, stride=stride)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # every worker reads every shard and keeps its part of each global batch: the same steps everywhere
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        train_ds, val_ds = train_ds.with_options(options), val_ds.with_options(options)
    steps = int(train_ds.cardinality())
    with strategy.scope():
        _compile(net, info, learning_rate, jit, decay_steps=epochs * steps if steps > 0 else None)

    config = {"model": model, "preset": preset, "overrides": overrides, "arguments": arguments, "data": data,
              "task": info.task, "input": info.input, "class_names": list(data_info.class_names),
              "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
              "frame_step": stride, "clips_per_video": clips_per_video,
              "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync, "jit_compile": jit,
              "precision": precision, "data_service": data_service,
              "paper": info.paper, "parameters": int(net.count_params()), "versions": _versions()}
    _write_json(os.path.join(run_dir, CONFIG), config)

    backup_dir = os.path.join(run_dir, "backup")
    resuming = os.path.exists(os.path.join(backup_dir, "training_metadata.json"))
    nan = NaNStop()
    cbs = [
        StepBackup(backup_dir, save_freq=backup_every),
        AtomicCheckpoint(os.path.join(run_dir, "checkpoints", "last.keras")),
        AtomicCheckpoint(os.path.join(run_dir, "checkpoints", "best.keras"), monitor="val_loss"),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=resuming),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        nan,
        *callbacks,
    ]
    if hasattr(net, "sample"):
        cbs.append(figures.SampleGrid(os.path.join(run_dir, "figures")))
    fit = dict(epochs=epochs, callbacks=cbs, verbose=verbose, shuffle=False)
    if steps > 0:  # repeat the data and stop at the exact step budget, wherever a resumed run started
        train_ds = train_ds.repeat()
        fit.update(steps_per_epoch=steps)
        cbs.insert(0, StopAtStep(epochs * steps))
    if data_service:
        if steps <= 0:
            raise ZooError("--data-service needs a training set of known size (shards written by `zoo data ingest`)")
        train_ds = service.distribute(train_ds, data_service)
    if resuming:
        print(f"zoo: resuming {run_dir} from its backup", flush=True)
    net.fit(train_ds, validation_data=val_ds, **fit)
    zdata.release_iterators()
    if nan.step:
        step, epoch, batch = nan.step
        raise ZooError(f"the loss became NaN or infinite at step {step} (epoch {epoch}, batch {batch}); training "
                       f"stopped; the last epoch's model is {os.path.join(run_dir, 'checkpoints', 'last.keras')} "
                       "(try a lower --learning-rate)")
    tmp = os.path.join(run_dir, "model.tmp.keras")
    net.save(tmp)
    os.replace(tmp, os.path.join(run_dir, "model.keras"))
    shutil.rmtree(backup_dir, ignore_errors=True)  # finished: nothing to resume
    figures.curves(os.path.join(run_dir, "history.csv"), os.path.join(run_dir, "figures", "curves.png"))
    if info.task == "generative":
        _generative_figures(net, data, run_dir)
    return run_dir


def _generative_figures(net, data, run_dir):
    """Whatever the model offers: samples (``sample``), originals next to reconstructions (``reconstruct``), the
    2-D latent manifold and the latent traversals (``latent_dim`` and ``decode_mean``)."""
    fig = os.path.join(run_dir, "figures")
    if hasattr(net, "sample"):
        figures.image_grid(np.asarray(net.sample(64, seed=0)), os.path.join(fig, "samples.png"))
    if hasattr(net, "reconstruct"):
        x, _ = datasets.image_arrays(data, "test", zdata.image_shape(net))
        x = x[:32].astype("float32") / 255.0
        pairs = np.stack([x, np.asarray(net.reconstruct(x))], axis=1).reshape(-1, *x.shape[1:])
        figures.image_grid(pairs, os.path.join(fig, "reconstructions.png"), columns=16)
    if hasattr(net, "latent_dim") and hasattr(net, "decode_mean"):
        figures.manifold(net, os.path.join(fig, "manifold.png"))
        figures.traversals(net, os.path.join(fig, "traversals.png"))


def _versions():
    import tensorflow_io
    import tensorflow_probability

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tensorflow_io": tensorflow_io.__version__,
            "tensorflow_probability": tensorflow_probability.__version__}


def evaluate(run_dir, data=None, split="test", num_clips=4, crops=1, batch_size=None, nll_samples=100,
             nll_examples=1000, fid_samples=1000, inception_weights=None):
    """Classifiers: clip hit@1, video hit@1 and hit@5 over ``num_clips`` x ``crops`` views per video.
    Generative models: their test metrics (VAE: ELBO, reconstruction and KL, in nats per example, and the
    importance-weighted NLL with ``nll_samples`` samples on the first ``nll_examples`` images, 0 to skip it;
    autoencoders and RBMs: reconstruction errors); models that ``sample``: FID and KID of ``fid_samples`` samples
    against as many images of the split (0 to skip; `zoo.training.judge`: digit-classifier features for 28x28x1
    images, InceptionV3 pool3 with ``inception_weights``, a local weights file)."""
    config = load_config(run_dir)
    net = load_model(run_dir)
    info = zoo.model_info(config["model"])
    data = data or config["data"]
    data_info = datasets.info(data)
    num_classes = int(net.outputs[0].shape[-1]) if info.task == "classification" else None
    zdata.check(info, data_info, model=net, num_classes=num_classes)
    if split not in data_info.splits:
        raise ZooError(f"dataset {data!r} has no split {split!r}; its splits: {', '.join(data_info.splits)}")
    batch_size = batch_size or config["batch_size"]
    result = {"model": config["model"], "data": data, "split": split}
    if info.task == "classification":
        views = num_clips * crops if data_info.kind == "video" else 1
        ds = zdata.dataset(info, net, data, split, batch_size, training=False, num_clips=num_clips, crops=crops,
                           stride=config.get("frame_step") or info.clip_stride(config["arguments"]), with_ids=data_info.kind == "video")
        probs, labels, ids = [], [], []
        forward = lambda x: net(x, training=False)  # noqa: E731
        if jit_compile(False, config.get("precision", "float32")) is True:  # float16 on the CPU: XLA's kernels
            forward = tf.function(forward, jit_compile=True)
        for batch in ds:
            x, y = batch[0], batch[1]
            p = forward(zdata.fold_views(x, net))
            probs.append(np.asarray(p).reshape(len(y), views, -1))
            labels.append(y.numpy())
            ids.append(batch[2].numpy().astype(str) if len(batch) > 2 else np.arange(len(y)) + sum(map(len, ids)))
        probs, labels, ids = np.concatenate(probs), np.concatenate(labels), np.concatenate(ids)
        # per-video probabilities, for ensembles (Karpathy et al.'s "CNN average") and error analysis
        np.savez(os.path.join(run_dir, f"predictions-{split}.npz"), ids=ids.astype(str), labels=labels,
                 probabilities=probs)  # [videos, views, classes]
        result.update(metrics.video_metrics(probs, labels))
        cm = metrics.confusion_matrix(probs.mean(axis=1).argmax(-1), labels, num_classes)
        result["confusion"] = cm.tolist()
        figures.confusion(cm, data_info.class_names, os.path.join(run_dir, "figures", "confusion.png"))
    else:
        ds = zdata.dataset(info, net, data, split, batch_size, training=False)
        logs = net.evaluate(ds, verbose=0, return_dict=True)
        zdata.release_iterators()
        result.update({k: float(v) for k, v in logs.items()})
        if hasattr(net, "log_likelihood") and nll_samples:
            x = datasets.image_arrays(data, split, zdata.image_shape(net))[0][:nll_examples].astype("float32") / 255.0
            ll = np.concatenate([net.log_likelihood(x[i:i + 100], k=nll_samples) for i in range(0, len(x), 100)])
            result.update(nll=-float(ll.mean()), nll_samples=nll_samples, nll_examples=len(x))
        if hasattr(net, "sample") and fid_samples:
            result.update(judge.judge(net, data, split, num=fid_samples, inception_weights=inception_weights))
    _write_json(os.path.join(run_dir, "metrics.json"), result)
    return result


def export(run_dir, out=None):
    """Write the run's SavedModel (default ``RUN/export``); returns (path, signature names)."""
    config = load_config(run_dir)
    net = load_model(run_dir)
    path = out or os.path.join(run_dir, "export")
    return path, export_saved_model(net, path, config["input"], config.get("class_names", ()))


def sample(run_dir, num=64, out=None, seed=0):
    net = load_model(run_dir)
    if not hasattr(net, "sample"):
        raise ZooError(f"{load_config(run_dir)['model']!r} is not a generative model: it has nothing to sample")
    out = out or os.path.join(run_dir, "figures", f"samples-{num}.png")
    return figures.image_grid(np.asarray(net.sample(num, seed=seed)), out)


def check_export(run_dir, saved_model=None):
    """The run's SavedModel reloaded in a TensorFlow-only process vs. the Keras model: (max |diff|, imports)."""
    config = load_config(run_dir)
    saved_model = saved_model or os.path.join(run_dir, "export")
    if not os.path.isdir(saved_model):
        raise ZooError(f"no SavedModel at {saved_model!r}: run `zoo export {run_dir}` first")
    model = load_model(run_dir)
    return verify_in_fresh_process([(model, saved_model, config["input"], config.get("class_names", ()))])[0]
