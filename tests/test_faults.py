"""Faults: a run killed with SIGKILL resumes from its backup with the same number of steps; a NaN loss stops the
run with the step; checkpoints are written atomically."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import zoo
from zoo.errors import ZooError
from zoo.training import run

TRAIN = ["train", "vae", "--data", "mnist", "--epochs", "4", "--batch-size", "100", "--backup-every", "10",
         "--verbose", "0"]
STEPS = 4 * (4000 // 100)


def _zoo(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _final(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)
    return rows, int(model.optimizer.iterations)


def test_sigkill_mid_epoch_then_the_same_command_resumes(tmp_path):
    zoo.list_models()
    killed, whole = str(tmp_path / "killed"), str(tmp_path / "whole")
    reference = _zoo(TRAIN + ["--run-dir", whole])
    proc = _zoo(TRAIN + ["--run-dir", killed])
    meta = os.path.join(killed, "backup", "training_metadata.json")
    state = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            state = json.load(open(meta))
        except (OSError, ValueError):
            state = None
        if state and state["epoch"] == 1 and state["batch"] >= 9:  # a backup in the middle of the 2nd epoch
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"not killed mid-run (state {state})"
    assert not os.path.exists(os.path.join(killed, "model.keras"))

    again = _zoo(TRAIN + ["--run-dir", killed])
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert "resuming" in out
    assert reference.wait(timeout=300) == 0

    rows, steps = _final(killed)
    ref_rows, ref_steps = _final(whole)
    assert steps == ref_steps == STEPS  # the same number of optimizer steps as the uninterrupted run
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"]
    assert abs(float(rows[-1]["val_loss"]) - float(ref_rows[-1]["val_loss"])) < 0.03 * float(ref_rows[-1]["val_loss"])
    assert not os.path.exists(os.path.join(killed, "backup"))  # finished: nothing left to resume


class _Poison(keras.callbacks.Callback):
    """Sets every weight to NaN after the 5th step."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 4:
            for w in self.model.trainable_weights:
                w.assign(np.full(w.shape, np.nan, w.dtype))


def test_nan_loss_stops_with_the_step(tmp_path, capsys):
    with pytest.raises(ZooError, match=r"NaN or infinite at step 6 \(epoch 1, batch 6\)"):
        run.train("vae", "mnist", epochs=2, batch_size=100, run_dir=str(tmp_path / "nan"), verbose=0,
                  callbacks=[_Poison()])
    assert not os.path.exists(tmp_path / "nan" / "model.keras")
    # the poisoned model's samples are NaN: said, and no (black) sample grid pretends otherwise
    assert "the samples of epoch 1 are not finite" in capsys.readouterr().out
    assert not os.path.exists(tmp_path / "nan" / "figures" / "samples-epoch-001.png")


def test_checkpoints_are_atomic(tmp_path, monkeypatch):
    """A crash while the 2nd epoch's checkpoint is written leaves the 1st one, whole, under the final name."""
    saves = []
    real = keras.Model.save

    def crashing_save(self, path, *a, **kw):
        saves.append(path)
        if len(saves) == 3:  # epoch 2's last.keras: a half-written file, then the crash
            with open(path, "wb") as f:
                f.write(b"half a zip")
            raise OSError("disk full")
        return real(self, path, *a, **kw)

    monkeypatch.setattr(keras.Model, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        run.train("vae", "mnist", epochs=3, batch_size=500, run_dir=str(tmp_path / "a"), verbose=0)
    last = tmp_path / "a" / "checkpoints" / "last.keras"
    assert all(p.endswith(".tmp.keras") for p in saves)
    monkeypatch.setattr(keras.Model, "save", real)
    assert keras.saving.load_model(str(last), safe_mode=True).latent_dim == 2
