"""Task families: images (embedded glyphs, real Omniglot) and regression (sinusoids)."""
from .episodes import SPLITS, EpisodeSampler, ImageDataset, PooledSampler
from .glyphs import load_glyphs
from .omniglot import load_omniglot
from .sinusoid import SinusoidSampler

__all__ = ["SPLITS", "EpisodeSampler", "ImageDataset", "PooledSampler", "load_glyphs",
           "load_omniglot", "SinusoidSampler"]
