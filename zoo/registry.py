"""Register, list and build models (the timm pattern: plain builder functions plus a decorator).

A builder is a function whose keyword defaults are the paper's numbers. `register` records it with its metadata and
its presets: ``paper`` is the published configuration (the builder's defaults) and ``tiny`` a CPU-sized one for tests
and the demo. ``build(name, preset, **overrides)`` merges preset and overrides after checking every key.
"""

import dataclasses
import difflib
import inspect

from zoo.errors import ZooError

_MODELS = {}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: object
    paper: str  # citation, with the section or figure the builder follows
    task: str  # "classification" or "generative"
    input: str  # "clip" [T,H,W,C] or "frame" [H,W,C] from a video, "flow" [H,W,2L] stacked optical flow,
    #             "rgb+flow" {"rgb": frame, "flow": stacked flow}, or "image" [H,W,C]
    presets: dict  # preset name -> keyword arguments (paper is always {})
    stride: object = None  # temporal stride of the input clip: an int, or the name of a builder argument

    def clip_stride(self, arguments):
        """The frame stride the data pipeline must use for this model built with ``arguments``."""
        if self.stride is None:
            return 1
        return arguments[self.stride] if isinstance(self.stride, str) else int(self.stride)

    def arguments(self):
        return {
            n: p.default
            for n, p in inspect.signature(self.builder).parameters.items()
            if p.default is not inspect.Parameter.empty
        }


def register(name, *, paper, task, input, tiny, stride=None):
    """Decorator: register ``builder`` as ``name`` with a ``tiny`` preset (the paper preset is its defaults).
    ``stride``: the temporal stride between the frames of the input clip (an int or a builder argument's name)."""
    if task not in ("classification", "generative"):
        raise ValueError(f"unknown task {task!r}")
    if input not in ("clip", "frame", "flow", "rgb+flow", "image"):
        raise ValueError(f"unknown input kind {input!r}")

    def wrap(builder):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        info = ModelInfo(name, builder, paper, task, input, {"paper": {}, "tiny": dict(tiny)}, stride)
        unknown = set(tiny) - set(info.arguments())
        if unknown:
            raise ValueError(f"tiny preset of {name!r} sets unknown arguments {sorted(unknown)}")
        _MODELS[name] = info
        return builder

    return wrap


def _load_all():
    # Importing the model packages runs their @register decorators.
    import zoo.generative  # noqa: F401
    import zoo.video  # noqa: F401


def list_models(task=None):
    _load_all()
    return sorted(n for n, i in _MODELS.items() if task is None or i.task == task)


def _did_you_mean(name, choices):
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def model_info(name):
    _load_all()
    if name not in _MODELS:
        raise ZooError(f"unknown model {name!r}{_did_you_mean(name, list(_MODELS))}; "
                       f"known: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def resolve(name, preset="paper", **overrides):
    """The full keyword arguments ``build`` would pass to the builder."""
    info = model_info(name)
    if preset not in info.presets:
        raise ZooError(f"unknown preset {preset!r} for {name!r}; known: {', '.join(info.presets)}")
    known = info.arguments()
    for key in overrides:
        if key not in known:
            raise ZooError(f"{name!r} has no argument {key!r}{_did_you_mean(key, known)}; "
                           f"its arguments: {', '.join(known)}")
    return {**known, **info.presets[preset], **overrides}


def build(name, preset="paper", **overrides):
    """Build model ``name`` with ``preset`` (``paper`` or ``tiny``) and keyword ``overrides``."""
    return model_info(name).builder(**resolve(name, preset, **overrides))
