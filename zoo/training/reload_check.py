"""Run SavedModel signatures in a process that imports only TensorFlow (and NumPy).

    python reload_check.py SAVED_MODEL SIGNATURE INPUTS.npz OUTPUTS.npz [SAVED_MODEL SIGNATURE INPUTS OUTPUTS ...]

Used by `zoo demo`, the tests and `zoo export --check`: whoever serves the export will not have the zoo,
tensorflow-probability or tensorflow-io installed, so the reload must not need them (TensorFlow itself imports
Keras, so Keras is not in that list). The names of the loaded packages go to each OUTPUTS.npz as ``__modules__``,
the number of variables the export restores as ``__variables__``.
Several models in one call share the cost of importing TensorFlow.
"""

import sys

import numpy as np
import tensorflow as tf


def run(saved_model, signature, inputs, outputs):
    loaded = tf.saved_model.load(saved_model)
    fn = loaded.signatures[signature]
    with np.load(inputs) as f:
        args = {k: tf.constant(f[k]) for k in f.files}
    result = {}
    for k, v in fn(**args).items():
        v = v.numpy()
        result[k] = np.char.decode(v.astype(bytes), "utf-8") if v.dtype == object else v
    mods = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("zoo", "pipelines", "tuning",
                                                                                "tensorflow_probability",
                                                                                "tensorflow_io")})
    np.savez(outputs, __modules__=np.array(mods, dtype=str), __variables__=len(loaded.variables), **result)


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 4:
        sys.exit(__doc__)
    for i in range(0, len(args), 4):
        run(*args[i:i + 4])
