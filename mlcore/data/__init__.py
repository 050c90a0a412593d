"""Task families: images (embedded glyphs, real Omniglot), regression (sinusoids) and
optimizees for learned optimizers (quadratics)."""
from .episodes import SPLITS, EpisodeSampler, ImageDataset, PooledSampler
from .glyphs import load_glyphs
from .omniglot import load_omniglot
from .quadratics import Quadratics, QuadraticSampler
from .sinusoid import SinusoidSampler

__all__ = ["SPLITS", "EpisodeSampler", "ImageDataset", "PooledSampler", "load_glyphs",
           "load_omniglot", "QuadraticSampler", "Quadratics", "SinusoidSampler"]
