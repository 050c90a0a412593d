"""Every method of the book, one file per family, in the order the chapters teach them.

`ALL` lists the methods that are meta-trained (they have `meta_loss` and `predict`); the
tests run each of them through `meta_train`. `PixelNN` and `OnlinePixelNN` learn nothing
and have only `predict`.
"""
from .anil import ANIL
from .baselines import (
    OnlinePixelNN,
    PixelNN,
    PretrainedClassifier,
    cosine_nearest_neighbour,
    pretrained_features,
)
from .bmaml import BMAML, EMAML
from .cnp import CNP, MRCNP
from .leo import LEO
from .llama import LLAMA
from .maml import MAML, PretrainedRegressor
from .mann import MANN
from .matching_net import MatchingNetwork
from .meta_lstm import MetaLSTM
from .meta_sgd import MetaSGD
from .mr_maml import MRMAML, MRMAMLActivations
from .platipus import PLATIPUS
from .protonet import ProtoNet, ZeroShotProtoNet
from .reptile import Reptile
from .siamese import Siamese

ALL = (PretrainedClassifier, PretrainedRegressor, MAML, Reptile, MetaSGD, ANIL, MetaLSTM, MANN,
       Siamese, MatchingNetwork, ProtoNet, ZeroShotProtoNet, LLAMA, PLATIPUS,
       BMAML, EMAML, MRMAML, MRMAMLActivations, CNP, MRCNP, LEO)

__all__ = ["ALL", "OnlinePixelNN", "PixelNN", "PretrainedClassifier", "PretrainedRegressor",
           "cosine_nearest_neighbour", "pretrained_features", "MAML", "ANIL", "Reptile", "MetaSGD",
           "MetaLSTM", "MANN",
           "Siamese", "MatchingNetwork", "ProtoNet", "ZeroShotProtoNet", "LLAMA",
           "PLATIPUS", "BMAML", "EMAML", "MRMAML", "MRMAMLActivations", "CNP",
           "MRCNP", "LEO"]
