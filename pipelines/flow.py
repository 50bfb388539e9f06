"""Dense optical flow between consecutive frames, and its 8-bit storage.

Two-stream ConvNets (Simonyan & Zisserman 2014, Sec. 3.1, 4) stack dense flow as input to the temporal stream; the
paper computes it with Brox et al. 2004 and stores it as JPEG after rescaling to [0, 255]. Here:

- ``farneback``: OpenCV's Farneback 2003 polynomial-expansion flow (the seed's choice), with the parameters of the
  OpenCV reference example: pyramid scale 0.5, 3 levels, 15 px window, 3 iterations, poly_n 5, poly_sigma 1.2.
- ``tvl1``: Dual TV-L1 (Zach, Pock & Bischof 2007), the flow of the later two-stream work (TSN, I3D), through
  ``cv2.optflow`` of the opencv-contrib build, with OpenCV's default parameters; a build without the contrib module
  gives a clear error.

Flow is in pixels of the stored frames (after the short-side resize), x to the right and y down, such that
``next[y + fy, x + fx] ~ prev[y, x]``. It is stored clipped to +-20 px and mapped linearly to 0..255 (the bound of
the two-stream literature; 0 px -> 127.5, stored as 128): one quantization step is 40/255 ~ 0.16 px.
"""

import cv2
import numpy as np

try:
    from zoo.errors import ZooError
except ImportError:  # pipelines is usable on its own
    ZooError = ValueError

BOUND = 20.0
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
TVL1 = dict(tau=0.25, lambda_=0.15, theta=0.3, nscales=5, warps=5, epsilon=0.01)
ALGORITHMS = {"farneback": FARNEBACK, "tvl1": TVL1}


def check(algorithm):
    """Raise ZooError unless ``algorithm`` is known and this OpenCV build provides it."""
    if algorithm not in ALGORITHMS:
        raise ZooError(f"unknown flow algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if algorithm == "tvl1" and not hasattr(getattr(cv2, "optflow", None), "DualTVL1OpticalFlow_create"):
        raise ZooError(f"TV-L1 flow needs OpenCV's contrib module cv2.optflow, which this OpenCV {cv2.__version__} "
                       "build lacks: install opencv-contrib-python-headless instead of opencv-python-headless, "
                       "or use --flow farneback")


def video_flow(frames, algorithm, bgr=False):
    """float32 [T-1, H, W, 2] flow (x, y) in pixels between consecutive frames of uint8 RGB [T, H, W, 3] (BGR with
    ``bgr``), T >= 1."""
    check(algorithm)
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY) for f in frames]
    if algorithm == "farneback":
        pair = lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)
    else:
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(**TVL1)
        pair = lambda a, b: tvl1.calc(a, b, None)
    out = np.zeros((len(gray) - 1,) + gray[0].shape + (2,), np.float32)
    for t in range(len(gray) - 1):
        out[t] = pair(gray[t], gray[t + 1])
    return out


def quantize_flow(flow, bound=BOUND):
    """Flow in pixels -> uint8: clipped to [-bound, bound], mapped linearly to [0, 255] (rounded)."""
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))
    return np.round(scaled).astype(np.uint8)


def dequantize_flow(values, bound=BOUND):
    """uint8 (or float) stored flow -> float32 pixels; the inverse of ``quantize_flow`` up to half a step, 20/255 px."""
    return np.asarray(values, np.float32) * np.float32(2 * bound / 255.0) - np.float32(bound)
