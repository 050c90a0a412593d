"""LEO (mlcore/methods/leo.py): the relation average, the decoder's samples, one latent step
by hand, the orthogonality penalty, and the meta-gradient against finite differences."""
import pytest
import torch
import torch.nn.functional as F

import mlcore as ml
from mlcore.methods.leo import orthogonality_penalty

N, K, D, LATENT = 3, 2, 6, 4


def tiny_task(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(N).repeat_interleave(K)
    support = ml.Split(torch.randn(N * K, D, generator=g, dtype=dtype), labels)
    query = ml.Split(torch.randn(N * K, D, generator=g, dtype=dtype), labels)
    return ml.Task(support, query)


def tiny_leo(**kwargs):
    torch.manual_seed(0)
    options = dict(n_latent=LATENT, dropout=0.0) | kwargs
    return ml.methods.LEO(D, N, **options)


def test_the_relation_average_is_the_triple_sum_of_eq_3():
    leo, task = tiny_leo().eval(), tiny_task()
    mean, std = leo.encode(leo.theta(), task.support)
    with torch.no_grad():
        codes = leo.encoder(task.support.x)
        by_class = [codes[task.support.y == n] for n in range(N)]
        total = torch.zeros(N, 2 * LATENT)
        for n in range(N):
            for own in by_class[n]:
                for m in range(N):
                    for other in by_class[m]:
                        total[n] += leo.relation(torch.cat([own, other]))
        brute = total / (N * K ** 2)
    torch.testing.assert_close(mean, brute[:, :LATENT])
    torch.testing.assert_close(std, F.softplus(brute[:, LATENT:]))


def test_sampled_class_weights_have_the_decoders_mean_and_std():
    leo = tiny_leo().train()
    z = torch.randn(N, LATENT)
    mean, std = leo.decode(leo.theta(), z)
    torch.manual_seed(1)
    samples = torch.stack([leo._sample(mean, std) for _ in range(20000)]).detach()
    spread = std.max().item() / 100                                     # std / sqrt(20000) < this
    torch.testing.assert_close(samples.mean(0), mean.detach(), atol=4 * spread, rtol=0)
    torch.testing.assert_close(samples.std(0), std.detach(), rtol=0.05, atol=0)
    torch.testing.assert_close(leo.eval()._sample(mean, std), mean)


def test_one_latent_step_matches_the_gradient_written_out():
    leo, task = tiny_leo(latent_steps=1, finetune_steps=0).eval(), tiny_task()
    adapted = leo.adapt(leo.theta(), task.support)
    with torch.no_grad():
        decoder_mean = leo.decoder.weight[:D]                           # w = z @ decoder_mean.T
        w = adapted["z"] @ decoder_mean.T
        probabilities = (task.support.x @ w.T).softmax(-1)
        dloss_dw = (probabilities - F.one_hot(task.support.y, N)).T @ task.support.x  # (N, D)
        by_hand = adapted["z"] - leo.latent_lr * (dloss_dw @ decoder_mean)
    torch.testing.assert_close(adapted["z_adapted"].detach(), by_hand)


def test_the_orthogonality_penalty_is_zero_for_orthonormal_latent_directions():
    q, _ = torch.linalg.qr(torch.randn(2 * D, LATENT))                  # orthonormal columns
    assert orthogonality_penalty(q) < 1e-10
    assert orthogonality_penalty(3.0 * q) < 1e-10                       # cosines ignore length
    assert orthogonality_penalty(torch.randn(2 * D, LATENT)) > 1e-3


def test_the_meta_gradient_matches_finite_differences():
    # gamma = 0: the gamma term's stopgrad(z') makes its gradient differ from the loss's slope
    leo = tiny_leo(latent_steps=2, finetune_steps=1, beta=0.1, gamma=0.0, l2=0.01,
                   orthogonality=0.1).double().train()
    batch = ml.tasks.stack([tiny_task(seed, torch.float64) for seed in range(2)])
    leo.batched = False

    def loss():
        torch.manual_seed(0)                                            # the same noise each time
        return leo.meta_loss(batch)[0]

    weight = leo.encoder.weight
    analytic, = torch.autograd.grad(loss(), weight)
    direction = torch.randn_like(weight)
    eps = 1e-6
    with torch.no_grad():
        weight += eps * direction
        up = loss()
        weight -= 2 * eps * direction
        down = loss()
        weight += eps * direction
    numeric = (up - down) / (2 * eps)
    torch.testing.assert_close((analytic * direction).sum(), numeric, rtol=1e-5, atol=1e-8)


def test_leo_rejects_bad_settings_with_the_argument_named():
    with pytest.raises(ValueError, match="dropout"):
        ml.methods.LEO(D, N, dropout=1.0)
    with pytest.raises(ValueError, match="latent_steps"):
        ml.methods.LEO(D, N, latent_steps=-1)
