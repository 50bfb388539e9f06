"""keras-tuner hypermodels over zoo models, and the search entry point behind `zoo tune`.

`ZooHyperModel` searches a registered model's builder arguments and the learning rate. Each trial builds its own
data pipeline from the trial's model, so the clip length (``frames``) can be searched too, and each trial starts
from a cleared Keras session, so memory stays flat over many trials. The default search space of a family:

- classifiers: width (a multiplier of the preset's ``widths``), depth (where the builder has a layer count),
  dropout, fully connected width, clip length, learning rate; objective: validation accuracy;
- generative models: their latent size, ``beta`` (the KL weight of a beta-VAE), the width (``filters``) where the
  builder has them, the learning rate, and for GANs Adam's beta1; objective: validation loss, or for GANs FID on
  the embedded digit classifier's features (`zoo.training.judge`).

Distributed search is keras-tuner's own: set ``KERASTUNER_TUNER_ID`` (``chief`` on the oracle's process,
``tuner0``, ``tuner1``... on the workers), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` and start the same
`zoo tune` command on every process.
"""

import contextlib
import gc
import json
import os

import keras
import keras_tuner as kt

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.training import data as zdata
from zoo.training import judge
from zoo.training.run import _compile, build_training_state, custom_gradients, forget_custom_gradients

def _announcing(tuner_class):
    """The tuner class, saying which process runs each trial (in a distributed search: which worker)."""

    class Announcing(tuner_class):
        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            print(f"zoo tune: trial {trial.trial_id} runs on {os.environ.get('KERASTUNER_TUNER_ID', 'chief')}",
                  flush=True)

    Announcing.__name__ = tuner_class.__name__
    return Announcing


TUNERS = {name: _announcing(cls) for name, cls in
          (("random", kt.RandomSearch), ("bayesian", kt.BayesianOptimization), ("hyperband", kt.Hyperband))}
DEPTH_ARGUMENTS = ("depth", "num_layers", "lstm_layers", "layers")
COMPILE_CHOICES = ("beta_1",)  # searched, but arguments of the optimizer, not of the builder


def default_space(model, preset="tiny"):
    """The family's search space for ``model``: argument -> list of choices (see the module docstring)."""
    info = zoo.model_info(model)
    args = zoo.resolve(model, preset)
    space = {}
    if info.task == "classification":
        if "widths" in args:
            space["width"] = [0.5, 1.0, 2.0]
        for name in DEPTH_ARGUMENTS:
            if isinstance(args.get(name), int) and args[name] > 1:
                space[name] = sorted({max(1, args[name] // 2), args[name], args[name] + 1})
        if "dropout" in args:
            space["dropout"] = [0.2, 0.35, 0.5]
        if isinstance(args.get("fc_units"), int):
            space["fc_units"] = sorted({max(8, args["fc_units"] // 2), args["fc_units"]})
        if info.input == "clip" and isinstance(args.get("frames"), int):
            lengths = [n for n in (args["frames"], 2 * args["frames"]) if _builds(model, preset, frames=n)]
            if len(lengths) > 1:  # some architectures fix their clip length (slow fusion fuses exactly 10 frames)
                space["frames"] = lengths
    else:
        probe = zoo.build(model, preset)
        adversarial = _adversarial(probe)
        del probe
        keras.backend.clear_session()
        latent = args.get("latent_dim")
        if isinstance(latent, int):
            space["latent_dim"] = sorted({max(1, latent // 2), latent} if adversarial else {2, latent, 2 * latent})
        if "beta" in args:  # the KL weight of a beta-VAE
            space["beta"] = [0.5, 1.0, 2.0]
        if isinstance(args.get("filters"), int):  # the width of a DCGAN (and of conv autoencoders)
            space["filters"] = sorted({max(8, args["filters"] // 2), args["filters"]})
        if "widths" in args:
            space["width"] = [0.5, 1.0]
        if adversarial:  # Adam's beta1 for both players (0.5 in DCGAN, Sec. 4); the learning rate is searched too
            space["beta_1"] = [0.5, 0.9]
    return space


def _builds(model, preset, **overrides):
    try:
        zoo.build(model, preset, **overrides)
    except ValueError:
        return False
    finally:
        keras.backend.clear_session()
    return True


def _adversarial(model):
    """GANs: models that sample but have no likelihood or reconstruction."""
    return hasattr(model, "sample") and not hasattr(model, "reconstruct")


def _objective(info, model):
    """Classifiers: validation accuracy; GANs: FID; others (VAEs, autoencoders, RBMs): validation loss."""
    if info.task == "classification":
        return kt.Objective("val_accuracy", "max")
    return kt.Objective("fid", "min") if _adversarial(model) else kt.Objective("val_loss", "min")


class ZooHyperModel(kt.HyperModel):
    def __init__(self, model, data, preset="tiny", space=None, fixed=None, learning_rate=(1e-4, 1e-2),
                 batch_size=32, seed=0):
        super().__init__(name=model)
        self.model, self.data, self.preset, self.batch_size, self.seed = model, data, preset, batch_size, seed
        self.info, self.data_info = zoo.model_info(model), datasets.info(data)
        self.space = default_space(model, preset) if space is None else dict(space)
        self.fixed, self.learning_rate, self._cache = dict(fixed or {}), learning_rate, {}
        self._gradients_before = custom_gradients()
        if self.info.task == "classification":
            self.fixed.setdefault("num_classes", self.data_info.num_classes)
        self.base = zoo.resolve(model, preset, **self.fixed)
        if "width" in self.space and "widths" not in self.base:
            raise ZooError(f"{model!r} has no widths: 'width' is not a search dimension for it")
        zoo.resolve(model, preset, **self.fixed,
                    **{k: v[0] for k, v in self.space.items() if k not in ("width", *COMPILE_CHOICES)})
        zdata.check(self.info, self.data_info, num_classes=self.fixed.get("num_classes"))

    def arguments(self, hp):
        """The builder arguments of this trial."""
        chosen = {k: hp.Choice(k, list(v)) for k, v in self.space.items() if k not in COMPILE_CHOICES}
        width = chosen.pop("width", None)
        if width is not None:
            widths = self.base["widths"]
            chosen["widths"] = type(widths)(max(1, int(round(w * width))) for w in widths)
        return {**self.fixed, **chosen}

    def build(self, hp):
        # every trial starts clean: memory stays flat over many trials; the earlier trials' train graphs go with
        # them; one collection for both (clear_session's own would be a second, ~0.3 s each with TensorFlow loaded)
        keras.backend.clear_session(free_memory=False)
        forget_custom_gradients(keep=self._gradients_before)
        gc.collect()
        net = zoo.build(self.model, self.preset, **self.arguments(hp))
        lr = hp.Float("learning_rate", *self.learning_rate, sampling="log")
        if "beta_1" in self.space:
            net.compile(optimizer=keras.optimizers.Adam(lr, beta_1=hp.Choice("beta_1", list(self.space["beta_1"]))))
            build_training_state(net, self.info)
        else:
            _compile(net, self.info, lr, jit=False)
        # Both branches build the optimizer eagerly (`build_training_state`): one built inside the first traced
        # train step leaves its variables' initializer graphs in TensorFlow's function library for good (about 40
        # graphs per trial for the VAE).
        return net

    def _datasets(self, model, stride, repeat=False):
        """(train, validation) for this model's input shape, built once per shape: a pipeline per trial would pile
        up in memory (image datasets hold their arrays as graph constants). ``repeat``: the training data repeated."""
        key = (str(zdata.model_input(model)), stride, repeat)
        if key not in self._cache:
            if repeat:
                train, val = self._datasets(model, stride)
                self._cache[key] = (train.repeat(), val)
            else:
                val_split = "val" if "val" in self.data_info.splits else "test"
                self._cache[key] = (
                    zdata.dataset(self.info, model, self.data, "train", self.batch_size, True, seed=self.seed,
                                  stride=stride),
                    zdata.dataset(self.info, model, self.data, val_split, self.batch_size, False, stride=stride))
        return self._cache[key]

    def fit(self, hp, model, *args, epochs=3, callbacks=None, verbose=0, steps_per_epoch=None, **kwargs):
        arguments = zoo.resolve(self.model, self.preset, **self.arguments(hp))
        # with steps_per_epoch the training data repeats: each epoch takes the next steps_per_epoch batches
        train, val = self._datasets(model, self.info.clip_stride(arguments), repeat=bool(steps_per_epoch))
        history = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=verbose,
                            shuffle=False, steps_per_epoch=steps_per_epoch)
        logs = {k: v[-1] for k, v in history.history.items()}
        if _objective(self.info, model).name == "fid":
            logs["fid"] = judge.judge(model, self.data)["fid"]
        return logs


@contextlib.contextmanager
def _collect_only_new_objects():
    """For the duration of a search, the objects that exist before it (TensorFlow's and Keras' modules: ~400,000 tracked
    objects) go to the collector's permanent generation (`gc.freeze`) and come back after it (`gc.unfreeze`): every
    trial runs three full collections (keras-tuner's `clear_session` and `gc.collect`, then `ZooHyperModel.build`'s),
    each of which walked all of them (~0.25 s each on an Intel Xeon; 0.03 s frozen). What the trials create is
    collected as before. A process that already freezes objects (``gc.get_freeze_count()``) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def search(model, data, *, tuner="random", max_trials=10, epochs=3, batch_size=32, space=None, preset="tiny",
           directory="runs/tune", seed=0, verbose=0, callbacks=(), steps_per_epoch=None):
    """Run a search (``callbacks``: Keras callbacks for every trial's fit; ``steps_per_epoch``: train each trial's
    epochs on that many batches of the repeated training data instead of one pass, for quick trials on a large
    dataset); writes ``best.json`` (hyperparameters, builder arguments, score) and ``best.keras`` into ``directory``
    and returns the keras-tuner tuner."""
    if tuner not in TUNERS:
        raise ZooError(f"unknown tuner {tuner!r}; choose one of {', '.join(TUNERS)}")
    if max_trials < 1 or epochs < 1 or (steps_per_epoch is not None and steps_per_epoch < 1):
        raise ZooError("max trials, epochs and steps per epoch must be positive")
    hypermodel = ZooHyperModel(model, data, preset, space, batch_size=batch_size, seed=seed)
    probe = zoo.build(model, preset, **hypermodel.fixed)
    kwargs = dict(max_epochs=epochs) if tuner == "hyperband" else dict(max_trials=max_trials)
    t = TUNERS[tuner](hypermodel, objective=_objective(hypermodel.info, probe), directory=directory,
                      project_name=f"{model}-{os.path.basename(data.rstrip('/'))}", seed=seed, overwrite=False,
                      **kwargs)
    del probe
    with _collect_only_new_objects():
        t.search(epochs=epochs, verbose=verbose, callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks],
                 steps_per_epoch=steps_per_epoch)
    if os.environ.get("KERASTUNER_TUNER_ID", "chief") == "chief" and t.oracle.get_best_trials(1):
        best = t.oracle.get_best_trials(1)[0]
        result = {"model": model, "data": data, "tuner": tuner, "score": best.score,
                  "objective": t.oracle.objective.name, "hyperparameters": best.hyperparameters.values,
                  "arguments": hypermodel.arguments(best.hyperparameters),
                  "trials": len(t.oracle.trials)}
        with open(os.path.join(directory, "best.json"), "w") as f:
            json.dump(result, f, indent=2, default=str)
        t.get_best_models(1)[0].save(os.path.join(directory, "best.keras"))
    return t
