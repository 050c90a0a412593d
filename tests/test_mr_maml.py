"""Oracles for chapter 09's MR-MAML (W): beta = 0 and no noise is ANIL; the KL is closed form;
the noise and the KL reach the standard deviations."""
import torch
import torch.nn.functional as F
from torch import nn

import mlcore as ml
from mlcore.methods.platipus import gaussian_kl


class BodyHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Sequential(nn.Linear(1, 8), nn.ReLU()), nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.body(x))


def _pair(**kwargs):
    torch.manual_seed(0)
    mr = ml.methods.MRMAML(BodyHead(), F.mse_loss, 0.1, inner_steps=2, **kwargs)
    torch.manual_seed(0)
    return mr, ml.methods.ANIL(BodyHead(), F.mse_loss, 0.1, inner_steps=2)


def test_without_noise_and_beta_it_is_anil():
    mr, anil = _pair(beta=0.0, init_log_std=-30.0)
    batch = ml.data.SinusoidSampler(5, 5, seed=0).sample(3)
    torch.testing.assert_close(mr.meta_loss(batch)[0], anil.meta_loss(batch)[0])


def test_the_weight_kl_is_the_closed_form_and_enters_once_per_batch():
    mr, _ = _pair(beta=0.5, init_log_std=-1.0)
    body = dict(mr.net.body.named_parameters())
    expected = sum(gaussian_kl(p, torch.full_like(p, torch.e ** -1.0), torch.zeros_like(p),
                               torch.ones_like(p)) for p in body.values())
    torch.testing.assert_close(mr.weight_kl(), expected)
    by_hand = 0.5 * sum((0.5 * (torch.e ** -2.0 + p ** 2 - 1 + 2.0)).sum() for p in body.values())
    torch.testing.assert_close(0.5 * mr.weight_kl(), by_hand)


def test_gradients_reach_the_standard_deviations_and_sampling_repeats_with_the_seed():
    mr, _ = _pair(beta=1e-3, init_log_std=-2.0)
    batch = ml.data.SinusoidSampler(5, 5, seed=0).sample(2)
    torch.manual_seed(1)
    loss, _ = mr.meta_loss(batch)
    loss.backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in mr.log_std)
    torch.manual_seed(1)
    torch.testing.assert_close(mr.meta_loss(batch)[0], loss.detach())


def test_cnp_ignores_the_order_of_the_support_set_and_mr_cnp_without_noise_is_cnp():
    torch.manual_seed(0)
    cnp = ml.methods.CNP(ml.nets.MLP([1, 8, 4]), 4, F.mse_loss, hidden=8, n_r=4)
    task = ml.data.SinusoidSampler(6, 3, seed=0).task()
    shuffled = ml.Task(ml.Split(task.support.x.flip(0), task.support.y.flip(0)), task.query)
    torch.testing.assert_close(cnp.predict(task), cnp.predict(shuffled))
    torch.manual_seed(0)
    mr = ml.methods.MRCNP(ml.nets.MLP([1, 8, 4]), 4, F.mse_loss, beta=0.0, init_log_std=-30.0,
                          hidden=8, n_r=4)
    batch = ml.data.SinusoidSampler(6, 3, seed=1).sample(2)
    torch.testing.assert_close(mr.meta_loss(batch)[0], cnp.meta_loss(batch)[0])


def test_activation_codes_carry_their_closed_form_kl_and_predict_from_means():
    torch.manual_seed(0)
    net = BodyHead()
    net.head = nn.Linear(4, 1)                       # the body's 8 outputs: 4 means, 4 scales
    mr = ml.methods.MRMAMLActivations(net, F.mse_loss, 0.1, beta=0.5, inner_steps=2)
    x = torch.randn(6, 1)
    out = net.body(x)
    mean, std = out[:, :4], F.softplus(out[:, 4:])
    z, kl = mr.codes(mr.theta(), x, sample=False)
    torch.testing.assert_close(z, mean)
    by_hand = (0.5 * (std ** 2 + mean ** 2 - 1 - 2 * std.log())).sum() / 6
    torch.testing.assert_close(kl, by_hand)
    task = ml.data.SinusoidSampler(5, 5, seed=0).task()
    torch.testing.assert_close(mr.predict(task), mr.predict(task))   # no noise at test time
    loss, _ = mr.meta_loss(ml.tasks.stack([task]))
    loss.backward()
    assert all(p.grad is not None for p in net.body.parameters())
