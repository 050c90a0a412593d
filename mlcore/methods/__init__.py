"""Every method of the book, one file per family, in the order the chapters teach them.

`ALL` lists the methods that are meta-trained (they have `meta_loss` and `predict`); the
tests run each of them through `meta_train`. `PixelNN` learns nothing and has only `predict`.
"""
from .anil import ANIL
from .baselines import PixelNN, PretrainedClassifier, cosine_nearest_neighbour
from .maml import MAML, PretrainedRegressor
from .meta_lstm import MetaLSTM
from .meta_sgd import MetaSGD
from .reptile import Reptile

ALL = (PretrainedClassifier, PretrainedRegressor, MAML, Reptile, MetaSGD, ANIL, MetaLSTM)

__all__ = ["ALL", "PixelNN", "PretrainedClassifier", "PretrainedRegressor",
           "cosine_nearest_neighbour", "MAML", "ANIL", "Reptile", "MetaSGD", "MetaLSTM"]
