"""Task families: images (embedded glyphs, real Omniglot), regression (sinusoids) and
optimizees for learned optimizers (quadratics, MLPs on 8x8 digits), label-offset episodes,
verification pairs and zero-shot tasks."""
from .digits import DigitsMLPSampler, MLPOptimizees
from .episodes import SPLITS, EpisodeSampler, ImageDataset, PooledSampler, ZeroShotSampler
from .glyphs import load_glyph_templates, load_glyphs
from .omniglot import load_omniglot
from .pairs import PairSampler, affine_distort
from .quadratics import Quadratics, QuadraticSampler
from .sequences import SequenceSampler, offset_labels, presentations
from .sinusoid import SinusoidSampler

__all__ = ["DigitsMLPSampler", "MLPOptimizees", "SPLITS", "EpisodeSampler", "ImageDataset",
           "PooledSampler", "ZeroShotSampler", "load_glyph_templates", "load_glyphs",
           "load_omniglot", "PairSampler", "affine_distort", "QuadraticSampler", "Quadratics",
           "SequenceSampler", "SinusoidSampler", "offset_labels", "presentations"]
