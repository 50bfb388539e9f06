"""The README's script examples run as written (with less training), and its model table is complete."""

import os
import re
import subprocess
import sys


def test_readme_script_runs(root, tmp_path):
    text = open(os.path.join(root, "README.md")).read()
    section = text[text.index("## Use it from your own script"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10 and "model.fit(" in code
    code = code.replace("epochs=20", "epochs=1")
    code += "\nimport numpy as np\nback = keras.saving.load_model('c3d.keras', safe_mode=True)\n"
    code += "x = next(iter(val))[0]\nassert np.allclose(back(x), model(x), atol=1e-6)\n"
    _runs(code, root, tmp_path)


def _runs(code, root, tmp_path):
    """``code`` runs to its end in a fresh Python in ``tmp_path``, the project on its path."""
    proc = subprocess.run([sys.executable, "-c", code + "\nprint('ok')\n"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_readme_device_flip_script_runs(root, tmp_path):
    """The README's uint8 clips + RandomClipFlip example trains as written (two batches instead of 20 epochs), and
    its model's flip is a training-time layer: at inference the model is the C3D it wraps, after the scaling."""
    text = open(os.path.join(root, "README.md")).read()
    code = next(c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "RandomClipFlip()" in c)
    assert "model.fit(train, epochs=20)" in code
    code = code.replace("model.fit(train, epochs=20)", "history = model.fit(train.take(2), epochs=1, verbose=0)")
    code += "\nimport numpy as np\nx = next(iter(train))[0]\nassert x.dtype == 'uint8'\n"
    code += "assert np.allclose(model(x), c3d(np.asarray(x, 'float32') / 255), atol=1e-5)\n"
    code += "assert np.isfinite(history.history['loss'][0])\n"
    _runs(code, root, tmp_path)


def test_every_registered_model_is_in_the_readme_table(root):
    import zoo

    text = open(os.path.join(root, "README.md")).read()
    table = text[text.index("## Models"):text.index("## Video models")]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))
    assert listed == set(zoo.list_models())
