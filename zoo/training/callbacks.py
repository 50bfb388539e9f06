"""Callbacks of the training path: resumable backups, an exact step budget, NaN stops and atomic checkpoints.

A run killed at any moment (SIGKILL included) and started again with the same command resumes from its last backup
and ends with the same number of optimizer steps as an uninterrupted run:

- `StepBackup` is Keras' BackupAndRestore every ``save_freq`` steps (and at each epoch end), with a second copy so a
  backup half-written when the process died falls back to the previous one;
- the training data repeats and `StopAtStep` ends the run when the optimizer has taken epochs x steps-per-epoch
  steps: an epoch interrupted after b steps is made up at the end of the run, by b steps, instead of replayed.
"""

import math
import os

import keras
import numpy as np


class StepBackup(keras.callbacks.BackupAndRestore):
    def __init__(self, backup_dir, save_freq=100):
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=True, delete_checkpoint=False)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self._save_model()  # an epoch's end is always a backup point

    def on_train_end(self, logs=None):
        pass  # the run deletes the backup itself once the final model is saved


def _steps(model):
    """The optimizer's step count (a plain variable, or a mirrored one under a strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class StopAtStep(keras.callbacks.Callback):
    """Stop when the optimizer has taken ``total`` steps (counted by ``optimizer.iterations``, which backups keep)."""

    def __init__(self, total):
        super().__init__()
        self.total = total

    def on_train_batch_end(self, batch, logs=None):
        if _steps(self.model) >= self.total:
            self.model.stop_training = True


class NaNStop(keras.callbacks.Callback):
    """Stop at the first non-finite loss and remember where, so the run can say which step it was."""

    def __init__(self):
        super().__init__()
        self.step = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            self.step = (_steps(self.model), self.epoch + 1, batch + 1)
            self.model.stop_training = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the model as ``path`` (.keras) after every epoch, or only when ``monitor`` improves; written under a
    temporary name and renamed, so no half-written file ever has the final name."""

    def __init__(self, path, monitor=None):
        super().__init__()
        self.path, self.monitor, self.best = path, monitor, math.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor:
            value = (logs or {}).get(self.monitor)
            if value is None or not float(value) < self.best:
                return
            self.best = float(value)
        tmp = self.path + ".tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, self.path)
