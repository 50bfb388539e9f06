"""keras-tuner: `zoo tune` with a family's default space, and a distributed search (chief + two workers)."""

import json
import os
import re
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from pipelines import datasets
from tuning import hypermodels

SMALL = dict(train=4, val=2, test=2, frames=16)


def test_default_space_search_writes_the_best_model(tmp_path):
    data = datasets.video_dir("digit-actions", progress=False, **SMALL)
    space = hypermodels.default_space("c3d")
    assert set(space) == {"width", "dropout", "fc_units", "frames"}  # clip length included: [8, 16]
    tuner = hypermodels.search("c3d", data, max_trials=2, epochs=1, batch_size=8, directory=str(tmp_path))
    assert sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values()) == 2
    best = json.load(open(tmp_path / "best.json"))
    assert best["objective"] == "val_accuracy" and best["trials"] == 2
    model = keras.saving.load_model(str(tmp_path / "best.keras"), safe_mode=True)
    assert model.input_shape[1] == best["arguments"]["frames"]  # the pipeline followed the trial's clip length
    assert model.layers[1].filters == best["arguments"]["widths"][0]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_search_runs_every_trial_exactly_once(tmp_path, root):
    port = _free_port()
    cmd = [sys.executable, "-m", "zoo", "tune", "vae", "--data", "mnist", "--max-trials", "4", "--epochs", "1",
           "--steps-per-epoch", "2", "--batch-size", "500", "--set", "hidden=16,32,48,64", "--run-dir", str(tmp_path),
           "--verbose", "1"]
    procs = {}
    for tuner_id in ("chief", "tuner0", "tuner1"):
        env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": "127.0.0.1",
               "KERASTUNER_ORACLE_PORT": str(port), "PYTHONPATH": root}
        procs[tuner_id] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outs = {}
    for tuner_id in ("tuner0", "tuner1", "chief"):
        outs[tuner_id] = procs[tuner_id].communicate(timeout=600)[0]
        assert procs[tuner_id].returncode == 0, outs[tuner_id][-3000:]
    ran = {w: re.findall(r"zoo tune: trial (\S+) runs on " + w, outs[w]) for w in ("tuner0", "tuner1")}
    every = ran["tuner0"] + ran["tuner1"]
    assert len(every) == 4 and len(set(every)) == 4  # four trials, none twice
    assert ran["tuner0"] and ran["tuner1"]  # both workers took part
    best = json.load(open(tmp_path / "best.json"))
    assert best["trials"] == 4 and np.isfinite(best["score"])


@pytest.mark.bench  # 50 s: in `make bench`
def test_dcgan_search_minimizes_fid_over_beta1_and_width(tmp_path):
    """The GAN family's space (Adam's beta1 at compile time, the width as a builder argument) and its objective:
    FID of each trial's samples on the digit classifier's features."""
    tuner = hypermodels.search("dcgan", "mnist", max_trials=2, epochs=1, batch_size=128, directory=str(tmp_path),
                               space={"filters": [8, 16], "beta_1": [0.5, 0.9]})
    trials = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    assert len(trials) == 2 and tuner.oracle.objective.name == "fid"
    for trial in trials:
        assert 0 < trial.score < 500 and trial.hyperparameters.values["beta_1"] in (0.5, 0.9)
    best = json.load(open(tmp_path / "best.json"))
    assert best["objective"] == "fid" and best["score"] == min(t.score for t in trials)
    assert "beta_1" not in best["arguments"] and best["arguments"]["filters"] in (8, 16)
    model = keras.saving.load_model(str(tmp_path / "best.keras"))
    assert model.d_optimizer.beta_1 == best["hyperparameters"]["beta_1"]


RSS_MB = """
import json, os, sys

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
"""

RSS_PER_TRIAL = RSS_MB + """
import gc
import keras
from tuning import hypermodels

seen, steps, frozen = [], [], []
class AfterTrial(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        steps.append(0)
        frozen.append(gc.get_freeze_count())
    def on_train_batch_end(self, batch, logs=None):
        steps[-1] += 1
    def on_train_end(self, logs=None):
        seen.append(rss_mb())

hypermodels.search(sys.argv[2], "mnist", max_trials=int(sys.argv[3]), epochs=1, batch_size=64, directory=sys.argv[1],
                   callbacks=[AfterTrial()], steps_per_epoch=int(sys.argv[4]))
print(json.dumps([seen, steps, [min(frozen), gc.get_freeze_count()]]))
"""


STEPS = 4  # a trial trains on 4 batches (`search(steps_per_epoch=...)`; a whole epoch is 63), then it is judged


def _in_fresh_process(root, script, *args, env=None):
    """What ``script`` prints last, as JSON, run in a fresh Python process with ``args`` (and ``env`` added)."""
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def rss_per_trial(directory, root, model, trials):
    """Resident memory (MB) after each of ``trials`` tiny trials of ``model``'s default search, in a fresh process.
    Every trial is built, compiled, trained (`STEPS` batches) and judged as in a full search."""
    rss, steps, (frozen_in_trials, frozen_after) = _in_fresh_process(root, RSS_PER_TRIAL, directory, model, trials,
                                                                     STEPS)
    assert len(rss) == trials
    assert steps == [STEPS] * trials  # steps_per_epoch was followed by every trial
    # the objects from before the search were out of the collector's reach in every trial, and are back after it
    assert frozen_in_trials > 100_000 and frozen_after == 0
    return rss


def test_memory_stays_flat_over_twelve_trials(tmp_path, root):
    """Resident memory after each of 12 VAE trials, in a fresh process: after the first few (caches, the data
    pipeline) it stays flat. Before the fixes in `ZooHyperModel.build` every trial kept ~17 MB (its traced train
    graph, pinned by TensorFlow's custom-gradient registry, and its optimizer's initializer graphs): 286 MB over
    trials 6-20 with this test's 4-step trials (whole-epoch trials: 250 MB), so about 130 MB over trials 6-12."""
    rss = rss_per_trial(tmp_path, root, "vae", 12)
    growth = max(rss[5:]) - rss[4]  # measured: 5 MB over trials 6-12 (Intel Xeon)
    assert growth < 40, f"resident memory grew {growth:.0f} MB over trials 6-12: {[round(r) for r in rss]}"


SEARCH_SECONDS = """
import contextlib, sys, tempfile, time
from tuning import hypermodels
if sys.argv[1] == "off":  # every collection walks the objects from before the search too
    hypermodels._collect_only_new_objects = contextlib.nullcontext
start = time.perf_counter()
hypermodels.search("vae", "mnist", max_trials=6, epochs=1, batch_size=64, directory=tempfile.mkdtemp(),
                   steps_per_epoch=4)
print(time.perf_counter() - start)
"""


@pytest.mark.bench  # about 2 min: in `make bench`
def test_a_search_collects_only_what_its_trials_create(root):
    """A 6-trial VAE search (4 steps a trial, as the memory tests' trials) in fresh processes, alternating: with the
    objects from before the search out of the collector's reach (`hypermodels._collect_only_new_objects`, three
    full collections a trial) and without, at most 0.92 of the time (measured on an Intel Xeon: 12.3 and 12.0 s
    against 16.1 and 16.4 s; under cProfile the collections took 0.7 s against 5.3 s)."""
    seconds = {"on": [], "off": []}
    for mode in ("on", "off", "on", "off"):
        seconds[mode].append(_in_fresh_process(root, SEARCH_SECONDS, mode))
    print(f"\n6-trial VAE search: {seconds['on']} s collecting only new objects, {seconds['off']} s all")
    assert min(seconds["on"]) < 0.92 * min(seconds["off"])


RSS_PER_JUDGE = RSS_MB + """
import zoo
from zoo.training import judge

net, seen = zoo.build("dcgan", "tiny"), []
for _ in range(int(sys.argv[1])):
    assert judge.judge(net, "mnist")["fid"] > 0
    seen.append(rss_mb())
print(json.dumps(seen))
"""


def test_fid_judge_memory_stays_flat(root):
    """What every GAN trial adds to a search: the FID judge (1000 samples against the embedded test digits), 15
    times in a fresh process; the slope of resident memory over judges 6-15 stays under 0.4 MB a judge. Measured:
    -0.12 (every reading within 1 MB; Intel Xeon); over judges 6-25, -0.02 and 0.84 with the MNIST arrays parsed
    again by every judge, as before they were parsed once per process (np.genfromtxt's heap left behind: 3.3 MB a
    trial between training steps, the test below). The whole trials, 25 DCGAN trials of a search: `make bench`.

    With glibc's malloc arenas bounded to 2 (MALLOC_ARENA_MAX): with its default of one per thread up to 8 a core,
    TensorFlow's threads spread the judge's buffers over many arenas, whose resident memory moved in steps of 1.5-7
    MB either way (on the AMD EPYC, 4 processes of 40 judges: 0.0-0.35 MB a judge over judges 6-40; one run of this
    test failed with 0.63 over 6-15, readings 779-786 MB). With 2 arenas: every reading within 2.4 MB over 30 judges
    (4 processes); the parse of the digits on every judge (`embedded._mnist_arrays.cache_clear()` before each) grows
    ~3.5 MB a judge either way, so the test still sees what it is for."""
    rss = _in_fresh_process(root, RSS_PER_JUDGE, 15, env={"MALLOC_ARENA_MAX": "2"})
    slope = np.polyfit(np.arange(5, 15), rss[5:], 1)[0]
    assert slope < 0.4, f"resident memory grew {slope:.2f} MB a judge over judges 6-15: {[round(r) for r in rss]}"


@pytest.mark.bench  # 140-250 s: in `make bench`; test_fid_judge_memory_stays_flat covers the judge in the suite
def test_gan_memory_stays_flat_with_the_fid_objective(tmp_path, root):
    """25 DCGAN trials of the default space, each judged by FID (which reads the embedded test digits): the slope
    of resident memory over trials 6-25 stays under 1.2 MB a trial. Measured with 4-step trials: 0.17, and 3.29 with
    the MNIST arrays parsed again by every trial's judge as before they were parsed once per process (np.genfromtxt's
    heap left behind; whole-epoch trials: 0.05-0.72, and 2.2-3.2 before). Single readings scatter by about 7 MB."""
    rss = rss_per_trial(tmp_path, root, "dcgan", 25)
    slope = np.polyfit(np.arange(5, 25), rss[5:], 1)[0]
    assert slope < 1.2, f"resident memory grew {slope:.2f} MB a trial over trials 6-25: {[round(r) for r in rss]}"
