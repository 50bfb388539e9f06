"""`zoo bench pipeline` end to end on one tiny video, `zoo bench generative` on two models: every row measured, well-formed
JSON and Markdown. Nothing here is timed. Both run in `make bench` (marker ``bench``), before the benches themselves.
The global accuracy bench's clip rule and table are checked without training."""

import json
import os

import av
import numpy as np
import pytest
from PIL import Image

from zoo import bench
from zoo.training import benchmark


def write_video(path, frames=24, height=48, width=64):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width * 2, 3), dtype=np.uint8)
    with av.open(path, "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, t:t + width]), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.mark.bench
def test_pipeline_bench_writes_its_table(tmp_path):
    video = str(tmp_path / "tiny.mp4")
    write_video(video)
    out = str(tmp_path / "docs")
    result = bench.pipeline(out, videos=[video], cores=1, clip_len=4, size=(32, 32), batch_size=2, frames=64,
                            rounds=2, naive_frames=8, memory_videos=4)

    saved = json.load(open(os.path.join(out, "bench-pipeline.json")))
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    assert saved["machine"]["cores_used"] == 1 and saved["videos"] == ["tiny.mp4"] and saved["frames"] == 24
    names = [r["name"] for r in saved["rows"]]
    assert len(names) == 12 and names[0].startswith("training pipeline (C3D's sampling: 5 clips of every video read")
    assert "uint8 clips" in names[0] and "RandomClipFlip" in names[1] and "float32" in names[2]
    assert "whole record read (ranges=False" in names[3] and "one clip of every video" in names[4]
    assert "defaults of clips" in names[5] and "its whole record read" in names[6] and "first clip" in names[7]
    assert "naive loader" in names[8] and "ffmpeg" in names[9] and names[11].startswith("peak RSS")
    for row in saved["rows"]:
        assert row["value"] > 0
        if row["met"] is None:  # only ffmpeg's rows may be missing, and they say why
            assert "ffmpeg" in row["name"] and row["note"].startswith("not measured: ffmpeg is not installed")
        else:
            assert row["baseline"] > 0 and row["ratio"] > 0 and isinstance(row["met"], bool)
    assert set(saved["raw"]["throughput"]) == set(bench.VARIANTS) | {"naive"}
    rounds = saved["raw"]["throughput"]["c3d"]
    assert len(rounds) == 2 and all(r["limit"]["cpu_us"] > 0 and r["pipeline"]["fps"] > 0 for r in rounds)
    ingestion = saved["raw"]["ingestion"]
    assert [len(ingestion[k]) for k in ("ingest", "ingest-full-size", "clip-length")] == [3, 3, 1]
    if "rounds" in ingestion["ffmpeg"]:  # ffmpeg and ingestion alternate, one ratio per round
        assert len(ingestion["ffmpeg"]["rounds"]) == 3 and "median of 3 alternating rounds" in saved["rows"][9]["note"]
    small, large = saved["raw"]["memory"]
    assert (small["clips"], large["clips"]) == (4, 16)  # one epoch of 4, then of 4x as many videos

    table = open(os.path.join(out, "bench-pipeline.md")).read().splitlines()
    assert table[0] == "# Benchmark: pipeline"
    assert saved["commit"].split()[0] in table[2] and "1 of" in table[2] and saved["date"] in table[2]
    header = table.index("| measurement | measured | baseline / limit | ratio | goal | met | note |")
    body = table[header + 2:]
    assert len(body) == 12 and all(line.count(" | ") == 6 for line in body)


@pytest.mark.bench
def test_generative_bench_writes_its_table_and_figures(tmp_path):
    """`zoo bench generative` on two models for one epoch: every metric measured, the figures written."""
    from zoo.training import benchmark

    out = str(tmp_path / "docs")
    result = benchmark.generative(out, epochs=1, runs=str(tmp_path / "runs"), only=("vae", "gan"), fid_samples=200,
                                  nll_samples=10, nll_examples=100)
    vae, gan = result["rows"]["VAE (Bernoulli decoder)"], result["rows"]["GAN (MLP, Goodfellow et al.)"]
    assert -400 < vae["elbo"] < -100 and 0 < vae["nll"] < 400 and 0 < vae["mse"] < 0.2
    for row in (vae, gan):
        assert row["fid"] > 0 and row["kid"] > 0 and row["nn_distance_ratio"] > 0.5  # no copies of the training set
    assert 1 / 9 <= gan["interpolation_largest_step"] < 1 and "interpolation_largest_step" not in vae
    figures = set(os.listdir(os.path.join(out, "generative")))
    assert {"vae-samples.png", "vae-nn.png", "vae-reconstructions.png", "gan-samples.png", "gan-nn.png",
            "gan-interpolation.png"} <= figures
    table = open(os.path.join(out, "bench-generative.md")).read().splitlines()
    rows = [line for line in table if line.startswith("| VAE") or line.startswith("| GAN")]
    assert len(rows) == 2 and all(line.count(" | ") == 7 for line in rows)  # 8 columns
    assert json.load(open(os.path.join(out, "bench-generative.json")))["rows"].keys() == result["rows"].keys()


def test_global_bench_clips_span_the_video_without_aliasing():
    """Clips of the recurrent models span the video (48 frames of digit-actions-order: 8 frames 6 apart), but on
    digit-actions their frames stay at most 2 apart, where its fastest motions are still above the Nyquist rate."""
    assert benchmark.clip_step("digit-actions-order", 8) == 6
    assert benchmark.clip_step("digit-actions-order", 16) == 3
    assert benchmark.clip_step("digit-actions", 8) == benchmark.clip_step("digit-actions", 16) == 2
    assert benchmark.clip_step("digit-actions", 32) == 1 and benchmark.clip_step("digit-actions", None) is None


def test_global_bench_table_of_a_partial_run():
    """A rerun of one dataset leaves the other one's cells empty (nan), the table still renders."""
    row = {"frames": 8, "frame_step": 2, "clip_hit@1": 0.5, "video_hit@1": 0.75, "seconds": 60.0}
    result = {"family": "global", "data": list(benchmark.GLOBAL_DATA), "commit": "abc", "date": "2026-11-26",
              "cores": 2, "chance": {"digit-actions": 0.1, "digit-actions-order": 1 / 12},
              "budget": {"epochs": 30, "batch_size": 16, "seed": 0, "preset": "tiny", "clips_per_video": 4,
                         "optimizer": "Adam"},
              "rows": {"GRU-RCN": {"model": "gru-rcn", "digit-actions": row}}, "seconds": 60.0}
    text = benchmark.markdown(result)
    assert "| GRU-RCN | 8 frames, step 2 | 0.750 | - | nan | nan |" in text
    assert "at most 2 apart on digit-actions" in text and "Total time: 1.0 minutes." in text


def test_global_bench_keeps_the_confusion_matrices_and_draws_them(tmp_path, monkeypatch):
    """Each row keeps its test confusion matrix; one figure per dataset shows every row's side by side, and a rerun
    of one model keeps the others' matrices. Training and evaluation are replaced by a stub: nothing is trained."""
    def evaluate(run_dir, num_clips):
        n = 12 if "order" in run_dir else 10
        cm = np.zeros((n, n), int)
        cm[np.arange(n), np.arange(n) // 2 * 2] = 3  # every class taken for the first of its pair
        return {"clip_hit@1": 0.5, "video_hit@1": 0.5, "video_hit@5": 1.0, "confusion": cm.tolist()}

    monkeypatch.setattr(benchmark.run, "train", lambda *a, **k: None)
    monkeypatch.setattr(benchmark.run, "evaluate", evaluate)
    common = dict(epochs=1, batch_size=2, seed=0, num_clips=1, runs=str(tmp_path / "runs"))
    benchmark._global(str(tmp_path), only=["gru-rcn"], **common)
    result = benchmark._global(str(tmp_path), only=["c3d"], data=("digit-actions",), **common)
    assert result["rows"]["GRU-RCN"]["digit-actions-order"]["confusion"][1][0] == 3  # kept from the first run
    assert np.trace(result["rows"]["C3D (one short window)"]["digit-actions"]["confusion"]) == 15
    text = open(tmp_path / "bench-accuracy-global.md").read()
    assert all(f"(global/confusion-{d}.png)" in text for d in benchmark.GLOBAL_DATA)

    def full_cells(path):
        """Pixels of cells at 1.0 (Blues' darkest blue; text and labels are black or white)."""
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
        return int(((rgb[..., 2] > 90) & (rgb[..., 0] < 40) & (rgb[..., 2] - rgb[..., 0] > 50)).sum())

    # digit-actions: GRU-RCN's and C3D's panels, 10 full cells each; the same grid with GRU-RCN's matrix empty has
    # half of them, and panels without a matrix ("not run") none
    both = full_cells(tmp_path / "global" / "confusion-digit-actions.png")
    names = benchmark.datasets.info("digit-actions").class_names
    panels = [(n, r.get("digit-actions", {}).get("confusion")) for n, r in result["rows"].items()]
    one = full_cells(benchmark.figures.confusion_grid(
        [(n, np.zeros((10, 10)) if n == "GRU-RCN" else m) for n, m in panels], names, str(tmp_path / "one.png")))
    none = full_cells(benchmark.figures.confusion_grid([(n, None) for n, _ in panels], names, str(tmp_path / "0.png")))
    assert both > 1000 and abs(one / both - 0.5) < 0.05 and none == 0, (both, one, none)
    # digit-actions-order: C3D not run there, GRU-RCN's 12 full cells only
    assert full_cells(tmp_path / "global" / "confusion-digit-actions-order.png") > 500


def test_global_bench_trains_baccouche_in_two_steps(tmp_path, monkeypatch):
    """Baccouche et al.'s row (Sec. 4): the 3D ConvNet trained first on the same data with the same budget, then
    the LSTM over its windows with that network loaded and frozen; the first step's result is kept and shown.
    Training and evaluation are replaced by stubs that record their calls: nothing is trained."""
    calls = []

    def train(model, data, **kwargs):
        calls.append((model, data, kwargs))

    def evaluate(run_dir, num_clips):
        n = 12 if "order" in run_dir else 10
        score = 0.25 if "3dcnn" in run_dir else 0.75
        return {"clip_hit@1": score, "video_hit@1": score, "video_hit@5": 1.0, "confusion": np.eye(n).tolist()}

    monkeypatch.setattr(benchmark.run, "train", train)
    monkeypatch.setattr(benchmark.run, "evaluate", evaluate)
    runs = str(tmp_path / "runs")
    result = benchmark._global(str(tmp_path), only=["baccouche"], epochs=3, batch_size=2, seed=0, num_clips=4,
                               runs=runs)
    assert [(m, d) for m, d, _ in calls] == [("baccouche-3dcnn", "digit-actions"), ("baccouche", "digit-actions"),
                                             ("baccouche-3dcnn", "digit-actions-order"),
                                             ("baccouche", "digit-actions-order")]
    for (_, _, first), (_, _, second) in (calls[:2], calls[2:]):
        # consecutive frames in both steps: 9-frame windows, then three of them back to back
        assert first["epochs"] == second["epochs"] == 3 and first.get("frame_step") is second["frame_step"] is None
        size = {"height": 48, "width": 48}  # both steps on the row's frames
        assert first["overrides"] == size
        assert second["overrides"] == {**size, "backbone_weights": os.path.join(first["run_dir"], "model.keras"),
                                       "train_backbone": False}
    row = result["rows"]["Baccouche et al.: 3D ConvNet, then LSTM over its windows (48 x 48 frames)"]
    assert row["digit-actions"]["video_hit@1"] == 0.75 and row["digit-actions"]["first_step"]["video_hit@1"] == 0.25
    assert row["digit-actions-order"]["frames"] == 27 and row["digit-actions-order"]["frame_step"] is None
    text = open(tmp_path / "bench-accuracy-global.md").read()
    assert ("| Baccouche et al.: 3D ConvNet, then LSTM over its windows (48 x 48 frames) | 27 frames, consecutive | "
            "0.750 |") in text
    assert ("its first step alone, `baccouche-3dcnn` (one window of consecutive frames, 4 windows averaged per "
            "video), 0.250 video hit@1 on digit-actions, 0.250 video hit@1 on digit-actions-order.") in text


def test_global_bench_pretrains_the_frame_cnn_once(tmp_path, monkeypatch):
    """The rows of `PRETRAINED`: their backbone is pretrained on digit poses once for all of them and both datasets,
    then loaded and frozen under the recurrent part, in run directories apart from the from-scratch rows'; the
    table says what the pretrained CNN reached. Pretraining, training and evaluation are stubs: nothing is trained."""
    calls, pretrained = [], []

    def digit_poses(path, backbone, verbose):
        pretrained.append((path, backbone))
        return {"angle": 0.3, "angle_within_one_bin": 0.48, "scale": 0.77, "place": 0.88, "backbone": backbone,
                "frames": 60000, "held_out": 2000, "epochs": 10, "path": path}

    def evaluate(run_dir, num_clips):
        n = 12 if "order" in run_dir else 10
        return {"clip_hit@1": 0.5, "video_hit@1": 0.5, "video_hit@5": 1.0, "confusion": np.eye(n).tolist()}

    monkeypatch.setattr(benchmark.pretrain, "digit_poses", digit_poses)
    monkeypatch.setattr(benchmark.run, "train", lambda model, data, **kw: calls.append((model, data, kw)))
    monkeypatch.setattr(benchmark.run, "evaluate", evaluate)
    runs = str(tmp_path / "runs")
    result = benchmark._global(str(tmp_path), only=list(benchmark.PRETRAINED), epochs=3, batch_size=2, seed=0,
                               num_clips=4, runs=runs)
    assert pretrained == [(os.path.join(runs, "pretrained-small-caffenet-torus-digit-poses.keras"),
                           "small-caffenet-torus")]
    assert sorted(m for m, _, _ in calls) == ["lrcn", "lrcn", "snippets-lstm", "snippets-lstm"]
    for model, data, kw in calls:
        assert kw["overrides"] == {"backbone": "small-caffenet-torus", "backbone_weights": pretrained[0][0],
                                   "train_backbone": False}
        assert kw["run_dir"] == os.path.join(runs, f"global-{data}-{model}-pretrained")
    assert set(result["rows"]) == set(benchmark.PRETRAINED)
    text = open(tmp_path / "bench-accuracy-global.md").read()
    assert ("LRCN, frame CNN pretrained on digit poses: its frame CNN, `small-caffenet-torus`, pretrained on 60,000 "
            "posed frames") in text
    assert "angle bin 0.30 (within one bin 0.48), scale bin 0.77, place 0.88" in text


def test_global_bench_fuses_lrcn_rgb_and_flow_as_the_paper(tmp_path):
    """LRCN's fused row is 1/3 of the RGB run's and 2/3 of the flow run's test probabilities, view by view (Donahue
    et al. 2015, Table 1), computed from the runs' saved predictions without training, and shown after LRCN (flow)."""
    rng = np.random.default_rng(0)
    ids, labels = np.array([f"v{i:02d}" for i in range(40)]), rng.integers(0, 10, 40)
    probs = {m: rng.dirichlet(np.ones(10), (40, 4)) for m in ("LRCN", "LRCN (flow)")}
    row = {"frames": 16, "frame_step": 2, "clip_hit@1": 0.5, "video_hit@1": 0.5, "video_hit@5": 1.0, "seconds": 60.0}
    rows = {}
    for name, model in (("GRU-RCN", "gru-rcn"), ("LRCN", "lrcn"), ("LRCN (flow)", "lrcn-flow")):
        rows[name] = {"model": model}
        for d in benchmark.GLOBAL_DATA:
            run_dir = tmp_path / f"{d}-{model}"
            run_dir.mkdir()
            if name in probs:  # the saved predictions in another order of videos: matched by id
                order = rng.permutation(40)
                np.savez(run_dir / "predictions-test.npz", ids=ids[order], labels=labels[order],
                         probabilities=probs[name][order])
            rows[name][d] = dict(row, run_dir=str(run_dir), confusion=np.eye(10, dtype=int).tolist())
    previous = {"commit": "abc", "rows": rows}
    (tmp_path / "bench-accuracy-global.json").write_text(json.dumps(previous))
    result = benchmark._global(str(tmp_path), epochs=1, batch_size=2, seed=0, num_clips=4, runs=str(tmp_path), only=())

    name = "LRCN (RGB + flow: weighted average, 1/3 : 2/3)"
    assert list(result["rows"]) == ["LRCN", "LRCN (flow)", name, "GRU-RCN"]
    fused = (probs["LRCN"] / 3 + 2 * probs["LRCN (flow)"] / 3).mean(axis=1).argmax(-1)
    swapped = (2 * probs["LRCN"] / 3 + probs["LRCN (flow)"] / 3).mean(axis=1).argmax(-1)
    expected = float(np.mean(fused == labels))
    assert expected != float(np.mean(swapped == labels))  # the weights matter on these numbers
    for d in benchmark.GLOBAL_DATA:
        cell = result["rows"][name][d]
        assert cell["video_hit@1"] == pytest.approx(expected)
        assert np.trace(cell["confusion"]) == round(expected * 40) and np.sum(cell["confusion"]) == 40
    assert result["commit"] == f"abc; {name} fused at {benchmark._commit()}"
    # equal weights (the local family's "CNN average"): the plain mean
    dirs = [rows[m]["digit-actions"]["run_dir"] for m in probs]
    mean = np.mean((probs["LRCN"] + probs["LRCN (flow)"]).mean(axis=1).argmax(-1) == labels)
    assert benchmark._ensemble(dirs)["video_hit@1"] == pytest.approx(mean)
    text = open(tmp_path / "bench-accuracy-global.md").read()
    assert f"| {name} | 16 frames + flow fields, step 2 | {expected:.3f} |" in text


def test_pipeline_bench_reads_shards_of_many_videos(tmp_path, monkeypatch):
    """The pipeline bench's shards hold their records COPIES times back to back (a valid TFRecord file that
    TensorFlow reads through), a copy stays under COPY_BYTES, and a shard already that large is read as it is."""
    import tensorflow as tf

    shard = str(tmp_path / "train-00000-of-00001.tfrecord")
    with tf.io.TFRecordWriter(shard) as w:
        for record in (b"first", b"second video"):
            w.write(record)
    copied, = bench._many_videos_a_shard([shard], copies=3)
    assert copied != shard and [r.numpy() for r in tf.data.TFRecordDataset(copied)] == [b"first", b"second video"] * 3
    size = os.path.getsize(shard)
    monkeypatch.setattr(bench, "COPY_BYTES", 2 * size)  # room for two copies only
    two = str(tmp_path / "two" / os.path.basename(shard))
    os.makedirs(os.path.dirname(two))
    os.link(shard, two)
    assert os.path.getsize(bench._many_videos_a_shard([two], copies=3)[0]) == 2 * size
    monkeypatch.setattr(bench, "COPY_BYTES", size)
    assert bench._many_videos_a_shard([shard], copies=3) == [shard]
