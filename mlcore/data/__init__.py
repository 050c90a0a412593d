"""Task families: images (embedded glyphs, real Omniglot, clusters of unequal sizes),
regression (sinusoids; sinusoids or lines), optimizees for learned optimizers (quadratics,
MLPs on 8x8 digits), label-offset episodes, verification pairs, zero-shot tasks,
non-mutually-exclusive episodes, pose regression on glyphs and mixtures of task families."""
from .ambiguous import SineOrLineSampler, family_function
from .digits import DigitsMLPSampler, MLPOptimizees
from .episodes import (
                       SPLITS,
                       ClusteredImages,
                       EpisodeSampler,
                       ImageDataset,
                       PooledSampler,
                       WithinAlphabetSampler,
                       ZeroShotSampler,
)
from .glyphs import cache_dir, load_glyph_templates, load_glyphs
from .images import DATASETS, describe_images, load_images, omniglot_root
from .mixture import MixtureSampler
from .non_exclusive import NonMutuallyExclusiveSampler
from .omniglot import load_omniglot, omniglot_protocol, split_omniglot
from .pairs import PairSampler, affine_distort
from .pose import PoseSampler, rotate
from .quadratics import Quadratics, QuadraticSampler
from .sequences import SequenceSampler, offset_labels, presentations
from .sinusoid import SinusoidSampler

__all__ = ["DigitsMLPSampler", "MLPOptimizees", "SPLITS", "ClusteredImages", "EpisodeSampler",
           "ImageDataset", "PooledSampler", "WithinAlphabetSampler", "ZeroShotSampler",
           "DATASETS", "describe_images", "load_images", "omniglot_root", "omniglot_protocol",
           "split_omniglot", "cache_dir", "load_glyph_templates",
           "load_glyphs", "MixtureSampler", "NonMutuallyExclusiveSampler", "load_omniglot",
           "PairSampler", "affine_distort", "PoseSampler", "rotate", "QuadraticSampler",
           "Quadratics", "SequenceSampler",
           "SinusoidSampler", "SineOrLineSampler", "family_function", "offset_labels",
           "presentations"]
