"""Hidden tests of assignment 01 (what is meta-learning): each function fails with an
AssertionError that says what is wrong."""
import math

import torch
from grading import own_work

import mlcore as ml

FORBIDDEN = ["mlcore.data.episodes", "mlcore.methods", "mlcore.train"]


def _dataset(n_classes=12, n_images=6, seed=0):
    images = torch.rand(n_classes, n_images, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    return ml.data.ImageDataset(images, tuple(f"c{i}" for i in range(n_classes)),
                                tuple(f"a{i % 4}" for i in range(n_classes)))


def _where(dataset, images):
    """(class, instance) of each image, found by equality in the dataset."""
    flat = dataset.images.flatten(2)                           # (classes, instances, pixels)
    spots = [(flat == x.flatten()).all(-1).nonzero()[0].tolist() for x in images]
    return [tuple(s) for s in spots]


def split_keeps_alphabets_apart(split_by_alphabet):
    own_work(split_by_alphabet, FORBIDDEN)
    alphabets = [f"a{i % 7}" for i in range(40)]
    train, test = split_by_alphabet(alphabets, 2, torch.Generator().manual_seed(0))
    assert sorted(list(train) + list(test)) == list(range(40)), "every class in exactly one split"
    test_alphabets = {alphabets[i] for i in test}
    assert len(test_alphabets) == 2, "the test split holds the classes of n_test alphabets"
    assert not test_alphabets & {alphabets[i] for i in train}, "no alphabet in both splits"
    others = [split_by_alphabet(alphabets, 2, torch.Generator().manual_seed(s))[1]
              for s in range(1, 6)]
    assert any(sorted(o) != sorted(test) for o in others), \
        "the generator should decide which alphabets are held out"


def episode_follows_the_protocol(sample_episode):
    own_work(sample_episode, FORBIDDEN)
    dataset = _dataset()
    for seed in range(3):
        task = sample_episode(dataset, 4, 2, 3, torch.Generator().manual_seed(seed))
        assert task.support.x.shape == (8, 1, 8, 8) and task.query.x.shape == (12, 1, 8, 8)
        for split, per_class in ((task.support, 2), (task.query, 3)):
            counts = torch.bincount(split.y, minlength=4)
            assert counts.tolist() == [per_class] * 4, "labels 0..n_way-1, k of each"
        spots = {split: _where(dataset, s.x) for split, s in (("s", task.support),
                                                               ("q", task.query))}
        labels = {"s": task.support.y.tolist(), "q": task.query.y.tolist()}
        classes = {}
        for split in "sq":
            for (c, _), label in zip(spots[split], labels[split]):
                assert classes.setdefault(label, c) == c, "one dataset class per label"
        assert len(set(classes.values())) == 4, "n_way different classes"
        assert not set(spots["s"]) & set(spots["q"]), "no image in both support and query"
        assert len(set(spots["s"] + spots["q"])) == 20, "no image twice in an episode"


def episode_uses_the_generator(sample_episode):
    own_work(sample_episode, FORBIDDEN)
    dataset = _dataset()
    one, two = (sample_episode(dataset, 4, 1, 1, torch.Generator().manual_seed(s))
                for s in (0, 0))
    assert torch.equal(one.support.x, two.support.x), "same seed, same episode"
    differ = [not torch.equal(one.query.x, sample_episode(
        dataset, 4, 1, 1, torch.Generator().manual_seed(s)).query.x) for s in range(1, 6)]
    assert any(differ), "another seed gives another episode"


def interval_is_1_96_standard_errors(ci95):
    own_work(ci95, FORBIDDEN)
    scores = torch.rand(50, generator=torch.Generator().manual_seed(3)) * 100
    expected = 1.96 * scores.std().item() / math.sqrt(50)
    assert abs(float(ci95(scores)) - expected) < 1e-4, "1.96 x sample std / sqrt(n)"


def nearest_neighbour_matches_pixelnn(pixel_nearest_neighbour):
    own_work(pixel_nearest_neighbour, FORBIDDEN)
    task = ml.data.EpisodeSampler(_dataset(seed=4), 5, 2, 3, seed=0).task()
    expected = ml.methods.PixelNN(5).predict(task).argmax(1)
    assert torch.equal(torch.as_tensor(pixel_nearest_neighbour(task)), expected), \
        "the label of the support image with the highest cosine similarity"
