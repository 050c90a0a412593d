import pytest
import torch

import mlcore as ml


def test_conv4_shapes_and_head():
    net = ml.nets.Conv4(n_out=5)
    x = torch.rand(7, 1, 28, 28)
    assert net(x).shape == (7, 5) and net.features(x).shape == (7, 64)
    assert ml.nets.Conv4()(x).shape == (7, 64)


def test_conv4_batchnorm_keeps_no_running_statistics():
    net = ml.nets.Conv4(n_out=5)
    assert not any("running" in name for name, _ in net.named_buffers())
    x = torch.rand(6, 1, 28, 28)
    net.eval()
    evaluated = net(x)
    net.train()
    torch.testing.assert_close(net(x), evaluated)  # train and eval behave alike


def test_conv4_works_under_functional_call():
    net = ml.nets.Conv4(n_out=3, hidden=8)
    params = {k: v.detach() * 1.0 for k, v in net.named_parameters()}
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(torch.func.functional_call(net, params, (x,)), net(x))


def test_mlp_layout_and_error():
    net = ml.nets.MLP([1, 40, 40, 1])
    assert net(torch.zeros(5, 1)).shape == (5, 1)
    assert sum(isinstance(m, torch.nn.Linear) for m in net) == 3
    with pytest.raises(ValueError, match="sizes"):
        ml.nets.MLP([3])
