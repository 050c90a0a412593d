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
    assert task.support.x.shape == (16, 1, 28, 28) and task.support.y.max() < 12
    for x, y in zip(task.support.x, task.support.y):
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
