"""Baselines of chapter 01: nearest neighbour in pixel space, and a pre-trained classifier;
chapter 04's nearest neighbour over an episode seen one image at a time; and the cached
features of the pre-trained classifier, on which chapter 10's LEO decodes its classifiers.

Chapter: notebooks/01_what_is_meta_learning.ipynb   Equations: (3), (4) of the chapter
Both are baselines of Vinyals et al. (2016), table 1: "Pixels Cosine" and "Baseline
Classifier" (features of a classifier trained on all meta-train classes, then cosine
nearest neighbour; the paper's second row fine-tunes the classifier on the support set).
Variants here: `fine_tune=True` trains a new linear head on the support features instead.
Differs from the paper in: Conv4 instead of their deeper net.

These learners have no head of task size: they take `n_way` when built, and
`predict(task, n_way=...)` scores tasks of another way.
"""
import hashlib
import inspect
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

from .. import nets, train
from ..data import episodes
from ..data.episodes import ImageDataset, PooledSampler
from ..data.glyphs import cache_dir
from ..notebook import device, smoke_cap
from ..tasks import one_hot
from ..train import classification_metrics, meta_train
from ..validation import require

FEATURE_BATCH = 1000  # images per forward pass when computing cached features


def cosine_nearest_neighbour(support_features, support_labels, query_features, n_way):
    """Score of each query for each class: cosine similarity to its nearest support example.

    Returns (n_query, n_way); the predicted class is the argmax (eq. 3). Unlabelled support
    examples (label -1) take part in no class.
    """
    similarity = F.normalize(query_features, dim=-1) @ F.normalize(support_features, dim=-1).T
    member = one_hot(support_labels, n_way).bool()                      # (n_support, n_way)
    # below any cosine, so a class never takes its score from another class's images
    masked = similarity[:, :, None].masked_fill(~member, -2.0)  # (n_query, n_support, n_way)
    return masked.amax(1)


class PixelNN(nn.Module):
    """Nearest neighbour on raw pixels: nothing is learned, so it has only `predict`."""

    def __init__(self, n_way):
        super().__init__()
        self.n_way = n_way

    def predict(self, task, n_way=None):
        return cosine_nearest_neighbour(task.support.x.flatten(1), task.support.y,
                                        task.query.x.flatten(1), n_way or self.n_way)


class OnlinePixelNN(nn.Module):
    """Nearest neighbour on raw pixels along an episode (chapter 04): step t takes the label
    of the most similar earlier image. It cannot know a class it has not seen: a first
    presentation always gets the label of another class, except at step 1 (a guess)."""

    def __init__(self, n_way):
        super().__init__()
        self.n_way = n_way

    def predict(self, task):
        x, y = task.query.x.flatten(1), task.query.y
        scores = [x.new_zeros(self.n_way)]  # step 1: nothing seen yet
        for t in range(1, len(y)):
            scores.append(cosine_nearest_neighbour(x[:t], y[:t], x[t:t + 1], self.n_way)[0])
        return torch.stack(scores)  # (T, n_way)


class PretrainedClassifier(nn.Module):
    """A classifier trained on all meta-train classes at once; its features solve new tasks.

    `meta_loss` is ordinary cross-entropy over the query images of the batch (use it with a
    `PooledSampler`, whose labels are the dataset's class indices). `predict` classifies the
    query of a new `n_way`-way task from the body's features by cosine nearest neighbour,
    or with `fine_tune=True` by a new linear head fitted to the support features (eq. 4).
    """

    def __init__(self, net, n_way, fine_tune=False, fine_tune_steps=100, fine_tune_lr=0.5):
        super().__init__()
        require(n_way >= 2, "n_way", n_way, "use the number of classes of the new tasks (>= 2)")
        self.net, self.n_way, self.fine_tune = net, n_way, fine_tune
        self.fine_tune_steps, self.fine_tune_lr = fine_tune_steps, fine_tune_lr

    def meta_loss(self, batch):
        x, y = batch.query.x.flatten(0, 1), batch.query.y.flatten(0, 1)
        logits = self.net(x)
        return F.cross_entropy(logits, y), classification_metrics(logits, y)

    def predict(self, task, n_way=None):
        n_support, n_way = len(task.support.y), n_way or self.n_way
        features = self.net.features(torch.cat([task.support.x, task.query.x]))
        support, query = features[:n_support].detach(), features[n_support:].detach()
        if not self.fine_tune:
            return cosine_nearest_neighbour(support, task.support.y, query, n_way)
        head = self._fit_head(F.normalize(support, dim=-1), task.support.y, n_way)
        return head(F.normalize(query, dim=-1))

    def _fit_head(self, features, labels, n_way):
        head = nn.Linear(features.shape[-1], n_way).to(features.device)
        nn.init.zeros_(head.weight), nn.init.zeros_(head.bias)  # convex problem: start at 0
        optimizer = torch.optim.SGD(head.parameters(), lr=self.fine_tune_lr)
        with torch.enable_grad():
            for _ in range(self.fine_tune_steps):
                optimizer.zero_grad()
                F.cross_entropy(head(features), labels).backward()
                optimizer.step()
        return head


def pretrained_features(images, *, hidden=64, blocks=4, steps=1000, batch_size=128, lr=3e-3,
                        seed=0, progress=True):
    """The L2-normalised features of a `PretrainedClassifier` for every image of every split:
    {split: ImageDataset of vectors (n_classes, n_per_class, n_features)}, classes in order.

    The classifier is a Conv4 trained by `meta_train` on the classes of `images["meta_train"]`
    pooled (Rusu et al.'s features come from a WRN-28-10 trained as a classifier; their code
    normalises them too). A feature is the output of the first `blocks` conv blocks,
    flattened: `hidden` numbers after all 4, `9 * hidden` after 3 (a 3x3 map).
    Trained once, then read from `cache_dir()/features/<key>.pt`: the key hashes the
    images, every setting and the source code of the networks, the training loop, the
    samplers and this file, so a changed dataset or code trains again instead of reading
    stale features. A split's features are computed in equal chunks of about
    `FEATURE_BATCH` images mixed over its classes, so that BatchNorm's batch statistics are
    close to the whole split's and a feature does not depend on the task it lands in.
    """
    require("meta_train" in images, "images", sorted(images),
            "give a dict {split: ImageDataset} with a 'meta_train' split to train on")
    require(blocks in (1, 2, 3, 4), "blocks", blocks, "take the output of 1, 2, 3 or 4 blocks")
    settings = dict(hidden=hidden, blocks=blocks, steps=smoke_cap(steps),
                    batch_size=batch_size, lr=lr, seed=seed)
    key = _features_key(images, settings)
    path = cache_dir() / "features" / f"{key}.pt"
    if not path.exists():
        _save_atomically(path, {"key": key, **_train_features(images, settings, progress)})
    stored = torch.load(path, weights_only=True)
    require(stored["key"] == key, "cache file", str(path), "delete it: it is not the one named")
    return {split: ImageDataset(stored[split], data.classes, data.alphabets)
            for split, data in images.items()}


def _train_features(images, settings, progress):
    torch.manual_seed(settings["seed"])
    net = nets.Conv4(n_out=len(images["meta_train"]), hidden=settings["hidden"])
    classifier = PretrainedClassifier(net, n_way=2).to(device())
    pooled = PooledSampler(images["meta_train"], settings["batch_size"], seed=settings["seed"])
    meta_train(classifier, pooled, steps=settings["steps"], meta_batch_size=1,
               lr=settings["lr"], progress=progress)
    body = nn.Sequential(*net.body[:settings["blocks"]], nn.Flatten())
    with torch.no_grad():
        return {split: _features_of(body, data.images, settings["seed"])
                for split, data in images.items()}


def _features_of(body, images, seed):
    flat = images.flatten(0, 1)                                     # (n_images, 1, H, W)
    order = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))
    chunks = order.tensor_split(-(-len(flat) // FEATURE_BATCH))
    features = torch.cat([body(flat[chunk].to(device())).cpu() for chunk in chunks])
    features = features[order.argsort()]                            # the images' order again
    return F.normalize(features, dim=-1).reshape(*images.shape[:2], -1)


def _features_key(images, settings):
    digest = hashlib.sha256(f"{sorted(settings.items())} torch {torch.__version__}".encode())
    for module in (nets, train, episodes, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    for split in sorted(images):
        digest.update(split.encode() + images[split].images.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def _save_atomically(path, tensors):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial-{os.getpid()}")
    torch.save(tensors, partial)
    os.replace(partial, path)
