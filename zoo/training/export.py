"""SavedModel export with the preprocessing inside: serving signatures take raw uint8 inputs.

- Classifiers: ``serving_default`` takes uint8 clips [B, T, H, W, C] or frames [B, H, W, C] of any H, W, and/or
  float32 stacked flow [B, H, W, 2L] in pixels (two-stream). Frames (and flow, whose vectors scale with it) are
  resized and centre-cropped exactly as the evaluation pipeline does, frames scaled to [0, 1], flow fields
  mean-subtracted; the signature returns the class probabilities and the top-k class indices, names and
  probabilities.
- Models with their own ``serving_endpoints()`` (generative ones) export those (e.g. VAE: encode, decode, sample).

The SavedModel is written under a temporary name and renamed, so no half-written export is left under the final
name. It reloads with TensorFlow alone (`tf.saved_model.load`). Inputs of the wrong dtype are refused by the
signature; inputs of the wrong shape by a check inside it (``InvalidArgumentError``: "input clips must be uint8
[any, 8, any, any, 3]; got shape [2 5 40 40 3]").
"""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from pipelines.video import center_view, crop, resize_flow_for_crop, stack_flow
from zoo.training.data import model_input


def _rgb_view(x, size):
    """uint8 [..., H', W', C] -> float32 [..., H, W, C] in [0, 1], resized and centre-cropped like evaluation (and
    scaled to its values, bit for bit: ``v * (1 / 255)``, as `pipelines.video.to_unit_range`, on any device)."""
    lead = tf.shape(x)[:-3]
    frames = tf.reshape(x, tf.concat([[-1], tf.shape(x)[-3:]], 0))
    frames = tf.cast(center_view(frames, size), tf.float32) * (1 / 255)
    return tf.reshape(frames, tf.concat([lead, tf.shape(frames)[1:]], 0))


def _flow_view(x, size):
    """float32 stacked flow [B, H', W', 2L] in pixels -> [B, H, W, 2L] resized (vectors scaled), centre-cropped and
    with each field's mean subtracted, like the evaluation pipeline."""
    b, h, w, steps = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2], x.shape[-1] // 2
    fields = tf.reshape(tf.transpose(tf.reshape(x, [b, h, w, steps, 2]), [0, 3, 1, 2, 4]), [-1, h, w, 2])
    fields = crop(resize_flow_for_crop(fields, size), size)
    return stack_flow(tf.reshape(fields, [b, steps, size[0], size[1], 2]), subtract_mean=True)


def classifier_endpoint(model, input_kind, class_names, top_k=5):
    """``serving_default``: raw inputs (uint8 frames, float32 flow in pixels) -> probabilities and the top k."""
    shape = model_input(model)
    num_classes = model.outputs[0].shape[-1]
    names = tf.constant(list(class_names) or [str(i) for i in range(num_classes)])
    k = min(top_k, num_classes)
    if input_kind == "rgb+flow":  # an RGB frame or clip, and stacked flow
        (h, w, c), two_l, lead = shape["rgb"][-3:], shape["flow"][-1], [None, *shape["rgb"][:-3]]
        specs = [tf.TensorSpec(lead + [None, None, c], tf.uint8, name="rgb"),
                 tf.TensorSpec([None, None, None, two_l], tf.float32, name="flow")]
        views = lambda rgb, flow: {"rgb": _rgb_view(rgb, (h, w)), "flow": _flow_view(flow, (h, w))}
    elif input_kind == "flow":
        specs = [tf.TensorSpec([None, None, None, shape[-1]], tf.float32, name="flow")]
        views = lambda flow: _flow_view(flow, shape[:2])
    else:
        lead = [None, shape[0]] if input_kind == "clip" else [None]
        name = {"clip": "clips", "frame": "frames", "image": "images"}[input_kind]
        specs = [tf.TensorSpec(lead + [None, None, shape[-1]], tf.uint8, name=name)]
        views = lambda x: _rgb_view(x, shape[-3:-1])

    def serve(*inputs):
        p = tf.cast(model(views(*inputs), training=False), tf.float32)
        top_p, top_i = tf.math.top_k(p, k=k)
        return {"probabilities": p, "top_k_indices": top_i, "top_k_names": tf.gather(names, top_i),
                "top_k_probabilities": top_p}

    return {"serve": (serve, specs)}


def endpoints(model, input_kind, class_names=()):
    """name -> (function, input signature); the first one is also exported as ``serving_default``."""
    if hasattr(model, "serving_endpoints"):
        return model.serving_endpoints()
    return classifier_endpoint(model, input_kind, class_names)


def _checked(x, spec):
    """``x`` after a run-time check of its shape against ``spec``: the signatures of a reloaded SavedModel check only
    dtypes, and a wrong clip length or channel count would otherwise fail deep inside a kernel (or abort in oneDNN)."""
    rank = len(spec.shape)
    want = ", ".join("any" if d is None else str(d) for d in spec.shape)
    shape = tf.shape(x)
    padded = tf.concat([shape, tf.fill([rank], -1)], 0)[:rank]
    ok = tf.reduce_all([tf.equal(tf.size(shape), rank)] +
                       [tf.equal(padded[i], d) for i, d in enumerate(spec.shape) if d is not None])
    check = tf.debugging.Assert(ok, [f"input {spec.name} must be {spec.dtype.name} [{want}]; got shape", shape],
                                summarize=rank + 1)
    with tf.control_dependencies([check]):
        return tf.identity(x)


def _with_checks(fn, signature):
    return lambda *inputs: fn(*[_checked(x, spec) for x, spec in zip(inputs, signature)])


def export_saved_model(model, path, input_kind, class_names=()):
    """Write ``model`` as a SavedModel at ``path`` (replacing what was there) and return the signature names. Every
    signature checks its inputs' shapes at run time (one clear message naming the expected shape)."""
    endpoints_ = endpoints(model, input_kind, class_names)
    # What `keras.export.ExportArchive` writes (the model's variables, one tf.function per endpoint, every endpoint a
    # signature, the first also `serving_default`), without its two extra costs: a trace of each endpoint before
    # the save traces it again, and a walk of every layer's object graph for lookup tables (none in the zoo's
    # models) that traced each layer's call once more. The tiny GRU-RCN's export took 6.7 s through it. The root is
    # ExportArchive's own kind of object (a `tf.Module` would reserve the name `variables`).
    root = tf.__internal__.tracking.AutoTrackable()
    for collection in ("variables", "trainable_variables", "non_trainable_variables"):
        setattr(root, collection, list(getattr(model, collection)))
    signatures = {}
    for name, (fn, signature) in endpoints_.items():
        signatures[name] = tf.function(_with_checks(fn, signature), input_signature=signature, autograph=False)
        setattr(root, name, signatures[name])
    signatures.setdefault("serving_default", next(iter(signatures.values())))
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        tf.saved_model.save(root, os.path.join(tmp, "model"), signatures=signatures)
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=".old-export-", dir=parent)
            os.rename(path, os.path.join(old, "model"))
            os.rename(os.path.join(tmp, "model"), path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(os.path.join(tmp, "model"), path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return list(endpoints_)


def run_in_fresh_process(jobs):
    """Call SavedModel signatures in one new Python process that imports only TensorFlow. ``jobs``: a list of
    (saved_model, signature, inputs dict). Returns one outputs dict per job, with ``__modules__``: which of the
    zoo's own packages (or tfp / tensorflow-io) got imported there."""
    script = os.path.join(os.path.dirname(__file__), "reload_check.py")
    with tempfile.TemporaryDirectory() as tmp:
        argv = []
        for i, (saved_model, signature, inputs) in enumerate(jobs):
            np.savez(os.path.join(tmp, f"in{i}.npz"), **inputs)
            argv += [os.path.abspath(saved_model), signature, os.path.join(tmp, f"in{i}.npz"),
                     os.path.join(tmp, f"out{i}.npz")]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
        proc = subprocess.run([sys.executable, "-I", script, *argv], capture_output=True, text=True, env=env, cwd=tmp)
        if proc.returncode != 0:
            raise RuntimeError(f"reloading {[j[0] for j in jobs]} failed:\n{proc.stderr[-2000:]}")
        outputs = []
        for i in range(len(jobs)):
            with np.load(os.path.join(tmp, f"out{i}.npz")) as f:
                outputs.append({k: f[k] for k in f.files})
        return outputs


def example_inputs(model, signature, batch=3, seed=0):
    """Random inputs for a signature; unknown dimensions are taken from the model's input shape."""
    rng = np.random.default_rng(seed)
    shapes = model_input(model)
    out = {}
    for spec in signature:
        # an input that is not a model input (noise, a class id) takes its sizes from the signature alone
        shape = shapes.get(spec.name, ()) if isinstance(shapes, dict) else shapes
        dims = list(spec.shape)
        for i, d in enumerate(dims):
            if d is None:
                dims[i] = batch if i == 0 else shape[len(shape) - (len(dims) - i)]
        if spec.dtype == tf.uint8:
            out[spec.name] = rng.integers(0, 256, dims, dtype=np.uint8)
        else:
            out[spec.name] = rng.normal(size=dims).astype(spec.dtype.as_numpy_dtype)
    return out


def verify_in_fresh_process(models):
    """Compare the default signature of each SavedModel, reloaded in one TensorFlow-only process, with the same
    function run on the Keras model here. ``models``: a list of (model, saved_model, input_kind, class_names).
    Returns a list of (max |difference| of float outputs, imported packages); raises if a uint8 output (images)
    differs by more than one level or another non-float output (class indices, names) differs at all."""
    jobs, wants = [], []
    for model, saved_model, input_kind, class_names in models:
        _, (fn, signature) = next(iter(endpoints(model, input_kind, class_names).items()))
        inputs = example_inputs(model, signature)
        wants.append({k: np.asarray(v) for k, v in fn(*[tf.constant(inputs[s.name]) for s in signature]).items()})
        jobs.append((saved_model, "serving_default", inputs))
    results = []
    for (model, saved_model, _, _), want, got in zip(models, wants, run_in_fresh_process(jobs)):
        if int(got["__variables__"]) != len(model.variables):
            raise AssertionError(f"{saved_model} restores {int(got['__variables__'])} variables; the model has "
                                 f"{len(model.variables)}")
        diff = 0.0
        for key, value in want.items():
            if value.dtype.kind == "f":
                diff = max(diff, float(np.max(np.abs(got[key] - value))))
            elif value.dtype == np.uint8:  # images: float rounding may flip a value at a .5 boundary by one level
                if int(np.max(np.abs(got[key].astype(int) - value.astype(int)), initial=0)) > 1:
                    raise AssertionError(f"output {key!r} of {saved_model} differs after reload")
            else:
                if value.dtype == object:
                    value = np.char.decode(value.astype(bytes), "utf-8")
                if not np.array_equal(got[key], value):
                    raise AssertionError(f"output {key!r} of {saved_model} differs after reload")
        results.append((diff, [str(m) for m in got["__modules__"]]))
    return results
