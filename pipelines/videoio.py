"""Video files in, JPEG frames (and flow) out: what an ingest worker does for one video.

PyAV decoding, short-side resize, frame-rate cap, padding of short videos, optical flow (`pipelines.flow`) and JPEG
encoding. No TensorFlow here, so that `zoo data ingest`'s spawned workers start in a fraction of a second and stay
small; the parent process assembles the SequenceExamples (`pipelines.records`) and writes the shards.
"""

import collections
import concurrent.futures as cf
import math
import signal

import av
import cv2
import numpy as np

from pipelines import flow as flow_lib

Encoded = collections.namedtuple("Encoded", "jpegs flow fps height width decoded")  # flow: (x, y) JPEG lists


class BadVideo(Exception):
    """A file that cannot be ingested; the message is the reason given in the report."""


def encode_jpeg(image, quality=90, bgr=False):
    """uint8 [H, W, 3] RGB (BGR with ``bgr``; or [H, W, 1]) -> JPEG bytes (deterministic: libjpeg-turbo through
    OpenCV)."""
    image = np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[-1] == 3 and not bgr:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # OpenCV wants BGR (8x faster than a reversed numpy copy)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def _resized(width, height, short_side):
    if not short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _why(error):
    return getattr(error, "strerror", None) or str(error)


def _frames(container, stream):
    """The decoded frames of ``stream``; BadVideo at a packet the demuxer flags as cut short (a truncated file; the
    decoder's frame threads would otherwise hide the error)."""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            raise BadVideo("a packet is cut short (truncated file)")
        yield from packet.decode()


def _kept_frames(path, *, short_side, fps, max_frames, threads):
    """(frame rate, size, generator of the PyAV frames kept): the file checked and opened, at most ``fps`` frames per
    second (the first frame of each 1/fps slot of time), at most ``max_frames``; ``size``: [width, height] after the
    short side's resize, known once the first frame is out. Raises BadVideo with the reason when the file cannot be
    read (the generator too, while decoding)."""
    try:
        with open(path, "rb") as f:
            if not f.read(1):
                raise BadVideo("empty file (0 bytes)")
    except OSError as e:
        raise BadVideo(f"unreadable: {e.strerror}") from None
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError) as e:
        raise BadVideo(f"cannot open as a video (truncated, or not a video file): {_why(e)}") from None
    if not container.streams.video:
        container.close()
        raise BadVideo("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    rate = stream.average_rate or stream.guessed_rate
    native = float(rate) if rate else 0.0
    cap = fps is not None and (not native or native > fps)
    size = []

    def frames():
        kept, last_slot = 0, -1
        with container:
            try:
                for i, frame in enumerate(_frames(container, stream)):
                    if cap:
                        slot = math.floor((frame.time if frame.time is not None else i / (native or fps)) * fps
                                          + 1e-6)
                        if slot <= last_slot:
                            continue
                        last_slot = slot
                    size[:] = size or _resized(frame.width, frame.height, short_side)
                    yield frame
                    kept += 1
                    if max_frames and kept >= max_frames:
                        break
            except (av.error.FFmpegError, OSError, BadVideo) as e:
                raise BadVideo(f"corrupt: decoding failed after {kept} frames: {_why(e)}") from None
        if not kept:
            raise BadVideo("no frames decoded")

    return (float(fps) if cap else native), size, frames()


def _array(frame, size, bgr):
    """A PyAV frame -> uint8 [H, W, 3] RGB (BGR with ``bgr``) of ``size`` [width, height], area interpolation."""
    return frame.to_ndarray(width=size[0], height=size[1], format="bgr24" if bgr else "rgb24", interpolation="AREA")


def decode(path, *, short_side=128, fps=None, max_frames=None, threads=0, bgr=False):
    """(uint8 RGB frames [T, H, W, 3] (BGR with ``bgr``), frame rate) of a video file, decoded with PyAV: the short
    side resized to ``short_side`` px with area interpolation (None keeps the size; C3D uses 128), at most ``fps``
    frames per second (the first frame of each 1/fps slot of time is kept), at most ``max_frames`` frames;
    ``threads`` decoder threads (0: FFmpeg decides). Raises BadVideo with the reason when the file cannot be read."""
    rate, size, frames = _kept_frames(path, short_side=short_side, fps=fps, max_frames=max_frames, threads=threads)
    return np.stack([_array(frame, size, bgr) for frame in frames]), rate


ENCODERS = 2  # threads that convert and JPEG-encode frames while the decoder goes on (both release the GIL)


def _encoded_frames(path, *, short_side, fps, max_frames, threads, bgr, quality):
    """(JPEG bytes of the frames `decode` gives, frame rate, height, width): each frame converted and encoded on
    `ENCODERS` threads while decoding goes on (a 720p video is decoded, converted and encoded in about half the
    time of doing them one after the other); the same bytes."""
    rate, size, frames = _kept_frames(path, short_side=short_side, fps=fps, max_frames=max_frames, threads=threads)
    with cf.ThreadPoolExecutor(ENCODERS) as pool:
        pending = [pool.submit(lambda f: encode_jpeg(_array(f, size, bgr), quality, bgr=bgr), frame)
                   for frame in frames]
        jpegs = [p.result() for p in pending]
    return jpegs, rate, size[1], size[0]


def _loop(items, length):
    """``length`` items: ``items`` (an array or a list) repeated (the clip pipeline's convention for short
    videos)."""
    if isinstance(items, list):
        return [items[i % len(items)] for i in range(length)]
    return items[np.arange(length) % len(items)]


def encode_video(path, *, short_side=128, fps=None, max_frames=None, min_frames=0, quality=90, flow=None,
                 threads=0):
    """Encoded(JPEG frames, flow, fps, height, width, decoded frame count) of one video file (see ``decode``).
    Videos shorter than ``min_frames`` are padded by looping; ``flow`` ("farneback" or "tvl1") adds the quantized
    flow between consecutive decoded frames as grayscale JPEGs (looped likewise; a single frame has no motion)."""
    # Frames kept at their size come in BGR, OpenCV's order: the JPEG encoder and the flow's grayscale take them
    # without a conversion (a third of the time at 720p, the same bytes). Resized frames stay RGB: FFmpeg's scaled
    # RGB and BGR conversions round differently (up to 5 levels), and ingested data must not change with this.
    bgr = not short_side
    options = dict(short_side=short_side, fps=fps, max_frames=max_frames, threads=threads)
    if not flow:
        jpegs, rate, height, width = _encoded_frames(path, bgr=bgr, quality=quality, **options)
        decoded = len(jpegs)
        return Encoded(_loop(jpegs, max(decoded, min_frames)), None, rate, height, width, decoded)
    frames, rate = decode(path, bgr=bgr, **options)
    decoded, length = len(frames), max(len(frames), min_frames)
    motion = flow_lib.video_flow(frames, flow, bgr=bgr)
    if length > decoded:
        motion = _loop(motion, length - 1) if len(motion) else np.zeros((length - 1,) + motion.shape[1:], np.float32)
    planes = [[encode_jpeg(p[..., None], quality) for p in flow_lib.quantize_flow(c)]
              for c in (motion[..., 0], motion[..., 1])]
    jpegs = _loop([encode_jpeg(f, quality, bgr=bgr) for f in frames], length)
    return Encoded(jpegs, planes, rate, frames.shape[1], frames.shape[2], decoded)


def init_worker():
    """Set up an ingest worker process: Ctrl-C ends it quietly (the parent reports it) and OpenCV uses one thread
    (one worker per core)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    cv2.setNumThreads(1)


def try_encode(task):
    """(Encoded, None), or (None, reason) for a file that cannot be ingested; task: (path, options)."""
    path, options = task
    try:
        return encode_video(path, **options), None
    except BadVideo as e:
        return None, str(e)
