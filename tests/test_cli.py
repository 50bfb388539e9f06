"""The layout, the `zoo` command end to end, and one clear line with exit code 2 for a user's mistake."""

import json
import os
import subprocess
import sys

import pytest

from zoo import cli


def test_layout(root):
    for path in ("zoo", "pipelines", "tuning", "tests", "requirements.txt", "pyproject.toml", "Makefile",
                 "README.md", ".ci/run", "zoo/registry.py", "zoo/video/c3d.py", "zoo/generative/vae.py"):
        assert os.path.exists(os.path.join(root, path)), path
    assert "make test" in open(os.path.join(root, ".ci/run")).read()
    reqs = [l for l in open(os.path.join(root, "requirements.txt")) if l.strip() and not l.startswith("#")]
    assert reqs and all("==" in l for l in reqs)  # exact pins


@pytest.mark.parametrize("argv, message", [
    (["train", "c3dd", "--data", "digit-actions"], "unknown model 'c3dd' (did you mean 'c3d'?)"),
    (["train", "c3d", "--data", "digit-actionz"], "unknown dataset 'digit-actionz'"),
    (["train", "c3d", "--data", "digit-actions", "--set", "widht=3"], "'c3d' has no argument 'widht'"),
    (["train", "c3d", "--data", "digit-actions", "--set", "num_classes=5"], "the model has 5 classes"),
    (["train", "c3d", "--data", "digit-actions", "--set", "frames"], "--set takes key=value"),
    (["train", "vae", "--data", "digit-actions"], "'vae' needs image data"),
    (["train", "late-fusion", "--data", "digit-actions", "--frame-step", "3"], "set frame_gap=N instead"),
    (["train", "vae", "--data", "mnist", "--frame-step", "3"], "does not take clips"),
    (["train", "vae", "--data", "mnist", "--clips-per-video", "2"], "clips per video apply to video datasets"),
    (["train", "c3d", "--data", "digit-actions", "--clips-per-video", "0"], "clips per video must be positive"),
    (["train", "c3d", "--data", "digit-actions", "--strategy", "multiworker"], "needs TF_CONFIG"),
    (["tune", "vae", "--data", "mnist", "--steps-per-epoch", "0"], "steps per epoch must be positive"),
    (["evaluate", "/no/such/run"], "is not a run directory"),
    (["pretrain", "--out", "cnn.h5"], "saved as a .keras file"),
    (["pretrain", "--out", "cnn.keras", "--frames", "0"], "must be positive"),
    (["pretrain", "--out", "cnn.keras", "--backbone", "small-cafenet"], "unknown backbone 'small-cafenet'"),
    (["pretrain", "--out", "cnn.keras", "--backbone", "caffenet", "--frames", "8"], "cannot take 32 x 32 frames"),
    (["sample", "/no/such/run"], "is not a run directory"),
])
def test_user_mistakes_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error: ") and message in err and "\n" not in err


def test_real_process_one_line_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "zoo", "train", "nope", "--data", "mnist"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "Traceback" not in proc.stderr


def test_train_evaluate_export_sample_from_the_command_line(tmp_path, capsys):
    run_dir = str(tmp_path / "vae")
    cli.main(["train", "vae", "--data", "mnist", "--epochs", "2", "--batch-size", "200", "--run-dir", run_dir,
              "--verbose", "0"])
    for f in ("config.json", "model.keras", "history.csv", "checkpoints/last.keras", "checkpoints/best.keras",
              "figures/curves.png", "figures/samples.png", "figures/manifold.png", "figures/reconstructions.png",
              "figures/samples-epoch-002.png"):
        assert os.path.isfile(os.path.join(run_dir, f)), f
    assert os.listdir(os.path.join(run_dir, "logs"))
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["arguments"]["latent_dim"] == 2 and config["preset"] == "tiny"
    history = open(os.path.join(run_dir, "history.csv")).read().splitlines()
    assert len(history) == 3 and "val_loss" in history[0]

    capsys.readouterr()
    cli.main(["evaluate", run_dir])
    result = json.loads(capsys.readouterr().out)
    assert -300 < result["elbo"] < -150 and result["kl"] > 0
    assert json.load(open(os.path.join(run_dir, "metrics.json")))["elbo"] == result["elbo"]

    cli.main(["export", run_dir, "--check"])
    out = capsys.readouterr().out
    assert "signatures: encode, decode, sample" in out and "tensorflow only" in out

    cli.main(["sample", run_dir, "--num", "16"])
    assert os.path.isfile(capsys.readouterr().out.strip())


def test_class_count_mismatch_on_evaluate(tmp_path, capsys):
    """A classifier trained on digit-actions (10 classes), evaluated on a directory of shards with 3 classes."""
    import numpy as np

    from pipelines import records

    run_dir = str(tmp_path / "sf")
    cli.main(["train", "single-frame", "--data", "digit-actions", "--epochs", "1", "--run-dir", run_dir,
              "--verbose", "0"])
    other = tmp_path / "three-classes"
    other.mkdir()
    rng = np.random.default_rng(0)
    records.write_shard(str(other / records.shard_name("test", 0, 1)), (
        records.video_example(rng.integers(0, 255, (6, 40, 48, 3), dtype=np.uint8), label=i % 3, video_id=i, fps=25)
        for i in range(6)))
    records.write_meta(str(other), {"classes": ["a", "b", "c"], "splits": {"test": {"videos": 6}}})
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", run_dir, "--data", str(other)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "the model has 10 classes but" in err and "has 3" in err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", run_dir, "--data", "mnist"])
    assert "needs video data" in capsys.readouterr().err

