"""The shards' frame index (`pipelines.records`): where every frame's bytes lie in its shard, written with the shard,
and the training pipeline reading only its clips' frames by byte range (`video.clips(ranges=...)`), batch for batch
what reading whole records gives."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from pipelines import datasets, records, video
from pipelines.datasets import ZooError
from zoo import cli

LENGTHS = ([3, 9, 12, 20, 7], [14, 5, 16, 4])  # frames of the videos of two shards; some shorter than a clip
SIZE = (32, 32)  # frames of 36 x 44 need no resizing for it: training decodes windows


def _video(rng, frames):
    """A smooth random texture drifting right (uint8 [T, 36, 44, 3]) and random quantized flow planes (x, y)."""
    texture = tf.image.resize(rng.uniform(0, 255, (1, 9, 30, 3)), (36, 88)).numpy()[0]
    clip = np.stack([texture[:, t:t + 44] for t in range(frames)]).round().astype(np.uint8)
    return clip, tuple(rng.integers(0, 256, (frames - 1, 36, 44), dtype=np.uint8) for _ in range(2))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    directory = tmp_path_factory.mktemp("indexed")
    rng = np.random.default_rng(0)
    paths = []
    for s, lengths in enumerate(LENGTHS):
        path = str(directory / records.shard_name("train", s, len(LENGTHS)))
        videos = [_video(rng, t) for t in lengths]
        records.write_shard(path, (records.video_example(v, label=i % 3, label_text="abc"[i % 3], fps=25.0,
                                                         video_id=f"s{s}-v{i}", flow=f)
                                   for i, (v, f) in enumerate(videos)))
        paths.append(path)
    return paths


def _batches(files, **kw):
    args = dict(clip_len=4, size=SIZE, batch_size=3, training=True, seed=5, shuffle_buffer=4, with_ids=True)
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in video.clips(files, **{**args, **kw}).repeat(2)]


def test_frame_spans_are_the_bytes_protobuf_parses(shards):
    raw = next(iter(tf.data.TFRecordDataset(shards[0]))).numpy()
    lists = tf.train.SequenceExample.FromString(raw).feature_lists.feature_list
    spans = records.frame_spans(raw)
    assert sorted(spans) == ["flow/x", "flow/y", "image/encoded"] and len(spans["image/encoded"]) == 3
    for key, places in spans.items():
        assert [raw[a:a + n] for a, n in places] == [f.bytes_list.value[0] for f in lists[key].feature]
    numbers = tf.train.SequenceExample()
    numbers.feature_lists.feature_list["x"].feature.add().float_list.value.append(1.0)
    with pytest.raises(ValueError, match="'x' has an entry with 0 bytes values"):
        records.frame_spans(numbers.SerializeToString())


def test_the_index_says_where_every_frame_lies(shards, tmp_path):
    for shard, lengths in zip(shards, LENGTHS):
        data = open(shard, "rb").read()
        entries = list(records.index_entries(shard, with_flow=True))
        assert [int(e["frame_count"]) for e in entries] == lengths
        for e, raw in zip(entries, tf.data.TFRecordDataset(shard)):
            parsed = records.parse(raw, with_flow=True)
            assert e["id"].numpy() == parsed["id"].numpy() and e["label"].numpy() == parsed["label"].numpy()
            assert e["shard"].numpy().decode() == shard
            for name in ("frames", "flow_x", "flow_y"):
                offsets, lengths_ = (t.numpy() for t in e["spans"][name])
                want = list(parsed[name].numpy())
                assert [data[o:o + n] for o, n in zip(offsets, lengths_)] == want
                picked = np.array([len(want) - 1, 0, len(want) // 2])
                assert list(records.read_frames(shard, e["spans"][name], picked).numpy()) == [want[i] for i in picked]
        # an index made afterwards for the same shard is the same file; a changed shard's index is stale
        copy = str(tmp_path / os.path.basename(shard))
        shutil.copy(shard, copy)
        assert records.index_state(copy) == "missing"
        assert records.write_index(copy) == len(lengths) and records.index_state(copy) == "ok"
        assert open(records.index_path(copy), "rb").read() == open(records.index_path(shard), "rb").read()
        with open(copy, "ab") as f:
            f.write(b"\0")
        assert records.index_state(copy) == "stale"


@pytest.mark.parametrize("kw", [dict(), dict(clips_per_video=3), dict(stride=3, dtype="uint8"),
                                dict(inputs="flow", flow_len=3), dict(inputs="rgb+flow", flow_len=2, stride=2)],
                         ids=["rgb", "3-clips-a-video", "stride-3", "flow", "rgb+flow"])
def test_reading_ranges_gives_the_batches_of_whole_records(shards, kw, monkeypatch):
    """The same seed, the same batches (two epochs), whether the frames come from whole records or by range; with
    ranges=None local indexed shards are read by range."""
    ranged = []
    real = records.read_frames
    monkeypatch.setattr(records, "read_frames", lambda *a: ranged.append(a) or real(*a))
    whole = _batches(shards, ranges=False, **kw)
    assert not ranged
    by_range, auto = _batches(shards, ranges=True, **kw), _batches(shards, **kw)
    assert ranged and len(whole) == len(by_range) == len(auto) == 6 * kw.get("clips_per_video", 1)
    for a, b, c in zip(whole, by_range, auto):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)
        tf.nest.map_structure(np.testing.assert_array_equal, a, c)


def test_shards_without_a_valid_index(shards, tmp_path, monkeypatch):
    copies = []
    for shard in shards:
        copies.append(str(tmp_path / os.path.basename(shard)))
        shutil.copy(shard, copies[-1])
    # no index: ranges=None reads whole records (the same batches), ranges=True says how to make one
    ranged = []
    real = records.read_frames
    monkeypatch.setattr(records, "read_frames", lambda *a: ranged.append(a) or real(*a))
    for a, b in zip(_batches(copies), _batches(shards, ranges=False)):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)
    assert not ranged
    with pytest.raises(ZooError, match=r"train-00000-of-00002.tfrecord has no index .*: make it with `zoo data index "):
        video.clips(copies, clip_len=4, size=SIZE, batch_size=3, training=True, ranges=True)
    # a stale index (the shard changed after it) is an error either way
    shutil.copy(records.index_path(shards[1]), records.index_path(copies[1]))
    shutil.copy(shards[0], copies[1])
    records.write_index(copies[0])
    with pytest.raises(ZooError, match=r"the index of .*train-00001-of-00002.tfrecord is stale .* `zoo data index "):
        video.clips(copies, clip_len=4, size=SIZE, batch_size=3, training=True)


def test_zoo_data_index_writes_the_missing_indexes(shards, tmp_path, capsys):
    for shard in shards:
        shutil.copy(shard, tmp_path / os.path.basename(shard))
    cli.main(["data", "index", str(tmp_path)])
    assert capsys.readouterr().out.strip() == f"{tmp_path}: 2 of 2 shard indexes written (9 videos); 0 were up to date"
    for shard in shards:
        copy = tmp_path / os.path.basename(shard)
        assert open(records.index_path(str(copy)), "rb").read() == open(records.index_path(shard), "rb").read()
    cli.main(["data", "index", str(tmp_path)])
    assert capsys.readouterr().out.strip().endswith(": 0 of 2 shard indexes written (0 videos); 2 were up to date")
    with pytest.raises(SystemExit) as exc:
        cli.main(["data", "index", str(tmp_path / "nothing")])
    assert exc.value.code == 2 and "holds no shards" in capsys.readouterr().err


def test_a_process_that_read_ranges_exits_normally(shards, root):
    """The ranged read is tensorflow-io's op; loading it must not make the interpreter abort at exit (as its S3 file
    system does after S3 I/O)."""
    script = textwrap.dedent(f"""
        from pipelines import video
        ds = video.clips({shards!r}, clip_len=4, size=(32, 32), batch_size=3, training=True, seed=0, ranges=True)
        x, y = next(iter(ds))
        print(tuple(x.shape))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "(3, 4, 32, 32, 3)"


def test_an_embedded_dataset_generated_without_indexes_gets_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    small = dict(frames=4, size=32, train=1, val=1, test=1, shards=2)
    directory = datasets.video_dir("digit-actions", progress=False, **small)
    indexes = sorted(f for f in os.listdir(directory) if f.endswith(".index"))
    assert len(indexes) == 4  # train x 2, val, test
    written = {f: open(os.path.join(directory, f), "rb").read() for f in indexes}
    for f in indexes[:3]:
        os.remove(os.path.join(directory, f))
    assert datasets.video_dir("digit-actions", progress=False, **small) == directory
    assert written == {f: open(os.path.join(directory, f), "rb").read() for f in indexes}
