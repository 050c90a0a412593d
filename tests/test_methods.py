"""Every meta-trained method: a smoke test, determinism, and no state kept between calls."""
import copy

import pytest
import torch
import torch.nn.functional as F

import mlcore as ml

N_WAY = 3


def tiny_pretrained_classifier():
    return ml.methods.PretrainedClassifier(ml.nets.Conv4(n_out=12, hidden=8))


def tiny_optimization_based(method_class, **kwargs):
    return lambda: method_class(ml.nets.Conv4(n_out=N_WAY, hidden=8), F.cross_entropy,
                                alpha=0.4, **kwargs)


def tiny_pretrained_regressor():
    return ml.methods.PretrainedRegressor(ml.nets.MLP([1, 16, 1]), alpha=0.01)


# One tiny constructor per method of ml.methods.ALL.
TINY = {ml.methods.PretrainedClassifier: tiny_pretrained_classifier,
        ml.methods.PretrainedRegressor: tiny_pretrained_regressor,
        ml.methods.MAML: tiny_optimization_based(ml.methods.MAML),
        ml.methods.Reptile: tiny_optimization_based(ml.methods.Reptile, steps=3),
        ml.methods.MetaSGD: tiny_optimization_based(ml.methods.MetaSGD),
        ml.methods.ANIL: tiny_optimization_based(ml.methods.ANIL),
        ml.methods.MetaLSTM: lambda: ml.methods.MetaLSTM(ml.nets.Conv4(n_out=N_WAY, hidden=8),
                                                         F.cross_entropy, steps=3),
        ml.methods.MANN: lambda: ml.methods.MANN(N_WAY, hidden=16, n_slots=8, width=5, n_reads=2),
        ml.methods.Siamese: lambda: ml.methods.Siamese(ml.nets.Conv4(hidden=8)),
        ml.methods.MatchingNetwork: lambda: ml.methods.MatchingNetwork(ml.nets.Conv4(hidden=8),
                                                                       fce=True, steps=2),
        ml.methods.ProtoNet: lambda: ml.methods.ProtoNet(ml.nets.Conv4(hidden=8)),
        ml.methods.ZeroShotProtoNet: lambda: ml.methods.ZeroShotProtoNet(
            ml.nets.Conv4(hidden=8), ml.nets.Conv4(hidden=8))}


REGRESSION = {ml.methods.PretrainedRegressor}  # these learn sinusoids; the others classify
SEQUENCES = {ml.methods.MANN}  # these read an episode one image at a time
PAIRS = {ml.methods.Siamese}  # these train on verification pairs, predict on N-way tasks
ZERO_SHOT = {ml.methods.ZeroShotProtoNet}  # these get class meta-data instead of a support set


def tiny_meta_data(images):
    """One "template" per class of the tiny dataset: its first image."""
    return ml.data.ImageDataset(images.images[:, :1], images.classes, images.alphabets)


def tiny_sampler(images, seed=0, method_class=None):
    if method_class in REGRESSION:
        # one fixed sine, so that a network fitted to all tasks jointly can lower its loss
        return ml.data.SinusoidSampler(k_shot=5, k_query=5, seed=seed, amplitude=(2.0, 2.0),
                                       phase=(0.0, 0.0))
    if method_class in SEQUENCES:
        return ml.data.SequenceSampler(images, N_WAY, n_instances=4, seed=seed)
    if method_class in PAIRS:
        return ml.data.PairSampler(images, n_pairs=8, seed=seed)
    if method_class in ZERO_SHOT:
        return ml.data.ZeroShotSampler(images, tiny_meta_data(images), N_WAY, k_query=2,
                                       seed=seed)
    return ml.data.EpisodeSampler(images, N_WAY, k_shot=2, k_query=2, seed=seed)


def tiny_task(images, seed=0, method_class=None):
    """A task to `predict` on: an N-way task, also for methods trained on pairs."""
    if method_class in PAIRS:
        return ml.data.EpisodeSampler(images, N_WAY, k_shot=2, k_query=2, seed=seed).task()
    return tiny_sampler(images, seed, method_class).task()


def output_size(method_class):
    return 1 if method_class in REGRESSION else N_WAY


def test_every_method_has_a_tiny_constructor_here():
    assert set(ml.methods.ALL) == set(TINY)


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_meta_training_lowers_a_finite_loss(method_class, tiny_images):
    torch.manual_seed(0)
    method = TINY[method_class]()
    history = ml.meta_train(method, tiny_sampler(tiny_images, method_class=method_class),
                            steps=30, meta_batch_size=4, lr=3e-3, progress=False)
    assert history["loss"].notna().all() and torch.isfinite(torch.tensor(history["loss"])).all()
    assert history["loss"][-5:].mean() < history["loss"][:5].mean()
    task = tiny_task(tiny_images, seed=1, method_class=method_class)
    assert method.predict(task).shape == (len(task.query.y), output_size(method_class))


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_same_seed_same_numbers(method_class, tiny_images):
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        method = TINY[method_class]()
        sampler = tiny_sampler(tiny_images, method_class=method_class)
        history = ml.meta_train(method, sampler, steps=3, meta_batch_size=2, lr=1e-3,
                                progress=False)
        task = tiny_task(tiny_images, method_class=method_class)
        results.append((history["loss"].tolist(), method.predict(task)))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_meta_loss_and_predict_mutate_nothing(method_class, tiny_images):
    torch.manual_seed(0)
    method = TINY[method_class]()
    before = copy.deepcopy(method.state_dict())
    batch = tiny_sampler(tiny_images, method_class=method_class).sample(2)
    method.meta_loss(batch)
    method.predict(tiny_task(tiny_images, method_class=method_class))
    for name, value in method.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_cosine_nearest_neighbour_picks_the_most_similar_support_example():
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[2.0, 0.1], [0.9, 1.0]])
    scores = ml.methods.cosine_nearest_neighbour(support, labels, query, n_way=2)
    assert scores.argmax(1).tolist() == [0, 1]
    expected = F.cosine_similarity(query[1], support[2], dim=0)
    torch.testing.assert_close(scores[1, 1], expected)


def test_pixel_nn_is_perfect_when_the_query_repeats_the_support(tiny_images):
    task = tiny_sampler(tiny_images).task()
    task = ml.Task(task.support, task.support)
    assert ml.train.score(ml.methods.PixelNN().predict(task), task.query.y) == 100.0


def test_fine_tuned_head_and_bad_adapt_argument(tiny_images):
    method = tiny_pretrained_classifier()
    method.adapt = "fine_tune"
    task = tiny_sampler(tiny_images).task()
    assert method.predict(task).shape == (len(task.query.y), N_WAY)
    with pytest.raises(ValueError, match="adapt='knn'"):
        ml.methods.PretrainedClassifier(ml.nets.Conv4(), adapt="knn")
