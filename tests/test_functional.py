"""The shared machinery: mapping over the tasks of a batch, and the inner loop."""
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

import mlcore as ml


def regression_batch(n_tasks=3):
    return ml.data.SinusoidSampler(4, 6, seed=0).sample(n_tasks)


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "vmap"])
def test_per_task_stacks_tensors_tuples_and_dicts_and_shares_arguments(batched):
    batch, scale = regression_batch(), torch.tensor(2.0)

    def summary(task, factor):
        mean = task.query.y.mean() * factor
        return mean, {"first": task.support.x[0, 0], "twice": mean * 2}

    means, parts = ml.per_task(summary, batch, scale, batched=batched)
    torch.testing.assert_close(means, batch.query.y.mean((1, 2)) * 2)
    torch.testing.assert_close(parts["first"], batch.support.x[:, 0, 0])
    torch.testing.assert_close(parts["twice"], means * 2)


def test_per_task_draws_different_random_numbers_for_each_task_under_vmap():
    noise = ml.per_task(lambda task: torch.rand(()) + 0 * task.query.y.sum(), regression_batch(),
                        batched=True)
    assert len(set(noise.tolist())) == 3
    with pytest.raises(RuntimeError):  # torch refuses random draws under vmap without it
        ml.per_task(lambda task: torch.rand(()) + 0 * task.query.y.sum(), regression_batch(),
                    batched=True, randomness="error")


def linear_loss(params, x, y):
    return F.mse_loss(x @ params["w"] + params["b"], y)


def test_gradient_steps_with_a_number_and_with_a_dict_of_step_sizes():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)
    params = {"w": torch.randn(3, 1, generator=g, requires_grad=True),
              "b": torch.zeros(1, requires_grad=True)}
    alphas = {"w": torch.tensor([[0.1], [0.2], [0.3]]), "b": torch.tensor(0.05)}
    phi, by_hand = ml.gradient_steps(lambda p: linear_loss(p, x, y), params, alphas, 2), params
    for _ in range(2):  # the textbook loop
        grads = torch.autograd.grad(linear_loss(by_hand, x, y), list(by_hand.values()),
                                    create_graph=True)
        by_hand = {n: p - alphas[n] * g for (n, p), g in zip(by_hand.items(), grads)}
    torch.testing.assert_close(phi, by_hand)
    scalar = ml.gradient_steps(lambda p: linear_loss(p, x, y), params, 0.1)
    grads = torch.autograd.grad(linear_loss(params, x, y), list(params.values()))
    torch.testing.assert_close(scalar, {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)})


def test_first_order_steps_have_identity_jacobian_and_no_grad_steps_no_graph():
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    params = {"w": torch.randn(3, 1, requires_grad=True), "b": torch.zeros(1, requires_grad=True)}
    phi = ml.gradient_steps(lambda p: linear_loss(p, x, y), params, 0.1, first_order=True)
    (jacobian_row,) = torch.autograd.grad(phi["w"][0, 0], params["w"])
    torch.testing.assert_close(jacobian_row, torch.tensor([[1.0], [0.0], [0.0]]))
    with torch.no_grad():
        phi = ml.gradient_steps(lambda p: linear_loss(p, x, y), params, 0.1, steps=3)
    assert not phi["w"].requires_grad and not torch.equal(phi["w"], params["w"])


def test_inner_loop_under_vmap_equals_the_loop():
    net, batch = ml.nets.MLP([1, 8, 1]), regression_batch()

    def adapted_query_loss(task, theta):
        def support_loss(phi):
            return F.mse_loss(functional_call(net, phi, (task.support.x,)), task.support.y)
        phi = ml.gradient_steps(support_loss, theta, 0.05, steps=2)
        return F.mse_loss(functional_call(net, phi, (task.query.x,)), task.query.y)

    theta = dict(net.named_parameters())
    losses = [ml.per_task(adapted_query_loss, batch, theta, batched=b) for b in (False, True)]
    torch.testing.assert_close(losses[0], losses[1])
    grads = [torch.autograd.grad(loss.mean(), list(theta.values())) for loss in losses]
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("make", [
    lambda: ml.methods.ProtoNet(ml.nets.Conv4(hidden=4), 3),
    lambda: ml.methods.MatchingNetwork(ml.nets.Conv4(hidden=4), 3),
], ids=["ProtoNet", "MatchingNetwork"])
def test_metric_learners_meta_loss_is_the_same_vmapped(make, tiny_images):
    torch.manual_seed(0)
    learner = make()
    batch = ml.data.EpisodeSampler(tiny_images, 3, 2, 2, seed=0).sample(3)
    looped = ml.train.query_loss(learner.predict, batch, batched=False)[0]
    vmapped = ml.train.query_loss(learner.predict, batch, batched=True)[0]
    torch.testing.assert_close(looped, vmapped)
