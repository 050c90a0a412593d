"""Hidden tests of assignment 10 (LEO): each function fails with an AssertionError that says
what is wrong. The encoder is compared with mlcore's `LEO.encode` and the latent loop with
`LEO.adapt` (latent steps only, the means), values and meta-gradients, on random inputs."""
import torch
from grading import own_work

import mlcore as ml

FORBIDDEN = ["mlcore.methods", "mlcore.functional"]


def _leo(seed, n_features=6, n_way=3, n_latent=2):
    torch.manual_seed(seed)
    return ml.methods.LEO(n_features, n_way, n_latent=n_latent, finetune_steps=0).eval()


def _support(seed, n_way, k_shot, n_features=6):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_way).repeat(k_shot)[torch.randperm(n_way * k_shot, generator=g)]
    return ml.Split(torch.randn(n_way * k_shot, n_features, generator=g), labels)


def relation_matches(relation_encode):
    own_work(relation_encode, FORBIDDEN)
    for seed, k_shot in [(0, 1), (1, 3), (2, 2)]:
        leo, support = _leo(seed), _support(seed, 3, k_shot)
        expected = leo.encode(leo.theta(), support)
        mean, std = relation_encode(leo.encoder(support.x), support.y, 3, leo.relation)
        torch.testing.assert_close(mean, expected[0], msg=f"{k_shot}-shot, labels in any order: "
                                   "the mean over the class's K examples and all N K partners")
        torch.testing.assert_close(std, expected[1], msg="std = softplus of the last d numbers")
        grads = torch.autograd.grad(mean.sum() + std.sum(), list(leo.relation.parameters()),
                                    allow_unused=True)
        assert all(g is not None for g in grads), "the codes must be differentiable in g_r"


def latent_steps_match(latent_steps):
    own_work(latent_steps, FORBIDDEN)
    for seed, steps in [(0, 1), (1, 3)]:
        leo, support = _leo(seed, n_latent=3), _support(seed, 3, 2)
        leo.latent_steps = steps
        with torch.no_grad():
            leo.latent_lr.copy_(torch.tensor([0.3, 0.1, 0.7]))  # a step per latent dimension
        expected = leo.adapt(leo.theta(), support)["z_adapted"]
        z = leo.encode(leo.theta(), support)[0]
        got = latent_steps(z, _decoder_means(leo), support, leo.latent_lr, steps)
        torch.testing.assert_close(got, expected, msg=f"{steps} step(s) of z - alpha * grad, "
                                   "alpha per latent dimension, the support loss summed")
        wrt = [leo.latent_lr, leo.decoder.weight, leo.encoder.weight]
        want = torch.autograd.grad(expected.square().sum(), wrt)
        have = torch.autograd.grad(got.square().sum(), wrt, allow_unused=True)
        for name, g, w in zip(["step_sizes", "the decoder", "the encoder"], have, want):
            assert g is not None, f"the result must be differentiable in {name} (second order)"
            torch.testing.assert_close(g, w, msg=f"the meta-gradient for {name} (second order)")


def _decoder_means(leo):
    return lambda code: leo.decode(leo.theta(), code)[0]
