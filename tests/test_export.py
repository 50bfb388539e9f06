"""Export signatures per family, seen as their users see them: `saved_model_cli show` lists them with their uint8
inputs, and a process that imports only TensorFlow gets one clear error for inputs of the wrong shape or dtype."""

import os
import subprocess
import sys

import keras
import pytest

import zoo
from zoo.training.export import export_saved_model

# name -> (input kind, {signature: [(input name, dtype)]}) for one model of every family
FAMILIES = {
    "c3d": ("clip", {"serving_default": [("clips", "DT_UINT8")]}),
    "two-stream": ("rgb+flow", {"serving_default": [("rgb", "DT_UINT8"), ("flow", "DT_FLOAT")]}),
    "vae": ("image", {"encode": [("images", "DT_UINT8")], "decode": [("z", "DT_FLOAT")],
                      "sample": [("num", "DT_INT32")]}),
    "dcgan": ("image", {"generate": [("z", "DT_FLOAT")], "sample": [("num", "DT_INT32")]}),
    "rbm": ("image", {"reconstruct": [("images", "DT_UINT8")]}),
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for name, (kind, _) in FAMILIES.items():
        keras.utils.set_random_seed(0)
        out[name] = str(root / name)
        export_saved_model(zoo.build(name, "tiny"), out[name], kind)
    return out


SHOW = """
import sys
from tensorflow.python.tools.saved_model_cli import main  # what the saved_model_cli command runs
for name, path in zip(sys.argv[1::2], sys.argv[2::2]):
    print("=== export " + name, flush=True)
    sys.argv = ["saved_model_cli", "show", "--dir", path, "--all"]
    try:
        main()
    except SystemExit as e:
        if e.code:
            raise
"""


@pytest.fixture(scope="module")
def shown(exports):
    """`saved_model_cli show --all` of every export: the command's own `main`, in one process (one TensorFlow import
    instead of five): name -> its output."""
    args = [a for name in sorted(exports) for a in (name, exports[name])]
    proc = subprocess.run([sys.executable, "-c", SHOW, *args], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parts = proc.stdout.split("=== export ")[1:]
    return {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_saved_model_cli_shows_the_signatures(name, shown):
    blocks = shown[name].split("signature_def['")
    for signature, inputs in FAMILIES[name][1].items():
        block = next((b for b in blocks if b.startswith(signature + "']")), None)
        assert block is not None, f"{signature} not in {shown[name][:2000]}"
        for input_name, dtype in inputs:
            assert f"inputs['{input_name}'] tensor_info:\n        dtype: {dtype}" in block, block


BAD_INPUTS = """
import sys
import numpy as np
import tensorflow as tf
path = sys.argv[1]
f = tf.saved_model.load(path).signatures["serving_default"]
cases = {"clip length 5": dict(clips=np.zeros([2, 5, 40, 40, 3], np.uint8)),
         "one channel": dict(clips=np.zeros([2, 8, 40, 40, 1], np.uint8)),
         "no batch axis": dict(clips=np.zeros([8, 40, 40, 3], np.uint8)),
         "float32": dict(clips=np.zeros([2, 8, 40, 40, 3], np.float32))}
for case, args in cases.items():
    try:
        f(**{k: tf.constant(v) for k, v in args.items()})
        print(case, "| accepted")
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as e:
        lines = [l for l in str(e).splitlines() if "must be" in l or "expected to be" in l]
        print(case, "|", type(e).__name__, "|", lines[0] if lines else str(e)[:300].replace(chr(10), " "))
print("good |", f(clips=tf.zeros([2, 8, 40, 40, 3], tf.uint8))["probabilities"].shape)
print("modules |", sorted({m.split(".")[0] for m in sys.modules if m.startswith(("zoo", "pipelines", "keras_tuner"))}))
"""


def test_wrong_shapes_and_dtypes_are_one_clear_error(exports):
    proc = subprocess.run([sys.executable, "-I", "-c", BAD_INPUTS, exports["c3d"]], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = dict(line.split(" | ", 1) for line in proc.stdout.strip().splitlines())
    print("\n" + "\n".join(f"{k}: {v}" for k, v in rows.items()))
    for case in ("clip length 5", "one channel", "no batch axis"):
        assert rows[case].startswith("InvalidArgumentError")
        assert "input clips must be uint8 [any, 8, any, any, 3]; got shape]" in rows[case]
    assert "expected to be a uint8 tensor but is a float tensor" in rows["float32"]
    assert rows["good"] == "(2, 101)" and rows["modules"] == "[]"
