"""Video models: one file per paper. Importing this package registers them."""

from zoo.video import c3d, fusion, ji3d, two_stream  # noqa: F401
from zoo.video import baccouche, lrcn, rcn, snippets  # noqa: F401
