"""Every meta-trained method: a smoke test, determinism, and no state kept between calls."""
import copy
from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
import torch.nn.functional as F

import mlcore as ml

N_WAY = 3


class Family(NamedTuple):
    """How the smoke tests build one method and the tasks it trains and predicts on."""

    make: Callable      # () -> a tiny method
    sampler: Callable   # (images, seed) -> the sampler it is meta-trained with
    task: Callable      # (images, seed) -> a task to `predict` on
    n_outputs: int = N_WAY


def episodes(images, seed):
    return ml.data.EpisodeSampler(images, N_WAY, k_shot=2, k_query=2, seed=seed)


def episode(images, seed):
    return episodes(images, seed).task()


def conv(n_out=None):
    return ml.nets.Conv4(n_out=n_out, hidden=8)


def optimization_based(method_class, **kwargs):
    return Family(lambda: method_class(conv(N_WAY), F.cross_entropy, alpha=0.4, **kwargs),
                  episodes, episode)


def one_sine(images, seed):  # one fixed sine: a network fitted to all tasks can learn it
    return ml.data.SinusoidSampler(k_shot=5, k_query=5, seed=seed, amplitude=(2.0, 2.0),
                                   phase=(0.0, 0.0))


def particles_on_sines(method_class, **kwargs):  # M networks: small ones keep the test fast
    return Family(lambda: method_class(ml.nets.MLP([1, 32, 1]), F.mse_loss, n_particles=3,
                                       **kwargs),
                  one_sine, lambda images, seed: one_sine(images, seed).task(), n_outputs=1)


def coded():  # a Conv4 body of 8 outputs: the means and raw scales of a 4-unit code
    net = conv()
    net.head = torch.nn.Linear(4, N_WAY)
    return net


def neural_process(method_class, **kwargs):  # an MLP encoder of x, on one fixed sine
    return Family(lambda: method_class(ml.nets.MLP([1, 32, 32]), 32, F.mse_loss, hidden=32,
                                       n_r=32, **kwargs),
                  one_sine, lambda images, seed: one_sine(images, seed).task(), n_outputs=1)


def sequences(images, seed):
    return ml.data.SequenceSampler(images, N_WAY, n_instances=4, seed=seed)


def templates(images):
    """One "template" per class of the tiny dataset: its first image."""
    return ml.data.ImageDataset(images.images[:, :1], images.classes, images.alphabets)


def zero_shot(images, seed):
    return ml.data.ZeroShotSampler(images, templates(images), N_WAY, k_query=2, seed=seed)


# One entry per method of ml.methods.ALL: adding a family is adding a line here.
FAMILIES = {
    ml.methods.PretrainedClassifier: Family(
        lambda: ml.methods.PretrainedClassifier(conv(12), N_WAY),
        lambda images, seed: ml.data.PooledSampler(images, batch_size=8, seed=seed), episode),
    ml.methods.PretrainedRegressor: Family(
        lambda: ml.methods.PretrainedRegressor(ml.nets.MLP([1, 16, 1]), alpha=0.01),
        one_sine, lambda images, seed: one_sine(images, seed).task(), n_outputs=1),
    ml.methods.MAML: optimization_based(ml.methods.MAML),
    ml.methods.Reptile: optimization_based(ml.methods.Reptile, inner_steps=3),
    ml.methods.MetaSGD: optimization_based(ml.methods.MetaSGD),
    ml.methods.ANIL: optimization_based(ml.methods.ANIL),
    ml.methods.LLAMA: optimization_based(ml.methods.LLAMA, eta=0.1),
    ml.methods.PLATIPUS: optimization_based(ml.methods.PLATIPUS, kl_weight=1e-3),
    ml.methods.BMAML: particles_on_sines(ml.methods.BMAML, step_size=1e-3),
    ml.methods.EMAML: particles_on_sines(ml.methods.EMAML, alpha=0.01),
    ml.methods.MRMAML: optimization_based(ml.methods.MRMAML, beta=1e-3, init_log_std=-3.0),
    ml.methods.MRMAMLActivations: Family(
        lambda: ml.methods.MRMAMLActivations(coded(), F.cross_entropy, alpha=0.4, beta=1e-3),
        episodes, episode),
    ml.methods.CNP: neural_process(ml.methods.CNP),
    ml.methods.MRCNP: neural_process(ml.methods.MRCNP, beta=1e-4, init_log_std=-5.0),
    ml.methods.LEO: Family(
        lambda: ml.methods.LEO(28 * 28, N_WAY, n_latent=8, latent_steps=2, finetune_steps=1),
        episodes, episode),
    ml.methods.MetaLSTM: Family(
        lambda: ml.methods.MetaLSTM(conv(N_WAY), F.cross_entropy, inner_steps=3),
        episodes, episode),
    ml.methods.MANN: Family(
        lambda: ml.methods.MANN(N_WAY, hidden=16, n_slots=8, width=5, n_reads=2),
        sequences, lambda images, seed: sequences(images, seed).task()),
    ml.methods.Siamese: Family(
        lambda: ml.methods.Siamese(conv(), N_WAY),
        lambda images, seed: ml.data.PairSampler(images, n_pairs=8, seed=seed), episode),
    ml.methods.MatchingNetwork: Family(
        lambda: ml.methods.MatchingNetwork(conv(), N_WAY, fce=True, attention_steps=2),
        episodes, episode),
    ml.methods.ProtoNet: Family(lambda: ml.methods.ProtoNet(conv(), N_WAY), episodes, episode),
    ml.methods.ZeroShotProtoNet: Family(
        lambda: ml.methods.ZeroShotProtoNet(conv(), conv(), N_WAY),
        zero_shot, lambda images, seed: zero_shot(images, seed).task()),
}


def test_every_method_has_a_tiny_constructor_here():
    assert set(ml.methods.ALL) == set(FAMILIES)


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_meta_training_lowers_a_finite_loss(method_class, tiny_images):
    torch.manual_seed(0)
    family = FAMILIES[method_class]
    method = family.make()
    history = ml.meta_train(method, family.sampler(tiny_images, 0), steps=30, meta_batch_size=4,
                            lr=3e-3, progress=False)
    assert history["loss"].notna().all() and torch.isfinite(torch.tensor(history["loss"])).all()
    assert history["loss"][-5:].mean() < history["loss"][:5].mean()
    task = family.task(tiny_images, 1)
    assert method.predict(task).shape == (len(task.query.y), family.n_outputs)


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_same_seed_same_numbers(method_class, tiny_images):
    family, results = FAMILIES[method_class], []
    for _ in range(2):
        torch.manual_seed(0)
        method = family.make()
        history = ml.meta_train(method, family.sampler(tiny_images, 0), steps=3,
                                meta_batch_size=2, lr=1e-3, progress=False)
        results.append((history["loss"].tolist(), method.predict(family.task(tiny_images, 0))))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])


@pytest.mark.parametrize("method_class", ml.methods.ALL, ids=lambda c: c.__name__)
def test_meta_loss_and_predict_mutate_nothing(method_class, tiny_images):
    torch.manual_seed(0)
    family = FAMILIES[method_class]
    method = family.make()
    before = copy.deepcopy(method.state_dict())
    method.meta_loss(family.sampler(tiny_images, 0).sample(2))
    method.predict(family.task(tiny_images, 0))
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
    task = episode(tiny_images, 0)
    task = ml.Task(task.support, task.support)
    assert ml.train.default_score(ml.methods.PixelNN(N_WAY).predict(task), task) == 100.0


def test_fine_tuned_head_and_bad_n_way(tiny_images):
    method = ml.methods.PretrainedClassifier(conv(12), N_WAY, fine_tune=True)
    task = episode(tiny_images, 0)
    assert method.predict(task).shape == (len(task.query.y), N_WAY)
    with pytest.raises(ValueError, match="n_way=1"):
        ml.methods.PretrainedClassifier(ml.nets.Conv4(), n_way=1)


def test_head_free_learners_score_tasks_of_another_way(tiny_images):
    task = ml.data.EpisodeSampler(tiny_images, 5, k_shot=1, k_query=1, seed=0).task()
    for learner in (ml.methods.PixelNN(N_WAY), ml.methods.ProtoNet(conv(), N_WAY),
                    ml.methods.MatchingNetwork(conv(), N_WAY), ml.methods.Siamese(conv(), N_WAY)):
        assert learner.predict(task, n_way=5).shape == (5, 5), type(learner).__name__
