"""keras-tuner hypermodels over zoo models, and the search entry point.

`ZooHyperModel` searches a registered model's scalar builder arguments (given as lists of choices) and the
learning rate; it compiles the model the way `zoo train` does, so a tuned configuration trains the same way.
"""

import keras
import keras_tuner as kt

import zoo
from pipelines import datasets
from zoo.errors import ZooError
from zoo.training import data as zdata
from zoo.training.run import _compile

TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}


class ZooHyperModel(kt.HyperModel):
    def __init__(self, model, preset="tiny", space=None, fixed=None, learning_rate=(1e-4, 1e-2)):
        super().__init__(name=model)
        self.model, self.preset = model, preset
        self.space, self.fixed, self.learning_rate = dict(space or {}), dict(fixed or {}), learning_rate
        zoo.resolve(model, preset, **self.fixed, **{k: v[0] for k, v in self.space.items()})  # checks the names
        shaped = set(self.space) & {"frames", "height", "width", "channels"}
        if shaped:
            raise ZooError(f"the search space may not change the input shape ({', '.join(sorted(shaped))}): "
                           "one data pipeline feeds every trial")

    def build(self, hp):
        chosen = {k: hp.Choice(k, list(v)) for k, v in self.space.items()}
        net = zoo.build(self.model, self.preset, **self.fixed, **chosen)
        lr = hp.Float("learning_rate", *self.learning_rate, sampling="log")
        _compile(net, zoo.model_info(self.model), lr, jit=False)
        return net


def search(model, data, *, tuner="random", max_trials=10, epochs=3, batch_size=32, space=None, preset="tiny",
           directory="runs/tune", seed=0, verbose=0):
    """Run a search; returns the keras-tuner tuner (``tuner.get_best_models()``, ``tuner.results_summary()``)."""
    if tuner not in TUNERS:
        raise ZooError(f"unknown tuner {tuner!r}; choose one of {', '.join(TUNERS)}")
    info, data_info = zoo.model_info(model), datasets.info(data)
    fixed = {"num_classes": data_info.num_classes} if info.task == "classification" else {}
    zdata.check(info, data_info)
    hypermodel = ZooHyperModel(model, preset, space, fixed)
    probe = zoo.build(model, preset, **fixed)
    zdata.check(info, data_info, model=probe)
    stride = info.clip_stride(zoo.resolve(model, preset, **fixed))
    train = zdata.dataset(info, probe, data, "train", batch_size, training=True, seed=seed, stride=stride)
    val = zdata.dataset(info, probe, data, "val" if "val" in data_info.splits else "test", batch_size,
                        training=False, stride=stride)
    objective = kt.Objective("val_accuracy", "max") if info.task == "classification" else "val_loss"
    kwargs = dict(max_epochs=epochs) if tuner == "hyperband" else dict(max_trials=max_trials)
    t = TUNERS[tuner](hypermodel, objective=objective, directory=directory, project_name=f"{model}-{data}",
                      seed=seed, overwrite=True, **kwargs)
    t.search(train, validation_data=val, epochs=epochs, verbose=verbose, shuffle=False,
             callbacks=[keras.callbacks.TerminateOnNaN()])
    return t
