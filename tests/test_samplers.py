import copy
import math

import pytest
import torch

import mlcore as ml


def test_episode_shapes_and_labels(tiny_images):
    sampler = ml.data.EpisodeSampler(tiny_images, n_way=5, k_shot=2, k_query=3, seed=0)
    task = sampler.task()
    assert task.support.x.shape == (10, 1, 28, 28) and task.query.x.shape == (15, 1, 28, 28)
    assert sorted(task.support.y.tolist()) == sorted(list(range(5)) * 2)
    assert sorted(task.query.y.tolist()) == sorted(list(range(5)) * 3)
    batch = sampler.sample(4)
    assert batch.support.x.shape == (4, 10, 1, 28, 28) and batch.query.y.shape == (4, 15)


def test_support_and_query_never_share_an_image(tiny_images):
    sampler = ml.data.EpisodeSampler(tiny_images, n_way=5, k_shot=3, k_query=3, seed=1)
    for _ in range(20):
        task = sampler.task()
        support = {tuple(x.flatten()[:8].tolist()) for x in task.support.x}
        query = {tuple(x.flatten()[:8].tolist()) for x in task.query.x}
        assert not support & query and len(support) == 15 and len(query) == 15


def test_labels_are_in_random_class_order_and_match_the_images(tiny_images):
    sampler = ml.data.EpisodeSampler(tiny_images, n_way=3, k_shot=1, k_query=1, seed=2)
    orders = set()
    for _ in range(30):
        task, classes = sampler.task(return_classes=True)
        orders.add(tuple(classes.tolist()))
        for label, c in enumerate(classes):
            image = task.support.x[task.support.y == label][0]
            assert any(torch.equal(image, x) for x in tiny_images.images[c])
    assert len(orders) > 10


def test_same_seed_same_tasks(tiny_images):
    a = ml.data.EpisodeSampler(tiny_images, 5, 1, 2, seed=7).sample(3)
    b = ml.data.EpisodeSampler(tiny_images, 5, 1, 2, seed=7).sample(3)
    c = ml.data.EpisodeSampler(tiny_images, 5, 1, 2, seed=8).sample(3)
    assert torch.equal(a.support.x, b.support.x) and torch.equal(a.query.y, b.query.y)
    assert not torch.equal(a.support.x, c.support.x)


def test_sampler_does_not_touch_the_global_rng(tiny_images):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ml.data.EpisodeSampler(tiny_images, 5, 1, 2, seed=0).sample(2)
    ml.data.SinusoidSampler(5, 5, seed=0).sample(2)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(n_way=13, k_shot=1, k_query=1), "n_way=13"),
    (dict(n_way=1, k_shot=1, k_query=1), "n_way=1"),
    (dict(n_way=5, k_shot=0, k_query=1), "k_shot=0"),
    (dict(n_way=5, k_shot=1, k_query=0), "k_query=0"),
    (dict(n_way=5, k_shot=4, k_query=3), "k_shot \\+ k_query=7"),
])
def test_invalid_episode_arguments_name_the_argument_and_the_fix(tiny_images, kwargs, argument):
    with pytest.raises(ValueError, match=argument) as error:
        ml.data.EpisodeSampler(tiny_images, **kwargs)
    assert "use" in str(error.value) or "lower" in str(error.value)


def test_pooled_sampler_labels_are_dataset_classes(tiny_images):
    sampler = ml.data.PooledSampler(tiny_images, batch_size=16, seed=0)
    task = sampler.task()
    assert len(task.support.y) == 0  # nothing to adapt to: the batch is the query
    assert task.query.x.shape == (16, 1, 28, 28) and task.query.y.max() < 12
    for x, y in zip(task.query.x, task.query.y):
        assert any(torch.equal(x, image) for image in tiny_images.images[y])
    with pytest.raises(ValueError, match="batch_size=0"):
        ml.data.PooledSampler(tiny_images, batch_size=0)


def test_sinusoid_tasks_follow_their_parameters():
    sampler = ml.data.SinusoidSampler(k_shot=10, k_query=20, seed=0)
    batch, params = sampler.sample(8, return_params=True)
    assert batch.support.x.shape == (8, 10, 1) and batch.query.y.shape == (8, 20, 1)
    for task, p in zip(ml.tasks.unstack(batch), params):
        assert 0.1 <= p["amplitude"] <= 5.0 and 0 <= p["phase"] <= math.pi
        for split in task:
            assert split.x.abs().max() <= 5.0
            expected = p["amplitude"] * torch.sin(split.x - p["phase"])
            torch.testing.assert_close(split.y, expected)


def test_sinusoid_ranges_are_respected_and_validated():
    task, p = ml.data.SinusoidSampler(3, 3, amplitude=(1.0, 1.0), phase=(0.0, 0.0),
                                      x_range=(0.0, 1.0)).task(return_params=True)
    assert p == {"amplitude": 1.0, "phase": 0.0} and task.support.x.min() >= 0
    with pytest.raises(ValueError, match="amplitude"):
        ml.data.SinusoidSampler(5, 5, amplitude=(5.0, 0.1))
    with pytest.raises(ValueError, match="k_shot=0"):
        ml.data.SinusoidSampler(0, 5)


def every_sampler(images):
    templates = ml.data.ImageDataset(images.images[:, :1], images.classes, images.alphabets)
    episodes = ml.data.EpisodeSampler(images, 3, 1, 2, seed=1)
    return [episodes, ml.data.SinusoidSampler(3, 3, seed=1),
            ml.data.PooledSampler(images, 4, seed=1), ml.data.PairSampler(images, 4, seed=1),
            ml.data.SequenceSampler(images, 3, 2, seed=1),
            ml.data.ZeroShotSampler(images, templates, 3, 2, seed=1),
            ml.data.NonMutuallyExclusiveSampler(images, 3, 1, 2, seed=1),
            ml.data.MixtureSampler([episodes, ml.data.EpisodeSampler(images, 3, 1, 2, seed=2)],
                                   seed=1),
            ml.data.EpisodeSampler(clustered(images), 3, 1, 2, seed=1),
            ml.data.QuadraticSampler(3, seed=1), ml.data.DigitsMLPSampler(batch_size=4, seed=1),
            ml.data.WithinAlphabetSampler(images, 3, seed=1)]


def flat_tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for part in value for t in flat_tensors(part)]
    return []


@pytest.mark.parametrize("index", range(12))
def test_a_sampler_restored_from_its_state_draws_the_same_tasks(tiny_images, index):
    sampler = every_sampler(tiny_images)[index]
    sampler.sample(2)
    state = copy.deepcopy(sampler.state_dict())
    expected = sampler.sample(3)
    sampler.sample(2)  # move on, then go back
    sampler.load_state_dict(state)
    for a, b in zip(flat_tensors(sampler.sample(3)), flat_tensors(expected)):
        assert torch.equal(a, b)


def test_non_mutually_exclusive_tasks_give_each_class_one_label_for_ever(tiny_images):
    sampler = ml.data.NonMutuallyExclusiveSampler(tiny_images, 3, 1, 2, seed=0)
    label_of = {}
    for _ in range(30):
        task, classes = sampler.task(return_classes=True)
        assert len(set(classes.tolist())) == 3
        for label, c in enumerate(classes.tolist()):
            assert label_of.setdefault(c, label) == label  # never another label
            assert sampler.label_of(c) == label
        image = task.support.x[task.support.y == 1][0].flatten()
        assert (tiny_images.images[classes[1]].flatten(1) == image).all(1).any()
    assert len(label_of) == 12  # every class takes part


def test_mixture_sampler_draws_each_family_by_its_weight(tiny_images):
    easy = ml.data.SinusoidSampler(2, 2, seed=0, amplitude=(1.0, 1.0))
    hard = ml.data.SinusoidSampler(2, 2, seed=0, amplitude=(5.0, 5.0))
    mixture = ml.data.MixtureSampler([easy, hard], weights=[3, 1], seed=0)
    families = [mixture.task(return_params=True)[1]["family"] for _ in range(400)]
    assert 0.65 < families.count(0) / 400 < 0.85
    assert mixture.sample(5).query.x.shape == (5, 2, 1)
    with pytest.raises(ValueError, match="weights"):
        ml.data.MixtureSampler([easy, hard], weights=[1, -1])


def clustered(images):
    """The tiny images as clusters of unequal sizes: 9, 1, 4, ... images."""
    x = images.images.flatten(0, 1)  # (72, 1, 28, 28)
    labels = torch.tensor([0] * 9 + [1] + [2] * 4 + [3] * 6 + [4] * 52)
    return ml.data.ClusteredImages(x, labels)


def test_episodes_from_clusters_of_unequal_sizes_use_the_clusters_big_enough(tiny_images):
    data = clustered(tiny_images)
    assert data.class_sizes.tolist() == [9, 1, 4, 6, 52]
    sampler = ml.data.EpisodeSampler(data, 3, 2, 3, seed=0)  # needs 5 images: not cluster 1, 2
    seen = set()
    for _ in range(20):
        task, classes = sampler.task(return_classes=True)
        seen |= set(classes.tolist())
        for label, c in enumerate(classes.tolist()):
            members = data.images[data.labels == c].flatten(1)
            for image in task.support.x[task.support.y == label]:
                assert (members == image.flatten()).all(1).any()
    assert seen == {0, 3, 4}
    with pytest.raises(ValueError, match="n_way=4"):
        ml.data.EpisodeSampler(data, 4, 2, 3)


def test_unlabelled_support_examples_count_for_no_class():
    support = ml.Split(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [9.0, 9.0]]),
                       torch.tensor([0, 0, 1, ml.tasks.UNLABELLED]))
    query = ml.Split(torch.tensor([[9.0, 8.0]]), torch.tensor([1]))
    task = ml.tasks.check(ml.Task(support, query), n_way=2)  # -1 is allowed in the support
    centres = ml.methods.protonet.prototypes(support.x, support.y, 2)
    torch.testing.assert_close(centres, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))
    scores = ml.methods.cosine_nearest_neighbour(support.x, support.y, query.x, 2)
    assert scores.shape == (1, 2) and scores[0, 1] < 1  # the unlabelled twin is not used
    with pytest.raises(ValueError, match="task.query.y has labels -1"):
        ml.tasks.check(ml.Task(support, ml.Split(query.x, torch.tensor([-1]))), n_way=2)
    assert task is not None


def test_within_alphabet_tasks_take_one_alphabet_and_two_drawers(tiny_images):
    sampler = ml.data.WithinAlphabetSampler(tiny_images, n_way=3, seed=0)
    seen = set()
    for _ in range(20):
        task, classes = sampler.task(return_classes=True)
        assert len({tiny_images.alphabets[c] for c in classes}) == 1  # one alphabet
        assert torch.equal(task.support.y, torch.arange(3)) and torch.equal(task.query.y,
                                                                            torch.arange(3))
        drawers = [[next(j for j in range(6) if torch.equal(tiny_images.images[c, j], x))
                    for c, x in zip(classes, split.x)] for split in task]
        assert len(set(drawers[0])) == 1 and len(set(drawers[1])) == 1  # one drawer each
        assert drawers[0][0] != drawers[1][0]  # another drawer's drawing as the query
        seen.add(tuple(classes.tolist()))
    assert len(seen) > 5  # random characters, random label order


def test_within_alphabet_sampler_needs_an_alphabet_of_n_way_characters(tiny_images):
    with pytest.raises(ValueError, match="n_way=4.*largest has 3"):
        ml.data.WithinAlphabetSampler(tiny_images, n_way=4)
