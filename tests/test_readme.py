"""The README's own-script example runs as written (with one epoch instead of twenty)."""

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
    code += "x = next(iter(val))[0]\nassert np.allclose(back(x), model(x), atol=1e-6)\nprint('ok')\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_every_registered_model_is_in_the_readme_table(root):
    import zoo

    text = open(os.path.join(root, "README.md")).read()
    table = text[text.index("## Models"):text.index("## Video models")]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))
    assert listed == set(zoo.list_models())
