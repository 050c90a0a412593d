"""Task families: images (embedded glyphs, real Omniglot), regression (sinusoids) and
optimizees for learned optimizers (quadratics, MLPs on 8x8 digits), label-offset episodes."""
from .digits import DigitsMLPSampler, MLPOptimizees
from .episodes import SPLITS, EpisodeSampler, ImageDataset, PooledSampler
from .glyphs import load_glyphs
from .omniglot import load_omniglot
from .quadratics import Quadratics, QuadraticSampler
from .sequences import SequenceSampler, offset_labels, presentations
from .sinusoid import SinusoidSampler

__all__ = ["DigitsMLPSampler", "MLPOptimizees", "SPLITS", "EpisodeSampler", "ImageDataset",
           "PooledSampler", "load_glyphs", "load_omniglot", "QuadraticSampler", "Quadratics",
           "SequenceSampler", "SinusoidSampler", "offset_labels", "presentations"]
